"""The errors juston raises.

Every error derives from :class:`JustonError`, so one ``except`` catches them all::

    JustonError
    ├── ValidationError (ValueError)       bad input: names the field and the value
    │   ├── FloatNotAllowed (TypeError)    a float where money or a quantity belongs
    │   ├── CurrencyMismatch               two currencies in one sum or one document
    │   ├── PricingError                   a price model cannot price a quantity
    │   ├── PaymentTermsError              a due-date pattern that does not parse
    │   └── InvalidVatId                   a VAT id that fails its country's check
    ├── TaxError                           no tax rule or rate applies to a line
    ├── StateError                         an operation not allowed in the current state
    │   ├── NotADraft                      editing or deleting a finalized document
    │   └── CannotCancel                   cancelling a draft or a cancellation
    ├── NotFound (LookupError)             an account, subscription or document is missing
    ├── StorageError                       a backend failed; the original is ``__cause__``
    ├── PluginError                        a plugin is missing or misbehaves
    └── RenderError                        a document could not be rendered
        ├── TemplateError                  a template is missing, broken or forbidden
        └── EInvoiceError                  a document breaks EN 16931 rules (``findings``)

Example::

    >>> from juston import money, JustonError
    >>> try:
    ...     money(1.5, "EUR")
    ... except JustonError as exc:
    ...     print(exc)
    amount: 1.5 is a float; pass a Decimal, int or str such as '1.50'
"""

from __future__ import annotations

__all__ = [
    "CannotCancel",
    "CurrencyMismatch",
    "EInvoiceError",
    "FloatNotAllowed",
    "InvalidVatId",
    "JustonError",
    "NotADraft",
    "NotFound",
    "PaymentTermsError",
    "PluginError",
    "PricingError",
    "RenderError",
    "StateError",
    "StorageError",
    "TaxError",
    "TemplateError",
    "ValidationError",
]


class JustonError(Exception):
    """Base of every error juston raises."""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take their own constructor arguments, so pickling (a parallel run's
        # workers report failures to the parent) restores the state instead of calling them.
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(
    cls: type[JustonError], args: tuple[object, ...], state: dict[str, object]
) -> JustonError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ValidationError(JustonError, ValueError):
    """A value is not acceptable; ``field`` and ``value`` say which and what.

    The message always starts with the field name, so it can be shown as is.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {value!r} {reason}")


class FloatNotAllowed(ValidationError, TypeError):
    """A float was given where money, a quantity or a rate belongs."""

    def __init__(
        self,
        field: str,
        value: float,  # float-ok: the rejected value
    ) -> None:  # float-ok: it reports the float it rejects
        super().__init__(field, value, "is a float; pass a Decimal, int or str such as '1.50'")

    def __str__(self) -> str:
        return f"{self.field}: {self.value} {self.reason}"


class CurrencyMismatch(ValidationError):
    """Two currencies meet in one sum, one price or one document."""


class PricingError(ValidationError):
    """A price model cannot price the quantity it was given."""


class PaymentTermsError(ValidationError):
    """A payment-terms pattern such as ``14d eom`` does not parse."""


class InvalidVatId(ValidationError):
    """A VAT identification number that fails its country's syntax or check digits."""


class TaxError(JustonError):
    """No tax rule or rate applies to a line (a gap in the rules or the rate data)."""


class StateError(JustonError):
    """The operation is not allowed in the document's current state."""


class NotADraft(StateError):
    """Only drafts may be changed or deleted; finalized documents are immutable."""


class CannotCancel(StateError):
    """The document cannot be cancelled (a draft, or itself a cancellation)."""


class NotFound(JustonError, LookupError):
    """An account, subscription or document does not exist in the store."""


class StorageError(JustonError):
    """A storage backend failed; the backend's own exception is ``__cause__``."""


class PluginError(JustonError):
    """A plugin is missing, or broke the contract of a hook."""


class RenderError(JustonError):
    """A document could not be rendered (a template, a renderer, or a missing dependency)."""


class TemplateError(RenderError):
    """A template is missing, does not parse, or tried something the sandbox forbids."""


class EInvoiceError(RenderError):
    """A document breaks EN 16931 (or a CIUS's) rules; ``findings`` lists each broken rule."""

    def __init__(self, message: str, findings: tuple[str, ...] = ()) -> None:
        self.findings = findings
        super().__init__(message if not findings else f"{message}: " + "; ".join(findings))
