"""Duplicate detection across the register (``popreg match dedupe``).

The register (or one province) is read in one query, without the records retired by a merge
(life status ``merged``: their survivor is read instead). The records are normalised, the linkage
model is trained on them without labels (Splink, :func:`popreg.matching.splink_model.estimate_parameters`),
the candidate pairs of the blocking rules are scored by the vectorised scorer, and the pairs at or
above the threshold are grouped into clusters (connected components: if A matches B and B matches
C, the three are reviewed together). A pair of persons that an official already found to be
different people (a dismissed cluster of an earlier run) is not proposed again: that pair is left
out before clustering, though the two may still meet in one cluster through a third person who
matches both. The run and every member of every cluster are written to ``duplicate_runs`` and
``duplicate_candidates`` (status ``open``) for officials to review; nothing in the register itself
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy.orm import Session

from popreg.kit.clock import utc_now
from popreg.kit.errors import InvalidInput
from popreg.matching.blocking import candidate_pairs
from popreg.matching.choices import DEFAULT_THRESHOLD
from popreg.matching.frames import normalise_frame, records_from_frame
from popreg.matching.models import DuplicateCandidate, DuplicateRun
from popreg.matching.register import register_frame
from popreg.matching.review import dismissed_pairs
from popreg.matching.scoring import IndexArray, encode, score_indexed
from popreg.matching.splink_model import estimate_parameters


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


@dataclass(frozen=True)
class Clusters:
    """Connected components of the matching pairs, over records numbered 0 .. n-1.

    ``members`` are the records in a cluster (components of one record are not clusters),
    ``number`` each member's cluster, numbered from 0 in the order of the cluster's smallest
    record id (as Splink names a cluster after that id).
    """

    members: IndexArray
    number: IndexArray

    @property
    def count(self) -> int:
        return int(self.number.max()) + 1 if len(self.number) else 0


def cluster(size: int, first: IndexArray, second: IndexArray, rank: IndexArray) -> Clusters:
    """Group records ``0 .. size-1`` linked by the pairs (``first[i]``, ``second[i]``) into clusters;
    ``rank`` orders the records by id."""
    if len(first) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Clusters(members=empty, number=empty)
    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([first, second]))
    # Each cluster is ordered by the smallest id among its members.
    smallest = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, component[members], rank[members])
    by_id = np.unique(smallest[component[members]], return_inverse=True)[1]
    order = np.lexsort((rank[members], by_id))
    return Clusters(members=members[order], number=by_id[order].astype(np.int64))


def _without_dismissed(
    session: Session, person_ids: NDArray[np.int64], first: IndexArray, second: IndexArray
) -> NDArray[np.bool_]:
    """Whether each pair may be proposed: False for the pairs officials dismissed earlier."""
    dismissed = dismissed_pairs(session)
    if not dismissed or len(first) == 0:
        return np.ones(len(first), dtype=bool)
    a, b = person_ids[first], person_ids[second]
    pairs = pd.MultiIndex.from_arrays([np.minimum(a, b), np.maximum(a, b)])
    return ~np.asarray(pairs.isin(dismissed), dtype=bool)


def find_duplicates(
    session: Session,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    province_code: str | None = None,
    actor: str = "system:cli",
    backend: str = "duckdb",
) -> tuple[DedupeSummary, pd.DataFrame]:
    """Run duplicate detection in the caller's transaction; returns the summary and the clustered
    pairs (unique_id_l, unique_id_r: person ids, the smaller as text on the left; match_probability;
    best first)."""
    check_threshold(threshold)
    run = DuplicateRun(
        started_at=utc_now(), status="running", threshold=threshold, actor=actor, persons_scanned=0, pairs_scored=0
    )
    session.add(run)
    session.flush()
    persons = register_frame(session, province_code=province_code)
    person_ids = persons["record_id"].to_numpy(dtype=np.int64)
    ids = person_ids.astype(str)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    first = second = np.zeros(0, dtype=np.int64)
    probabilities = np.zeros(0, dtype=np.float64)
    scored = 0
    if len(persons) >= 2:
        normalised = normalise_frame(persons)
        parameters = estimate_parameters([normalised], link_type="dedupe_only", backend=backend)
        encoded = encode(records_from_frame(normalised))
        first, second = candidate_pairs(encoded, rank=rank)
        scored = len(first)
        probabilities, _ = score_indexed(encoded, first, second, parameters)
        above = probabilities >= threshold
        first, second, probabilities = first[above], second[above], probabilities[above]
        kept = _without_dismissed(session, person_ids, first, second)
        first, second, probabilities = first[kept], second[kept], probabilities[kept]
    clusters = cluster(len(persons), first, second, rank)
    best = np.zeros(len(persons), dtype=np.float64)
    np.maximum.at(best, first, probabilities)
    np.maximum.at(best, second, probabilities)
    provinces = persons["province_code"].to_numpy(dtype=object)
    session.add_all(
        DuplicateCandidate(
            run_id=run.id,
            cluster_id=f"{run.id}-{number + 1}",
            person_id=int(person_ids[member]),
            province_code=provinces[member] or None,
            match_probability=round(float(best[member]), 6),
            status="open",
        )
        for member, number in zip(clusters.members.tolist(), clusters.number.tolist(), strict=True)
    )
    run.status, run.finished_at = "finished", utc_now()
    run.persons_scanned, run.pairs_scored, run.clusters = len(persons), scored, clusters.count
    session.flush()
    summary = DedupeSummary(
        run_id=run.id,
        persons_scanned=len(persons),
        pairs_scored=scored,
        clusters=clusters.count,
        persons_in_clusters=len(clusters.members),
        threshold=threshold,
    )
    pairs = pd.DataFrame({"unique_id_l": ids[first], "unique_id_r": ids[second], "match_probability": probabilities})
    pairs = pairs.sort_values(
        ["match_probability", "unique_id_l", "unique_id_r"], ascending=[False, True, True], ignore_index=True
    )
    return summary, pairs
