"""Accounts: leads rolled up by company domain into a buying committee.

B2B purchases involve several people; an account warms up when enough of them engage
together, even while no single one of them is hot. Each member's latest scores arrive with
their as-of time and keep decaying with the model's half-lives, so the account score is the
same whatever order the member updates arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType

from msgspec import Struct, field

from scoring.changes import change_id
from scoring.kinds import Component
from scoring.stages import Rung, Temperature, climb

TEMPERATURES = tuple(Temperature)
_AS_OF = attrgetter("as_of")


@dataclass(frozen=True)
class AccountRules:
    warm: Rung
    hot: Rung
    hot_min_people: int  # an account is hot only with this many engaged people
    engaged_minimum: float  # a member counts as engaged from this engagement
    max_members: int


class Member(Struct, frozen=True, gc=False):
    """One lead's contribution to its account, as of its latest scored event."""

    lead_id: str
    interest: float
    intent: float
    as_of: float
    role: str | None  # decision_maker, influencer, user (from the title), or unknown
    criteria_met: frozenset[str]
    cause_event_id: str


class AccountState(Struct, frozen=True, gc=False):
    domain: str
    members: Mapping[str, Member] = field(default_factory=lambda: MappingProxyType({}))
    level: int = 0  # 0 cold, 1 warm, 2 hot: held for hysteresis
    sequence: int = 0
    checked_at: float = 0.0  # the latest time it was classified at: the demotion timer can move it past its members

    @property
    def temperature(self) -> Temperature:
        return TEMPERATURES[self.level]


class AccountView(Struct, frozen=True, gc=False):
    score: float
    engaged: tuple[str, ...]  # lead ids of the engaged members
    roles: frozenset[str]
    criteria_met: frozenset[str]


class AccountChange(Struct, frozen=True, gc=False):
    change_id: str
    domain: str
    sequence: int
    from_temperature: Temperature
    to_temperature: Temperature
    view: AccountView
    members: int
    cause_lead_id: str
    event_time: float


def view_at(account: AccountState, half_lives: Mapping[Component, float], rules: AccountRules, at: float) -> AccountView:
    # decayed_to inlined, the same arithmetic in the same order: this runs for every member at
    # every member update, and the calls alone were most of an account update's cost.
    interest_half_life, intent_half_life = half_lives[Component.INTEREST], half_lives[Component.INTENT]
    score, engaged, roles, met = 0.0, [], set(), set()
    for member in account.members.values():
        elapsed = at - member.as_of
        if elapsed <= 0.0:  # decay_factor is exactly 1: never decayed into the past
            engagement = member.interest + member.intent
        else:
            engagement = (member.interest * 2.0 ** (-elapsed / interest_half_life)
                          + member.intent * 2.0 ** (-elapsed / intent_half_life))
        score += engagement
        if engagement >= rules.engaged_minimum:
            engaged.append(member.lead_id)
            roles.add(member.role or "unknown")
            met |= member.criteria_met
    return AccountView(score=score, engaged=tuple(sorted(engaged)), roles=frozenset(roles), criteria_met=frozenset(met))


def update_member(
    account: AccountState, member: Member | None, lead_id: str, half_lives: Mapping[Component, float],
    rules: AccountRules,
) -> tuple[AccountState, AccountChange | None]:
    """Take in a member's latest scores (None: the lead left, e.g. erased) and reclassify the account."""
    held = account.members.get(lead_id)
    if member is not None and held is not None and held.as_of > member.as_of:
        return account, None  # an older update arriving late changes nothing
    members = dict(account.members)
    if member is None:
        members.pop(lead_id, None)
    else:
        members[lead_id] = member
        if len(members) == rules.max_members + 1:  # keep the most recently active people
            del members[min(members.values(), key=_AS_OF).lead_id]  # the first of the oldest, as sorted() gives
        elif len(members) > rules.max_members:
            for stale in sorted(members.values(), key=_AS_OF)[: len(members) - rules.max_members]:
                del members[stale.lead_id]
    at = max(account.checked_at, max(map(_AS_OF, members.values()), default=0.0))
    regrouped = AccountState(account.domain, MappingProxyType(members), account.level, account.sequence,
                             account.checked_at)
    return reclassify_at(regrouped, at, half_lives, rules, lead_id, member.cause_event_id if member else "left")


def reclassify_at(account: AccountState, at: float, half_lives: Mapping[Component, float], rules: AccountRules,
                  cause_lead_id: str, cause: str) -> tuple[AccountState, AccountChange | None]:
    """The account's temperature at ``at``, with hysteresis from its held level."""
    view = view_at(account, half_lives, rules, at)
    level = climb(account.level, view.score, (rules.warm, rules.hot))
    if level == 2 and len(view.engaged) < rules.hot_min_people:
        level = 1  # one very busy person is not a buying committee
    if level == account.level:
        return AccountState(account.domain, account.members, level, account.sequence, at), None
    updated = AccountState(account.domain, account.members, level, account.sequence + 1, at)
    return updated, AccountChange(
        change_id=change_id(f"account:{account.domain}", f"{cause_lead_id}\x1f{cause}"),
        domain=account.domain, sequence=updated.sequence,
        from_temperature=account.temperature, to_temperature=updated.temperature,
        view=view, members=len(account.members), cause_lead_id=cause_lead_id, event_time=at,
    )
