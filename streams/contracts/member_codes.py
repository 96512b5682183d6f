"""Enum members as the codes stored records write them: a place in a fixed tuple, or (format 2) a name."""

from __future__ import annotations

from scoring import SignalKind, Stage, Status, Temperature


class KindPlaces(tuple):
    """Formats 3 and 4: a code reads as its kind, a name (a kind a model file defines) as itself."""

    def __getitem__(self, written):  # type: ignore[override]
        return tuple.__getitem__(self, written) if type(written) is int else written


# Format 3 writes an enum member as its place in one of these. Stored records hold the places:
# append a new member at the end; never reorder or remove one.
# Signal kinds are the model's names: those the default model shipped with when kinds were a
# closed list are written as their place here; any other name (one a model file defines) is
# written as itself, a string, so records of the built-in kinds stay byte for byte what they were.
KIND_AT = KindPlaces((
    None, "page_view", "product_view", "pricing_view", "careers_view", "blog_view", "case_study_download",
    "whitepaper_download", "price_list_download", "contact_form", "demo_request", "newsletter_signup",
    "webinar_registered", "webinar_attended", "email_open", "email_click", "email_reply", "survey_answer",
    "trial_signup", "feature_used", "positive_review", "referral", "email_unsubscribe", "email_bounce",
    "email_hard_bounce", "dwell",
))
STAGE_AT = tuple(map(Stage, ("new", "iql", "recycled", "mql", "pql", "sql", "disqualified")))
TEMPERATURE_AT = tuple(map(Temperature, ("cold", "warm", "hot")))
STATUS_AT = tuple(map(Status, ("met", "not_met", "unknown")))
KIND_CODE: dict[SignalKind | None, int] = {kind: code for code, kind in enumerate(KIND_AT)}
STAGE_CODE = {stage: code for code, stage in enumerate(STAGE_AT)}
TEMPERATURE_CODE = {temperature: code for code, temperature in enumerate(TEMPERATURE_AT)}
STATUS_CODE = {status: code for code, status in enumerate(STATUS_AT)}
# The stages a lead has reached, by the bit mask format 3 writes them as (bit n: STAGE_AT[n]).
REACHED_AT = tuple(frozenset(stage for code, stage in enumerate(STAGE_AT) if mask >> code & 1)
                    for mask in range(1 << len(STAGE_AT)))
REACHED_MASK = {stages: mask for mask, stages in enumerate(REACHED_AT)}


class KindNames(dict):
    """Format 2 wrote kinds by name: every name reads as itself (the kinds it wrote were the built-in ones)."""

    def __missing__(self, name: SignalKind) -> SignalKind:
        return name


# Format 2 wrote enum members by name: read only.
KINDS = KindNames()
STAGES = {stage.value: stage for stage in Stage}
TEMPERATURES = {temperature.value: temperature for temperature in Temperature}
STATUSES = {status.value: status for status in Status}
