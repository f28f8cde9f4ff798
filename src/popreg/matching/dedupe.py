"""Duplicate detection across the register (``popreg match dedupe``).

The whole register (or one province) is read in one query, normalised, scored by the linkage model
trained on it without labels, and the pairs at or above the threshold are grouped into clusters
(connected components: if A matches B and B matches C, the three are reviewed together). The run
and every member of every cluster are written to ``duplicate_runs`` and ``duplicate_candidates``
(status ``open``) for officials to review; nothing in the register itself changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from popreg.kit.clock import utc_now
from popreg.kit.errors import InvalidInput
from popreg.matching.choices import DEFAULT_THRESHOLD
from popreg.matching.frames import normalise_frame
from popreg.matching.models import DuplicateCandidate, DuplicateRun
from popreg.matching.register import register_frame
from popreg.matching.splink_model import train

"""Pairs at or above this match probability are clustered for review (see docs/matching.md)."""


@dataclass(frozen=True)
class DedupeSummary:
    run_id: int
    persons_scanned: int
    pairs_scored: int
    clusters: int
    persons_in_clusters: int
    threshold: float


def check_threshold(threshold: float) -> None:
    if not 0.0 < threshold < 1.0:
        raise InvalidInput(
            f"The threshold must be a probability between 0 and 1 (exclusive), not {threshold}.",
            code="MATCH_THRESHOLD_INVALID",
            details={"threshold": threshold},
        )


def find_duplicates(
    session: Session,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    province_code: str | None = None,
    actor: str = "system:cli",
    backend: str = "duckdb",
) -> tuple[DedupeSummary, pd.DataFrame]:
    """Run duplicate detection in the caller's transaction; returns the summary and the clustered pairs."""
    check_threshold(threshold)
    run = DuplicateRun(
        started_at=utc_now(), status="running", threshold=threshold, actor=actor, persons_scanned=0, pairs_scored=0
    )
    session.add(run)
    session.flush()
    persons = register_frame(session, province_code=province_code)
    pairs = pd.DataFrame({"unique_id_l": [], "unique_id_r": [], "match_probability": []})
    members = pd.DataFrame({"unique_id": [], "cluster_id": []})
    scored = 0
    if len(persons) >= 2:
        linker = train([normalise_frame(persons)], link_type="dedupe_only", backend=backend)
        predictions = linker.linker.inference.predict()
        all_pairs = predictions.as_pandas_dataframe()
        scored = len(all_pairs)
        pairs = all_pairs[all_pairs["match_probability"] >= threshold]
        clustered = linker.clusters(predictions, threshold)
        sizes = clustered.groupby("cluster_id")["unique_id"].transform("size")
        members = clustered[sizes > 1]
    best: dict[str, float] = {}
    for left, right, probability in pairs[["unique_id_l", "unique_id_r", "match_probability"]].itertuples(index=False):
        for person in (str(left), str(right)):
            best[person] = max(best.get(person, 0.0), float(probability))
    provinces = dict(zip(persons["record_id"].astype(str), persons["province_code"], strict=True))
    cluster_names = {cluster: f"{run.id}-{n + 1}" for n, cluster in enumerate(sorted(members["cluster_id"].unique()))}
    session.add_all(
        DuplicateCandidate(
            run_id=run.id,
            cluster_id=cluster_names[cluster],
            person_id=int(person),
            province_code=provinces.get(str(person)) or None,
            match_probability=round(best.get(str(person), threshold), 6),
            status="open",
        )
        for person, cluster in members[["unique_id", "cluster_id"]].itertuples(index=False)
    )
    run.status, run.finished_at = "finished", utc_now()
    run.persons_scanned, run.pairs_scored, run.clusters = len(persons), scored, len(cluster_names)
    session.flush()
    summary = DedupeSummary(
        run_id=run.id,
        persons_scanned=len(persons),
        pairs_scored=scored,
        clusters=len(cluster_names),
        persons_in_clusters=len(members),
        threshold=threshold,
    )
    return summary, pairs
