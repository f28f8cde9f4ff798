"""``GET /api/v1/quality``: the register's data-quality measures for officials, within their jurisdiction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from popreg.kit.http import SessionDep
from popreg.officials.dependencies import CurrentOfficial
from popreg.quality import service
from popreg.quality.rules import TREND_LENGTH
from popreg.quality.schemas import QualityRead

router = APIRouter(prefix="/api/v1", tags=["quality"])


@router.get("/quality", operation_id="get_data_quality", response_model=QualityRead)
def get_data_quality(
    session: SessionDep,
    official: CurrentOfficial,
    province: Annotated[
        str | None,
        Query(min_length=2, max_length=2, pattern=r"^\d{2}$", description="A current province code, e.g. 01."),
    ] = None,
    live: Annotated[
        bool, Query(description="Measure now instead of reading the latest stored snapshot (slower).")
    ] = False,
    trend: Annotated[int, Query(ge=1, le=60, description="How many stored snapshots the trend covers.")] = TREND_LENGTH,
) -> QualityRead:
    """The data-quality measures "correct, complete, clean, live" with their numerators, denominators and
    trend over the stored snapshots (definitions: docs/quality.md).

    National administrators and auditors without a jurisdiction see the nation and every province
    (or one, with `province`); a province officer sees their province, a commune officer the province of
    their commune. The figures come from the latest snapshot (`popreg quality snapshot`) unless `live`
    is set or none is stored. Refusals: `UNIT_UNKNOWN` (not a current province code),
    `JURISDICTION_DENIED` (another province), `AUTH_REQUIRED`.
    """
    return service.quality_for_official(session, principal=official, province=province, live=live, trend_length=trend)
