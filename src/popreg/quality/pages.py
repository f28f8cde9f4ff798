"""The console's data-quality dashboard (``/console/quality``): the nation's four headline measures, a
row per province, one scope's every measure with its numerator and denominator, and the trend over
the stored snapshots as small inline SVG lines (no script, nothing loaded from elsewhere).

The page reads what the API reads (:func:`popreg.quality.service.quality_for_official`), so the
jurisdiction is the same: a province officer sees their own province only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from popreg.kit.http import SessionDep
from popreg.quality import service
from popreg.quality.rules import MEASURES_BY_KEY, TREND_LENGTH, Kind
from popreg.quality.schemas import FigureRead, ScopeRead
from popreg.web.i18n import Translator, translator_for
from popreg.web.session import ConsoleOfficial
from popreg.web.templating import format_moment, render

router = APIRouter(prefix="/console", include_in_schema=False)
SPARKLINE_WIDTH = 120
VIETNAMESE_SEPARATORS = str.maketrans(",.", ".,")
SPARKLINE_HEIGHT = 28
# The measures shown as columns of the table of provinces (each headline, plus coverage, duplicates,
# confirmations by partners and the delay of births).
PROVINCE_COLUMNS = (
    "correct",
    "complete",
    "complete.census_coverage",
    "clean.current_unit_codes",
    "clean.duplicate_candidates",
    "live.touched_or_verified",
    "live.verified_recently",
    "live.birth_delay",
)


@dataclass(frozen=True, slots=True)
class Sparkline:
    """A trend as an SVG polyline: ``points`` in a ``width`` x ``height`` box, and words for readers
    who cannot see it."""

    points: str
    description: str
    width: int = SPARKLINE_WIDTH
    height: int = SPARKLINE_HEIGHT


def localised(text: str, language: str) -> str:
    """Digits as the language writes them: ``1.234.567`` and ``97,3`` in Vietnamese, ``1,234,567`` and
    ``97.3`` in English (``text`` is written the English way)."""
    if language != "vi":
        return text
    return text.translate(VIETNAMESE_SEPARATORS)


def shown(t: Translator, figure: FigureRead) -> str:
    """A figure's value as the official reads it: ``97.3 %``, ``0.0104`` or ``12 days``."""
    if figure.value is None:
        return t("quality.not_measured")
    if figure.kind is Kind.SHARE:
        return localised(f"{figure.value * 100:.1f} %", t.language)
    if figure.kind is Kind.RATIO:
        return localised(f"{figure.value:.4f}" if figure.value >= 0.0001 else "< 0.0001", t.language)
    return t("quality.days", days=localised(f"{figure.value:g}", t.language))


def sparkline(t: Translator, figure: FigureRead) -> Sparkline | None:
    """The trend line of a figure; none with fewer than two measured snapshots."""
    values = [point.value for point in figure.trend if point.value is not None]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    step = (SPARKLINE_WIDTH - 4) / (len(values) - 1)

    def height(value: float) -> float:
        # Drawn between the period's lowest and highest value; a steady value is a line across the middle.
        share = (value - low) / (high - low) if high > low else 0.5
        return SPARKLINE_HEIGHT - 3 - share * (SPARKLINE_HEIGHT - 6)

    points = " ".join(f"{2 + index * step:.1f},{height(value):.1f}" for index, value in enumerate(values))
    first = figure.model_copy(update={"value": values[0]})
    return Sparkline(
        points=points,
        description=t("quality.trend_words", count=len(values), first=shown(t, first), last=shown(t, figure)),
    )


@router.get("/quality")
def quality_page(
    request: Request,
    console: ConsoleOfficial,
    session: SessionDep,
    province: Annotated[str | None, Query(max_length=2)] = None,
) -> Response:
    """The dashboard: national summary and provinces for national officials; one province otherwise."""
    report = service.quality_for_official(
        session, principal=console.principal, province=province or None, trend_length=TREND_LENGTH
    )
    t = translator_for(request)
    focus: ScopeRead | None = report.national
    if province or focus is None:
        focus = report.provinces[0] if report.provinces else None
    return render(
        request,
        "quality/dashboard.html",
        {
            "report": report,
            "focus": focus,
            "measures": MEASURES_BY_KEY,
            "columns": PROVINCE_COLUMNS,
            "shown": lambda figure: shown(t, figure),
            "sparkline": lambda figure: sparkline(t, figure),
            "count": lambda value: "" if value is None else localised(f"{value:,}", t.language),
            "measured_at": format_moment(report.measured_at, t.language),
            "by_key": lambda scope: {figure.measure: figure for figure in scope.figures},
        },
    )
