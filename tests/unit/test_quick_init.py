"""quick_init gives a frozen dataclass the same constructor, only faster: same signature, defaults, freezing."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from scoring.quick_init import quick_init
from scoring.state import LeadState, new_lead


FACTORY_CALLS: list[int] = []


def fresh_tags() -> tuple[str, ...]:
    FACTORY_CALLS.append(1)
    return ("fresh",)


@quick_init
@dataclass(frozen=True)
class Sample:
    name: str
    count: int = 3
    tags: tuple[str, ...] = field(default_factory=fresh_tags)


def test_fields_defaults_and_factories_are_set_as_the_dataclass_would():
    assert Sample("a") == Sample("a", 3, ("fresh",))
    assert Sample(name="b", tags=("x",)).tags == ("x",)
    calls = len(FACTORY_CALLS)
    Sample("c", tags=("given",))
    assert len(FACTORY_CALLS) == calls  # a given value is not replaced by the factory's
    Sample("c")
    assert len(FACTORY_CALLS) == calls + 1
    assert repr(Sample("a", 4)) == "Sample(name='a', count=4, tags=('fresh',))"
    assert hash(Sample("a")) == hash(Sample("a"))
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]


def test_instances_stay_frozen_and_replace_still_works():
    sample = Sample("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.count = 4  # type: ignore[misc]
    assert dataclasses.replace(sample, count=9) == Sample("a", 9)


def test_the_signature_is_the_dataclass_own():
    @dataclass(frozen=True)
    class Plain:
        name: str
        count: int = 3

    assert str(inspect.signature(Sample.__init__)).startswith("(self, name: 'str', count: 'int' = 3")
    assert inspect.signature(quick_init(Plain).__init__).parameters.keys() == {"self", "name", "count"}


def test_a_lead_state_built_either_way_is_the_same():
    state = new_lead("lead-1", anonymous=False)
    values = {item.name: getattr(state, item.name) for item in dataclasses.fields(LeadState)}
    rebuilt = LeadState(**values)
    assert rebuilt == state and vars(rebuilt) == vars(state)


def test_what_it_cannot_build_faithfully_is_refused():
    @dataclass(frozen=True)
    class WithPostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    @dataclass
    class NotFrozen:
        name: str

    for cls in (WithPostInit, NotFrozen):
        with pytest.raises(TypeError):
            quick_init(cls)
