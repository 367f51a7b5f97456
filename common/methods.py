"""The methods a run can name: trained objectives, post-hoc calibrators, and `<network>+<calibrator>`.

Names only, without torch, so that the command line is checked before anything heavy is imported.
The implementations are tables keyed by these names, `loss.OBJECTIVES` and
`calibrators.CALIBRATORS` (a test keeps the three in step). A post-hoc method named alone
calibrates the plain BCE network: `TS` is `BCE+TS`.
"""
from __future__ import annotations

TRAINED = ("BCE", "ASLP", "LS", "DisturbLabel", "SLP", "Focal", "Brier", "MbLS", "SVLS", "NACL")
POST_HOC = ("TS", "LTS", "SEL", "SEL-context")
POST_HOC_BASE = "BCE"


def post_hoc(method: str) -> str | None:
    """The post-hoc calibrator of `method` (ASLP+TS -> TS), or None for a method trained as it is."""
    calibrator = method.rpartition("+")[2]
    return calibrator if calibrator in POST_HOC else None


def network_method(method: str) -> str:
    """The trained method whose network `method` uses: ASLP+TS -> ASLP, TS -> BCE, ASLP -> ASLP."""
    base, _, calibrator = method.rpartition("+")
    if calibrator in POST_HOC:
        return base or POST_HOC_BASE
    return method


def known_method(method: str) -> bool:
    """Whether `method` names a trained method, a post-hoc one, or a trained one + a post-hoc one."""
    return network_method(method) in TRAINED and (post_hoc(method) is not None or "+" not in method)


def choices() -> str:
    """The methods a user may name, for error messages and --help."""
    return (f"{', '.join(TRAINED)}, the post-hoc {', '.join(POST_HOC)} (on {POST_HOC_BASE}), or METHOD+"
            f"{'/'.join(POST_HOC)}")
