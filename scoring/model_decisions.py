"""The model file's settings for decisions: [sales], [revisit], [fit.unknown] and the hot interest rung.

Each is optional, with the default a model file of the previous version had implicitly, so such
a file still loads. ``fields`` is ``scoring.model_loading``'s table reader (it names the field in
every error); it is passed in, not imported, so the two modules do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from scoring.errors import ModelError
from scoring.fit import DEFAULT_UNKNOWN, GATES, UNKNOWN_POLICIES
from scoring.model import SECONDS_PER_DAY, RevisitRules
from scoring.sales import DEFAULT_SALES, WEEK_S, SalesRules
from scoring.stages import Rung

# A file of the previous version gives only `hot_min_interest`: its demote is this share of it.
LEGACY_HOT_DEMOTE_SHARE = 0.5


def sales_rules(doc: Any) -> SalesRules:
    if "sales" not in doc.table:
        return DEFAULT_SALES
    table = doc.sub("sales")
    table.only("inactivity_bound_weeks", "rejection_cooldown_days", "renewed_intent_minimum")
    return SalesRules(
        inactivity_bound_s=_optional(table, "inactivity_bound_weeks", DEFAULT_SALES.inactivity_bound_s / WEEK_S,
                                     table.number, exclusive=True) * WEEK_S,
        rejection_cooldown_s=_optional(table, "rejection_cooldown_days",
                                       DEFAULT_SALES.rejection_cooldown_s / SECONDS_PER_DAY, table.number)
        * SECONDS_PER_DAY,
        renewed_intent_minimum=_optional(table, "renewed_intent_minimum", DEFAULT_SALES.renewed_intent_minimum,
                                         table.number, exclusive=True),
    )


def revisit_rules(doc: Any) -> RevisitRules | None:
    """[revisit]: absent in a file of the previous version, which revisited nothing."""
    if "revisit" not in doc.table:
        return None
    table = doc.sub("revisit")
    table.only("after_days", "fit_minimum")
    fit_minimum = table.number("fit_minimum")
    if fit_minimum > 100:
        raise ModelError(f"{table.name('fit_minimum')}: fit is 0–100, got {fit_minimum:g}")
    return RevisitRules(interval_s=table.number("after_days", exclusive=True) * SECONDS_PER_DAY,
                        fit_minimum=fit_minimum)


def unknown_policies(fit: Any) -> Mapping[str, str]:
    """[fit.unknown]: per gate, how an attribute nobody stated counts."""
    if "unknown" not in fit.table:
        return DEFAULT_UNKNOWN
    table = fit.sub("unknown")
    table.only(*GATES)
    policies = dict(DEFAULT_UNKNOWN)
    for gate in GATES:
        if gate in table.table:
            value = table.required(gate)
            if value not in UNKNOWN_POLICIES:
                raise ModelError(f"{table.name(gate)}: {value!r} is not one of: {', '.join(UNKNOWN_POLICIES)}")
            policies[gate] = value
    return MappingProxyType(policies)


def hot_rung(thresholds: Any, qualification: Any, rung: Callable[[Any, str], Rung]) -> Rung:
    """``[thresholds] hot = { promote, demote }`` on interest; a previous-version file's
    ``[qualification] hot_min_interest = N`` still reads, as promote N and demote N/2."""
    if "hot" in thresholds.table:
        if "hot_min_interest" in qualification.table:
            raise ModelError(f"{qualification.name('hot_min_interest')}: replaced by {thresholds.name('hot')}; "
                             "give only the latter")
        return rung(thresholds, "hot")
    if "hot_min_interest" in qualification.table:
        minimum = qualification.number("hot_min_interest")
        return Rung(promote=minimum, demote=minimum * LEGACY_HOT_DEMOTE_SHARE) if minimum > 0 else Rung(0.0, 0.0)
    raise ModelError(f"{thresholds.name('hot')}: missing; add `hot = {{ promote = 5, demote = 2.5 }}` "
                     "(interest a hot lead needs)")


def _optional(table: Any, key: str, default: float, read: Callable[..., float], **bounds: Any) -> float:
    return read(key, **bounds) if key in table.table else default
