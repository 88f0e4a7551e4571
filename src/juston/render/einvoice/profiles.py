"""The profiles: which syntax, which specification identifier, what each one requires.

A profile is EN 16931 itself or a CIUS on top of it (XRechnung 3.0, Peppol BIS Billing
3.0, Factur-X EN 16931); it fixes the syntax (UN/CEFACT CII D16B or UBL 2.1), BT-24
(specification identifier), BT-23 (business process) and the data the CIUS makes
mandatory, which :mod:`.rules` checks before any XML is built.

    >>> PROFILES["xrechnung-ubl"].syntax, PROFILES["xrechnung-ubl"].requires_buyer_reference
    ('ubl', True)
    >>> profile("peppol").specification
    'urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0'
"""

from __future__ import annotations

from typing import Literal

import attrs

from ...errors import ValidationError

__all__ = [
    "EN16931",
    "PEPPOL_PROCESS",
    "PROFILES",
    "RENDERED",
    "Profile",
    "profile",
]

#: BT-24 of a plain EN 16931 invoice (also the Factur-X EN 16931 profile's).
EN16931 = "urn:cen.eu:en16931:2017"
#: BT-23 of Peppol BIS Billing 3.0 (XRechnung takes it over).
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
_XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
_PEPPOL = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"

Syntax = Literal["cii", "ubl"]
Cius = Literal["en16931", "xrechnung", "peppol", "factur-x"]


@attrs.frozen
class Profile:
    """One EN 16931 profile: its *name*, *syntax*, BT-24 and BT-23, and what it requires.

    The German rules (seller contact, payment instructions …) follow from *cius*:
    XRechnung always, Peppol for sellers in Germany (see :mod:`.rules`).
    """

    name: str
    syntax: Syntax
    #: BT-24, the specification identifier.
    specification: str
    cius: Cius = "en16931"
    #: BT-23, the business process (``None``: not emitted).
    business_process: str | None = None
    #: BT-10 buyer reference (XRechnung BR-DE-15, Peppol R003).
    requires_buyer_reference: bool = False
    #: BT-34 and BT-49 electronic addresses (Peppol R010/R020, XRechnung 3.0).
    requires_electronic_addresses: bool = False
    #: qty × price − allowances = line net, within 0.02 (Peppol R120, XRechnung).
    checks_line_arithmetic: bool = False


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("cii", "cii", EN16931),
        Profile("ubl", "ubl", EN16931),
        Profile(
            "xrechnung-cii",
            "cii",
            _XRECHNUNG,
            "xrechnung",
            PEPPOL_PROCESS,
            requires_buyer_reference=True,
            requires_electronic_addresses=True,
            checks_line_arithmetic=True,
        ),
        Profile(
            "xrechnung-ubl",
            "ubl",
            _XRECHNUNG,
            "xrechnung",
            PEPPOL_PROCESS,
            requires_buyer_reference=True,
            requires_electronic_addresses=True,
            checks_line_arithmetic=True,
        ),
        Profile(
            "peppol",
            "ubl",
            _PEPPOL,
            "peppol",
            PEPPOL_PROCESS,
            requires_buyer_reference=True,
            requires_electronic_addresses=True,
            checks_line_arithmetic=True,
        ),
        Profile("factur-x-en16931", "cii", EN16931, "factur-x"),
    )
}
#: The profiles offered as renderers (Factur-X is a PDF: its renderer embeds the XML).
RENDERED = ("cii", "ubl", "xrechnung-cii", "xrechnung-ubl", "peppol")


def profile(name: str | Profile, syntax: Syntax | None = None) -> Profile:
    """The profile called *name* (of *syntax*, when given); a :class:`Profile` passes through."""
    found = name if isinstance(name, Profile) else PROFILES.get(name)
    if found is None:
        raise ValidationError("profile", name, f"is not one of {sorted(PROFILES)}")
    if syntax is not None and found.syntax != syntax:
        names = sorted(p.name for p in PROFILES.values() if p.syntax == syntax)
        raise ValidationError("profile", found.name, f"is not a {syntax.upper()} profile {names}")
    return found
