"""The model file's ``[criteria]`` section: frameworks, answer fields and how free-text answers are read.

A model file written before ``[criteria.reading]`` existed still loads: it reads answers with the
shipped default's word lists and limits (the docs say what to add to change them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from scoring.answer_reading import AnswerReading, Language
from scoring.criteria import Framework
from scoring.errors import ModelError
from scoring.model import CriteriaRules
from scoring.model_fields import Fields, strings


def criteria_rules(table: Fields, shipped: Callable[[], Mapping[str, Any]]) -> CriteriaRules:
    """``shipped`` gives the default model's ``[criteria]`` table, read only when the file lacks a part of it."""
    table.only("framework", "frameworks", "answer_fields", "reading")
    frameworks = _frameworks(table.sub("frameworks"))
    active = table.text("framework")
    if active not in frameworks:
        raise ModelError(f"{table.name('framework')}: {active!r} is not one of: {', '.join(frameworks)}")
    known = frozenset(c for framework in frameworks.values() for c in framework.criteria)
    answer_table = table.sub("answer_fields")
    answer_fields = {}
    for field_name, criterion in answer_table.table.items():
        if not isinstance(criterion, str) or criterion.lower() not in known:
            raise ModelError(
                f"{answer_table.name(field_name)}: {criterion!r} is not a criterion of any framework"
            )
        answer_fields[field_name] = criterion.lower()
    if "reading" in table.table:
        reading = _reading(table.sub("reading"), known)
    else:  # a model file of the previous version: the shipped reading, its criteria narrowed to this file's
        reading = _reading(Fields(shipped()["reading"], table.name("reading")), known, narrow=True)
    return CriteriaRules(
        framework=frameworks[active],
        frameworks=MappingProxyType(frameworks),
        answer_fields=MappingProxyType(answer_fields),
        reading=reading,
    )


def _frameworks(frameworks_table: Fields) -> dict[str, Framework]:
    frameworks = {}
    for name in frameworks_table.table:
        entry = frameworks_table.sub(name)
        entry.only("criteria", "need", "subset_of")
        criteria = strings(entry, "criteria", lower=True)
        if not criteria:
            raise ModelError(f"{entry.name('criteria')}: a framework needs at least one criterion")
        need = entry.text("need").lower()
        if need not in criteria:
            raise ModelError(f"{entry.name('need')}: {need!r} is not one of its criteria: {', '.join(criteria)}")
        frameworks[name] = Framework(name=name, criteria=criteria, need=need)
    for name in frameworks_table.table:  # MEDDIC is MEDDPICC's subset: say so, and the file keeps them in step
        entry = frameworks_table.sub(name)
        if "subset_of" not in entry.table:
            continue
        parent = entry.text("subset_of")
        if parent not in frameworks:
            raise ModelError(f"{entry.name('subset_of')}: {parent!r} is not one of: {', '.join(frameworks)}")
        extra = [c for c in frameworks[name].criteria if c not in frameworks[parent].criteria]
        if extra:
            raise ModelError(f"{entry.name('criteria')}: {extra[0]!r} is not a criterion of {parent}")
    return frameworks


def _reading(table: Fields, known: frozenset[str], narrow: bool = False) -> AnswerReading:
    table.only("timeline_criteria", "timeline_within_months", "budget_criteria", "budget_minimum", "languages")
    languages_table = table.sub("languages")
    if not languages_table.table:
        raise ModelError(f"{languages_table.name('en')}: missing; name at least one language's word lists")
    return AnswerReading(
        languages=MappingProxyType({code: _language(languages_table.sub(code)) for code in languages_table.table}),
        timeline_criteria=_criteria_named(table, "timeline_criteria", known, narrow),
        timeline_within_months=table.number("timeline_within_months", exclusive=True),
        budget_criteria=_criteria_named(table, "budget_criteria", known, narrow),
        budget_minimum=table.number("budget_minimum"),
    )


def _criteria_named(table: Fields, key: str, known: frozenset[str], narrow: bool) -> frozenset[str]:
    names = strings(table, key, lower=True)
    unknown = [name for name in names if name not in known]
    if unknown and not narrow:
        raise ModelError(f"{table.name(key)}: {unknown[0]!r} is not a criterion of any framework")
    return frozenset(name for name in names if name in known)


def _language(table: Fields) -> Language:
    table.only("affirmative", "refusal", "uncertain", "horizons", "units")
    return Language(
        affirmative=strings(table, "affirmative"),
        refusal=strings(table, "refusal"),
        uncertain=strings(table, "uncertain"),
        horizons=_months(table, "horizons", minimum=0.0, exclusive=False),
        units=_months(table, "units", minimum=0.0, exclusive=True),
    )


def _months(table: Fields, key: str, minimum: float, exclusive: bool) -> Mapping[str, float]:
    """A table of phrase = months ("next quarter" = 6); an absent table is empty."""
    if key not in table.table:
        return MappingProxyType({})
    entries = table.sub(key)
    return MappingProxyType({phrase: entries.number(phrase, minimum, exclusive) for phrase in entries.table})
