"""Shapes of the data-quality API (``GET /api/v1/quality``), also rendered by the console and the CLI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from popreg.quality.rules import Dimension, Kind


class TrendPointRead(BaseModel):
    snapshot_id: int
    taken_at: datetime
    value: float | None = Field(description="The measure's value in that snapshot; empty if not measured then.")


class FigureRead(BaseModel):
    measure: str = Field(examples=["complete.birth_date_to_day"])
    dimension: Dimension
    label: str = Field(description="What the measure is, in English.")
    definition: str = Field(description="Exactly what is counted (docs/quality.md says more).")
    kind: Kind = Field(description="share (0-1 of the denominator), ratio (may pass 1) or median_days.")
    higher_is_better: bool
    headline: bool = Field(description="The measure that sums up its dimension on the dashboard.")
    numerator: int | None = Field(description="How many records meet the measure (empty for a median).")
    denominator: int | None = Field(description="How many records were measured (events, for a median).")
    value: float | None = Field(description="The share, ratio or median in days; empty when not measured.")
    trend: list[TrendPointRead] = Field(description="The value in the stored snapshots, oldest first.")


class ScopeRead(BaseModel):
    scope: str = Field(description="'national', a current province code such as '01', or 'none' (no home province).")
    name: str = Field(examples=["Thành phố Hà Nội"])
    figures: list[FigureRead]


class DuplicateRunRead(BaseModel):
    id: int
    finished_at: datetime


class QualityRead(BaseModel):
    """The register's data-quality measures: nationally (for national officials) and per province."""

    source: Literal["snapshot", "live"] = Field(
        description="snapshot: the latest stored measurement; live: measured for this request."
    )
    snapshot_id: int | None
    as_of: date = Field(description="The day of measurement (Vietnam time).")
    measured_at: datetime
    seconds: float = Field(description="How long the measurement took.")
    duplicate_run: DuplicateRunRead | None = Field(
        description="The `popreg match dedupe` run the duplicate measure comes from (none: not measured)."
    )
    national: ScopeRead | None = Field(description="The whole country; only for officials without a jurisdiction.")
    provinces: list[ScopeRead]
