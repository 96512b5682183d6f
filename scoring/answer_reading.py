"""Reading a free-text answer conservatively: met only on a positive pattern, never on a shrug.

The word lists are the model's (``[criteria.reading.languages.*]``): an answer does not say its
language, so every language's lists apply. Uncertainty anywhere in an answer ("maybe next year",
"TBD - Q3", "need to ask my boss") leaves the criterion unknown; a refusal ("no budget", "нет",
"ei") is not met; a timeline is met only when it parses to a horizon within the model's limit; a
budget that gives a number is met only from the model's minimum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cached_property


class Reading(str, Enum):
    """How a criterion's free-text answers are read."""

    AMOUNT = "amount"  # budget: a stated number compares with the model's minimum
    TIME = "time"  # timeline: a stated horizon compares with the model's limit
    DESCRIPTION = "description"  # need, pain, champion...: naming something states it


@dataclass(frozen=True)
class Language:
    affirmative: tuple[str, ...]  # whole answers that confirm ("yes", "да", "tak", "kyllä")
    refusal: tuple[str, ...]  # an answer starting with one of these refuses ("no", "нет", "nie", "ei")
    uncertain: tuple[str, ...]  # anywhere in an answer, these leave it unknown ("don't know", "не знаю")
    horizons: Mapping[str, float]  # phrases meaning a horizon in months ("this quarter" = 3)
    units: Mapping[str, float]  # word stems after a number ("year" = 12, "мес" = 1)


@dataclass(frozen=True)
class AnswerReading:
    languages: Mapping[str, Language]
    timeline_criteria: frozenset[str]
    timeline_within_months: float  # a timeline is met when the purchase is at most this far away
    budget_criteria: frozenset[str]
    budget_minimum: float  # a stated amount below this is not met

    # Compiled once per model (frozen: the lists never change), read for every answer.
    @cached_property
    def _affirmative(self) -> frozenset[str]:
        return frozenset(clean(word) for lang in self.languages.values() for word in lang.affirmative)

    @cached_property
    def _refusal(self) -> re.Pattern[str]:
        return _phrases(word for lang in self.languages.values() for word in lang.refusal)

    @cached_property
    def _uncertain(self) -> re.Pattern[str]:
        return _phrases(word for lang in self.languages.values() for word in lang.uncertain)

    @cached_property
    def _horizons(self) -> tuple[tuple[re.Pattern[str], float], ...]:
        phrases = {clean(phrase): months for lang in self.languages.values() for phrase, months in lang.horizons.items()}
        return tuple((_phrases([phrase]), months) for phrase, months in sorted(phrases.items(), key=lambda p: -len(p[0])))

    @cached_property
    def _units(self) -> tuple[tuple[str, float], ...]:
        stems = {clean(stem): months for lang in self.languages.values() for stem, months in lang.units.items()}
        return tuple(sorted(stems.items(), key=lambda pair: -len(pair[0])))

    def reading_of(self, criterion: str | None) -> Reading:
        if criterion in self.timeline_criteria:
            return Reading.TIME
        if criterion in self.budget_criteria:
            return Reading.AMOUNT
        return Reading.DESCRIPTION

    def is_uncertain(self, phrase: str) -> bool:
        return self._uncertain.search(phrase) is not None

    def is_refusal(self, phrase: str) -> bool:
        return self._refusal.match(phrase) is not None

    def is_affirmative(self, phrase: str) -> bool:
        return phrase in self._affirmative

    def horizon_months(self, phrase: str, at: float | None) -> float | None:
        """How many months away a stated timeline is, or None when it does not say."""
        for pattern, months in self._horizons:  # longest phrase first: "next quarter" before "next"
            if pattern.search(phrase):
                return months
        if (counted := _counted(phrase, self._units)) is not None:
            return counted
        return _calendar(phrase, at)


def clean(text: str) -> str:
    """Lower case, punctuation dropped but for apostrophes ("don't") and marks inside numbers ("1.5", "50,000"),
    runs of space, ``_`` and ``-`` made one space: the form every list and answer is compared in."""
    text = re.sub(r"(?<=\d)([.,])(?=\d)", lambda mark: "\x01" if mark.group(1) == "." else "\x02",
                  text.replace("’", "'").lower())
    text = re.sub(r"[\s_\-]+", " ", re.sub(r"[^\w\s'/\-\x01\x02]", " ", text)).strip()
    return text.replace("\x01", ".").replace("\x02", ",")


def _phrases(words: Iterable[str]) -> re.Pattern[str]:
    """One pattern matching any of the phrases as whole words (longest first, so "not sure" beats "not")."""
    cleaned = sorted({clean(word) for word in words if clean(word)}, key=len, reverse=True)
    if not cleaned:
        return re.compile(r"(?!)")
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in cleaned) + r")(?!\w)")


_NUMBER = r"(\d+(?:[.,]\d+)?)"


def _counted(phrase: str, units: tuple[tuple[str, float], ...]) -> float | None:
    """"in 2 years", "3 months", "через 2 года", "za 2 lata", "2 vuoden päästä": the number times its unit."""
    for match in re.finditer(_NUMBER + r"\s*(\w+)", phrase):
        number, word = float(match.group(1).replace(",", ".")), match.group(2)
        for stem, months in units:
            if word.startswith(stem):
                return number * months
    return None


def _calendar(phrase: str, at: float | None) -> float | None:
    """"Q3", "Q1 2026" or "2026": months from the answer's own time to the end of that quarter or year."""
    if at is None:
        return None
    now_year, now_month, now_day = _civil_date(at)
    month_now = now_year * 12 + now_month - 1 + now_day / 31
    years = [int(y) for y in re.findall(r"(?<!\d)(20\d\d)(?!\d)", phrase)]
    quarter = re.search(r"(?<!\w)q([1-4])(?!\d)", phrase)
    if quarter is not None:
        last_month = int(quarter.group(1)) * 3
        year = years[0] if years else now_year
        if not years and year * 12 + last_month <= month_now:
            year += 1  # "Q1" said in May means next year's
        return max(0.0, year * 12 + last_month - month_now)
    if years:
        return max(0.0, years[0] * 12 + 12 - month_now)
    return None


def _civil_date(at: float) -> tuple[int, int, int]:
    """(year, month, day) in UTC of epoch seconds, by arithmetic: the core reads no calendar or clock."""
    days = int(at // 86_400) + 719_468  # days since 0000-03-01 (the proleptic Gregorian calendar)
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153  # March is 0
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, day


_AMOUNT = re.compile(r"(\d+(?:[ .,]\d{3})*(?:[.,]\d+)?)\s*(k|m|thousand|million|тыс\w*|млн|tys\w*|mln|milj\w*)?(?!\w)")
_SCALES = (("k", 1e3), ("thousand", 1e3), ("тыс", 1e3), ("tys", 1e3),
           ("m", 1e6), ("million", 1e6), ("млн", 1e6), ("mln", 1e6), ("milj", 1e6))


def amount_in(phrase: str) -> float | None:
    """The money a cleaned answer states ("$50k", "50 000 EUR", "1.5m", "10 тыс"), or None."""
    match = _AMOUNT.search(phrase)
    if match is None:
        return None
    digits, suffix = match.groups()
    if re.fullmatch(r"\d+(?:[ .,]\d{3})+", digits):
        number = float(re.sub(r"[ .,]", "", digits))  # thousands grouped: "50 000", "1,500"
    else:
        number = float(digits.replace(",", "."))
    return number * next((scale for prefix, scale in _SCALES if (suffix or "").startswith(prefix)), 1.0)
