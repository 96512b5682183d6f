"""Settings added to the model file since its previous version: validated naming the field, and optional.

A model file written for the previous version (tests/unit/data/model_default_2.toml, the shipped
default before issue 23) must still load, taking the shipped default for what it lacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring import Status, load_model
from scoring.criteria import status_of
from tests.unit.builders import T0, model, model_text
from tests.unit.test_model import rejected

PREVIOUS_VERSION = Path(__file__).parent / "data" / "model_default_2.toml"


def test_a_model_file_of_the_previous_version_still_loads_and_reads_answers_conservatively():
    previous = load_model(PREVIOUS_VERSION)

    assert previous.version == "default-2"
    reading = previous.criteria.reading
    assert status_of("I don't know", reading, "budget", T0) is Status.UNKNOWN
    assert status_of("нет", reading, "need", T0) is Status.NOT_MET
    assert status_of("in 2 years", reading, "timeline", T0) is Status.NOT_MET
    assert reading == model().criteria.reading


def test_meddic_is_declared_the_subset_of_meddpicc_it_is():
    frameworks = model().criteria.frameworks

    assert frameworks["meddpicc"].criteria == (
        "metrics", "economic_buyer", "decision_criteria", "decision_process", "paper_process", "identify_pain",
        "champion", "competition")
    assert set(frameworks["meddic"].criteria) < set(frameworks["meddpicc"].criteria)
    message = rejected(model_text(('"identify_pain", "champion"]\nneed = "identify_pain"\nsubset_of',
                                   '"identify_pain", "champion", "budget"]\nneed = "identify_pain"\nsubset_of')))
    assert "criteria.frameworks.meddic.criteria: 'budget' is not a criterion of meddpicc" in message


@pytest.mark.parametrize(("old", "new", "field"), [
    ("timeline_within_months = 6", "timeline_within_months = 0", "criteria.reading.timeline_within_months"),
    ("budget_minimum = 5000", 'budget_minimum = "lots"', "criteria.reading.budget_minimum"),
    ('timeline_criteria = ["timeline", "prioritization"]', 'timeline_criteria = ["when"]',
     "criteria.reading.timeline_criteria"),
    ('budget_criteria = ["budget", "money"]', 'budget_criteria = "budget"', "criteria.reading.budget_criteria"),
    ('"year" = 12', '"year" = 0', "criteria.reading.languages.en.units.year"),
    ('"next month" = 2', '"next month" = -2', 'criteria.reading.languages.en.horizons.next month'),
    ('[criteria.reading.languages.pl]\n', '[criteria.reading.languages.pl]\nstopwords = []\n',
     "criteria.reading.languages.pl.stopwords"),
    ('refusal = ["нет"', 'refusal = [""', "criteria.reading.languages.ru.refusal"),
])
def test_a_bad_reading_setting_is_rejected_naming_its_field(old, new, field):
    assert f"{field}:" in rejected(model_text((old, new)))
