"""Named holiday calendars beside explicit dates (amlops.calendars over the `holidays` package)."""

from __future__ import annotations

from datetime import date

import pytest

from amlops.calendars import holiday_on, validated
from amlops.errors import InvalidInput

CORPUS_CHRISTI_2027 = date(2027, 5, 27)  # Easter 2027 is 28 March; Corpus Christi 60 days later


def test_corpus_christi_is_a_holiday_in_bavaria_and_not_in_berlin() -> None:
    assert holiday_on(CORPUS_CHRISTI_2027, ["DE-BY"]) == "2027-05-27 is Corpus Christi (DE-BY)"
    assert holiday_on(CORPUS_CHRISTI_2027, ["DE-BE"]) == ""
    assert holiday_on(date(2027, 5, 28), ["DE-BY"]) == ""


def test_explicit_dates_stay_beside_calendars() -> None:
    entries = validated(["de-by", "2026-12-24", date(2026, 12, 31)])
    assert entries == ["DE-BY", date(2026, 12, 24), date(2026, 12, 31)]
    assert holiday_on(date(2026, 12, 24), entries) == "2026-12-24 is listed as a holiday"
    assert "Christmas" in holiday_on(date(2026, 12, 25), entries)
    assert "Independence Day" in holiday_on(date(2027, 7, 4), ["US"])
    assert holiday_on(date(2027, 1, 2), ["GB-SCT"]) != "" and holiday_on(date(2027, 1, 2), ["GB-ENG"]) == "", "2 January: Scotland only"


@pytest.mark.parametrize("name", ["DE-XX", "ZZ", "Bavaria"])
def test_an_unknown_calendar_is_refused_with_how_to_name_one(name: str) -> None:
    with pytest.raises(InvalidInput, match="Unknown holiday calendar.*such as DE-BY"):
        validated([name])
