"""Whether an event may be kept: Do-Not-Track and refusals always win; under opt-in, only a yes admits.

``LEADSTREAM_CONSENT`` is ``opt-out`` (the default: kept unless the visitor refused) or ``opt-in``
(kept only when the event carries a yes). Both the collector and the worker read it, so events
other producers write to the raw topic are held to the same rule. An event says:

- **no** with ``context.dnt`` (or ``properties.dnt``) true; ``context.consent`` (or
  ``properties.consent``) false; or, none of the categories in ``LEADSTREAM_CONSENT_CATEGORIES``
  granted and one of them denied, in Segment's ``context.consent.categoryPreferences``
  (``{"Analytics": false}``) or RudderStack's ``context.consentManagement.deniedConsentIds``;
- **yes** with ``context.consent`` (or ``properties.consent``) true; or one of those categories
  granted: ``categoryPreferences`` true, or listed in ``consentManagement.allowedConsentIds``;
- nothing otherwise: kept under opt-out, not under opt-in.

Categories are matched without regard to case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from streams.errors import ConfigError

CONSENT_VARIABLE = "LEADSTREAM_CONSENT"
CATEGORIES_VARIABLE = "LEADSTREAM_CONSENT_CATEGORIES"
DEFAULT_CATEGORIES = frozenset({"analytics", "marketing"})
_YES = frozenset({True, 1, "1", "true", "yes", "granted"})
_NO = frozenset({False, 0, "0", "false", "no", "denied"})


class ConsentMode(str, Enum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"


@dataclass(frozen=True)
class ConsentPolicy:
    mode: ConsentMode = ConsentMode.OPT_OUT
    categories: frozenset[str] = DEFAULT_CATEGORIES

    @property
    def opt_in(self) -> bool:
        return self.mode is ConsentMode.OPT_IN

    def allows(self, context: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
        """Whether the event may be kept, from what its context and properties say."""
        said = self.said(context, properties)
        return said is True or (said is None and not self.opt_in)

    def said(self, context: Mapping[str, Any], properties: Mapping[str, Any]) -> bool | None:
        """True (a yes), False (a refusal, Do-Not-Track included) or None (no signal)."""
        if _flag(context.get("dnt")) is True or _flag(properties.get("dnt")) is True:
            return False
        answers = [_flag(context.get("consent")), _flag(properties.get("consent")), self._categories(context)]
        if False in answers:
            return False
        return True if True in answers else None

    def _categories(self, context: Mapping[str, Any]) -> bool | None:
        granted: set[str] = set()
        denied: set[str] = set()
        consent = context.get("consent")
        preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
        if isinstance(preferences, dict):
            for name, value in preferences.items():
                (granted if _flag(value) is True else denied if _flag(value) is False else set()).add(str(name).lower())
        management = context.get("consentManagement")
        if isinstance(management, dict):
            for field, into in (("allowedConsentIds", granted), ("deniedConsentIds", denied)):
                ids = management.get(field)
                if isinstance(ids, list):
                    into.update(str(name).lower() for name in ids if isinstance(name, str | int))
        if granted & self.categories:
            return True
        return False if denied & self.categories else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, str):
        value = value.strip().lower()
    if isinstance(value, bool | int | str):
        return True if value in _YES else False if value in _NO else None
    return None


def consent_policy_from(env: Mapping[str, str]) -> ConsentPolicy:
    raw = env.get(CONSENT_VARIABLE, "").strip().lower() or ConsentMode.OPT_OUT.value
    try:
        mode = ConsentMode(raw)
    except ValueError:
        raise ConfigError(f"{CONSENT_VARIABLE}: expected opt-out or opt-in, got {raw!r}") from None
    listed = env.get(CATEGORIES_VARIABLE)
    categories = DEFAULT_CATEGORIES if listed is None else frozenset(
        name.strip().lower() for name in listed.split(",") if name.strip())
    if not categories:
        raise ConfigError(f"{CATEGORIES_VARIABLE}: name at least one consent category (default: analytics,marketing)")
    return ConsentPolicy(mode, categories)


OPT_OUT = ConsentPolicy()
