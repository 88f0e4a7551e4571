"""Dunning: levels, fees, interest, blocking, notices.

Pure decisions (:mod:`.decide`, :mod:`.interest`) and a run in the shell (:mod:`.run`).
"""

from ..model.dunning import (
    BASE_RATES,
    BaseRate,
    Dunning,
    DunningBlock,
    DunningConfig,
    DunningDetail,
    DunningLevel,
    DunningStatus,
    InterestMethod,
)
from .decide import Candidate, decide
from .interest import monthly_interest, statutory_interest
from .run import (
    DunningRunResult,
    block_dunning,
    cancel_dunning,
    dunning_levels,
    dunning_run,
    finalize_dunnings,
    postpone_due_date,
    unblock_dunning,
)

__all__ = [
    "BASE_RATES",
    "BaseRate",
    "Candidate",
    "Dunning",
    "DunningBlock",
    "DunningConfig",
    "DunningDetail",
    "DunningLevel",
    "DunningRunResult",
    "DunningStatus",
    "InterestMethod",
    "block_dunning",
    "cancel_dunning",
    "decide",
    "dunning_levels",
    "dunning_run",
    "finalize_dunnings",
    "monthly_interest",
    "postpone_due_date",
    "statutory_interest",
    "unblock_dunning",
]
