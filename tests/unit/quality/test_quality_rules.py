"""The pure rules of the data-quality measures: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from popreg.quality.pages import localised, shown, sparkline
from popreg.quality.rules import (
    MEASURES,
    MEASURES_BY_KEY,
    Dimension,
    Figure,
    Kind,
    census_by_province,
    format_value,
    window_start,
)
from popreg.quality.schemas import FigureRead, TrendPointRead
from popreg.quality.service import census_population
from popreg.web.i18n import Translator


def test_every_dimension_has_exactly_one_headline_and_keys_are_unique():
    headlines = [measure.dimension for measure in MEASURES if measure.headline]
    assert sorted(headlines) == sorted(Dimension)
    assert len(MEASURES_BY_KEY) == len(MEASURES)


def test_a_share_of_nothing_has_no_value_rather_than_zero():
    assert Figure.share("correct", 0, 0).value is None
    assert Figure.share("correct", 3, 4).value == 0.75
    assert Figure.median("live.birth_delay", None, 0).value is None


def test_the_live_window_is_the_365_days_ending_on_the_day_of_measurement():
    assert window_start(date(2026, 6, 30)) == date(2025, 7, 1)


def test_census_population_is_summed_into_the_province_each_old_province_joined():
    assert census_by_province([("79", 10), ("74", 5), ("01", 7), ("99", 1)], {"79": "79", "74": "79", "01": "01"}) == {
        "79": 15,
        "01": 7,
    }


def test_the_shipped_census_covers_the_34_current_provinces_and_the_whole_country():
    census = census_population()
    assert len(census) == 34
    assert sum(census.values()) == 96_208_984
    assert census["79"] == 8_993_082 + 2_426_561 + 1_148_313


def test_values_are_written_for_people():
    assert format_value(MEASURES_BY_KEY["complete"], 0.97312) == "97.3%"
    assert format_value(MEASURES_BY_KEY["live.birth_delay"], 12.0) == "12 days"
    assert format_value(MEASURES_BY_KEY["clean.duplicate_candidates"], None) == "not measured"


def test_vietnamese_swaps_the_decimal_and_thousands_separators():
    assert localised("1,234,567", "vi") == "1.234.567"
    assert localised("97.3 %", "vi") == "97,3 %"
    assert localised("97.3 %", "en") == "97.3 %"


def _figure(values: list[float | None], kind: Kind = Kind.SHARE) -> FigureRead:
    moment = datetime(2026, 6, 30, tzinfo=UTC)
    return FigureRead(
        measure="complete",
        dimension=Dimension.COMPLETE,
        label="Complete records",
        definition="Persons alive with all three mandatory items.",
        kind=kind,
        higher_is_better=True,
        headline=True,
        numerator=None,
        denominator=None,
        value=values[-1],
        trend=[TrendPointRead(snapshot_id=i + 1, taken_at=moment, value=v) for i, v in enumerate(values)],
    )


def test_a_sparkline_rises_with_the_value_and_says_so_in_words():
    line = sparkline(Translator("en"), _figure([0.5, 0.75, 1.0]))
    assert line is not None
    heights = [float(point.split(",")[1]) for point in line.points.split()]
    assert heights[0] > heights[1] > heights[2]  # SVG's y grows downwards
    assert line.description == "Over the last 3 snapshots: from 50.0 % to 100.0 %."


def test_a_steady_value_is_a_flat_line_and_one_snapshot_no_line():
    flat = sparkline(Translator("en"), _figure([0.8, 0.8]))
    assert flat is not None
    assert len({point.split(",")[1] for point in flat.points.split()}) == 1
    assert sparkline(Translator("en"), _figure([0.8])) is None
    assert sparkline(Translator("en"), _figure([None, 0.8])) is None


def test_the_console_shows_ratios_and_days_in_the_officials_language():
    assert shown(Translator("vi"), _figure([0.0104], Kind.RATIO)) == "0,0104"
    assert shown(Translator("en"), _figure([12.5], Kind.MEDIAN_DAYS)) == "12.5 days"
    assert shown(Translator("vi"), _figure([None])) == "chưa đo"


def test_every_measure_is_defined_in_the_documentation():
    documentation = (Path(__file__).parents[3] / "docs" / "quality.md").read_text(encoding="utf-8")
    missing = [measure.key for measure in MEASURES if f"(`{measure.key}`)" not in documentation]
    assert not missing, f"docs/quality.md does not define {missing}"
