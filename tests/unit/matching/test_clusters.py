"""Clusters of likely duplicates: connected components of the matching pairs."""

from __future__ import annotations

import numpy as np

from popreg.matching.dedupe import cluster


def test_pairs_that_share_a_record_form_one_cluster_and_lone_records_none() -> None:
    # Records 0-1-2 chained, 3-4 a pair, 5 alone; ids order them as the records' positions.
    first, second = np.array([0, 1, 3]), np.array([1, 2, 4])

    clusters = cluster(6, first, second, rank=np.arange(6))

    assert clusters.count == 2
    assert clusters.members.tolist() == [0, 1, 2, 3, 4]
    assert clusters.number.tolist() == [0, 0, 0, 1, 1]


def test_clusters_are_numbered_in_the_order_of_their_smallest_id() -> None:
    # Ids as text: "10" sorts before "9", so the cluster holding record id 10 comes first.
    ids = np.array(["9", "11", "10", "12"])
    rank = np.argsort(np.argsort(ids))

    clusters = cluster(4, np.array([0, 2]), np.array([1, 3]), rank=rank)

    assert dict(zip(clusters.members.tolist(), clusters.number.tolist(), strict=True)) == {2: 0, 3: 0, 0: 1, 1: 1}


def test_no_pairs_make_no_clusters() -> None:
    empty = np.zeros(0, dtype=np.int64)

    clusters = cluster(3, empty, empty, rank=np.arange(3))

    assert (clusters.count, len(clusters.members)) == (0, 0)
