"""Accounts cool on their own, like leads: the time a committee's decaying score next gives way.

An account's score is its members' interest and intent, each decaying from the member's own
as-of time; nothing happens when a committee goes silent, so, as for a lead (``scoring.crossing``),
the time the score falls below the rung the account stands on is computed and the account is
reclassified then. A hot account also cools when its engaged people fall below the minimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from scoring.accounts import AccountChange, AccountRules, AccountState, reclassify_at
from scoring.crossing import Term, crossing_time
from scoring.kinds import Component


def next_account_change(account: AccountState, half_lives: Mapping[Component, float],
                        rules: AccountRules) -> float | None:
    """The earliest time the account may cool with no member update; None if it is cold."""
    if account.level == 0 or not account.members:
        return None
    start = max(account.checked_at, *(member.as_of for member in account.members.values()))
    interest_h, intent_h = half_lives[Component.INTEREST], half_lives[Component.INTENT]

    def member_terms(interest: float, intent: float, as_of: float) -> list[Term]:
        elapsed = start - as_of
        return [Term(interest * 2.0 ** (-elapsed / interest_h), interest_h, None),
                Term(intent * 2.0 ** (-elapsed / intent_h), intent_h, None)]

    everyone = [term for member in account.members.values()
                for term in member_terms(member.interest, member.intent, member.as_of)]
    rung = rules.hot if account.level == 2 else rules.warm
    times = [crossing_time(everyone, rung.demote, start)]
    if account.level == 2:  # one engaged person fewer than the minimum ends hot, too
        times.extend(crossing_time(member_terms(member.interest, member.intent, member.as_of),
                                   rules.engaged_minimum, start) for member in account.members.values())
    later = [t for t in times if t is not None and math.isfinite(t) and t > start]
    return min(later) if later else None


def cool_account(account: AccountState, at: float, half_lives: Mapping[Component, float],
                 rules: AccountRules) -> tuple[AccountState, AccountChange | None]:
    """The account reclassified at ``at`` (a time ``next_account_change`` gave), by the timer."""
    return reclassify_at(account, at, half_lives, rules, cause_lead_id="decay", cause=f"decay:{at!r}")
