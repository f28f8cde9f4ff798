"""The vectorised scorer gives the probability Splink gives, pair for pair, with the same model, and
the blocking rules run in NumPy give the pairs Splink's blocking gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching_builders import population
from popreg.matching.blocking import candidate_pairs
from popreg.matching.frames import normalise_frame, records_from_frame
from popreg.matching.link import link_files
from popreg.matching.scoring import encode, score_indexed
from popreg.matching.splink_model import train


def _register_like() -> pd.DataFrame:
    """Synthetic persons with planted duplicates, plus an identifier, postcode and locality."""
    drawn = population(people=1500, seed=5, error_rate=0.1)
    persons = drawn.persons.to_pandas()
    rng = np.random.default_rng(5)
    # An agency's number is the person's own: a duplicate record carries its original's.
    entity = dict(zip(drawn.truth["record_id"].to_pylist(), drawn.truth["entity_id"].to_pylist(), strict=True))
    identifier = persons["person_id"].map(lambda person: f"79{entity[person]:09d}")
    mistyped = rng.random(len(persons)) < 0.05
    identifier = identifier.where(~mistyped, identifier.str[:-1] + "9")
    return pd.DataFrame(
        {
            "record_id": persons["person_id"].astype(str),
            "full_name": persons["full_name"],
            "birth_date": persons["birth_date"],
            "birth_date_precision": persons["birth_date_precision"],
            "sex": persons["sex"],
            "identifier": identifier.where(rng.random(len(persons)) < 0.8, None),
            "postcode": pd.Series(rng.integers(1000, 1010, len(persons)).astype(str)),
            "locality": pd.Series(rng.choice(["Ba Dinh", "Hoan Kiem", "Dong Da", "Cau Giay"], len(persons))),
        }
    )


@pytest.mark.parametrize("term_frequencies", [True, False])
def test_numpy_scores_equal_splink_predictions_within_1e6(term_frequencies: bool) -> None:
    normalised = normalise_frame(_register_like())
    linker = train([normalised], link_type="dedupe_only", term_frequencies=term_frequencies)
    predictions = linker.predict()
    assert len(predictions) > 500
    position = pd.Series(np.arange(len(normalised)), index=normalised["unique_id"].astype(str))
    left = position.loc[predictions["unique_id_l"].astype(str)].to_numpy()
    right = position.loc[predictions["unique_id_r"].astype(str)].to_numpy()

    probabilities, levels = score_indexed(encode(records_from_frame(normalised)), left, right, linker.parameters())

    assert linker.parameters().term_frequencies is term_frequencies
    assert np.max(np.abs(probabilities - predictions["match_probability"].to_numpy())) < 1e-6
    # The pairs cover the levels that matter: identifiers equal and one edit apart, names fuzzy.
    assert {1, 2} <= set(np.unique(levels["identifier"]).tolist())
    assert {1, 2, 3} <= set(np.unique(levels["given"]).tolist())


def _splink_pairs(predictions: pd.DataFrame) -> list[tuple[str, str]]:
    """Splink's pairs as (left file's id, right file's id), or (id_l, id_r) in deduplication."""
    if "source_dataset_l" not in predictions.columns:
        return list(zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True))
    left_first = predictions["source_dataset_l"] == "input_0"
    left = predictions["unique_id_l"].where(left_first, predictions["unique_id_r"])
    right = predictions["unique_id_r"].where(left_first, predictions["unique_id_l"])
    return list(zip(left, right, strict=True))


def test_the_blocking_rules_give_splinks_pairs_each_once_with_the_lower_id_first() -> None:
    records = _register_like()
    addresses = np.random.default_rng(6).choice(["Số 1 phố Huế", "Số 2 phố Huế", "Xóm 3"], len(records))
    normalised = normalise_frame(records.assign(address=addresses))
    expected = _splink_pairs(train([normalised], link_type="dedupe_only", train_model=False).predict())
    ids = normalised["unique_id"].to_numpy(dtype=str)
    rank = np.argsort(np.argsort(ids, kind="stable"))

    first, second = candidate_pairs(encode(records_from_frame(normalised)), rank=rank)

    found = list(zip(ids[first], ids[second], strict=True))
    assert len(found) == len(set(found)) == len(expected) > 1000
    assert set(found) == set(expected)


def test_linkage_blocking_gives_splinks_pairs_between_files_whose_ids_collide() -> None:
    records = _register_like()
    left, right = normalise_frame(records.iloc[:800]), normalise_frame(records.iloc[800:])
    # The right file numbers its records from 0 too: an id says nothing across files.
    right["unique_id"] = [str(n) for n in range(len(right))]
    expected = _splink_pairs(train([left, right], link_type="link_only", train_model=False).predict())
    ids = pd.concat([left, right], ignore_index=True)["unique_id"].to_numpy(dtype=object)

    first, second = candidate_pairs(encode(records_from_frame(pd.concat([left, right]))), left_size=len(left))

    assert (first < len(left)).all()
    assert (second >= len(left)).all()
    found = list(zip(ids[first], ids[second], strict=True))
    assert len(found) == len(set(found)) == len(expected) > 500
    assert set(found) == set(expected)


def test_a_linkage_gives_splinks_pairs_and_probabilities(tmp_path: Path) -> None:
    records = _register_like().drop(columns=["identifier"])
    records.iloc[:700].to_csv(tmp_path / "left.csv", index=False)
    records.iloc[600:].to_csv(tmp_path / "right.csv", index=False)
    mappings = [f"{field}={field}" for field in ("full_name", "birth_date", "sex", "postcode", "locality")]
    fields = ["record_id", "full_name", "birth_date", "sex", "postcode", "locality"]
    sides = [normalise_frame(records.iloc[:700][fields]), normalise_frame(records.iloc[600:][fields])]
    for side in sides:  # what link_files compares: no address, unit or identifier on either side
        side[["commune", "province", "address", "identifier"]] = None
    splink = train(sides, link_type="link_only").predict(0.5)
    expected = dict(zip(_splink_pairs(splink), splink["match_probability"], strict=True))

    result = link_files(
        None,
        left=tmp_path / "left.csv",
        right=tmp_path / "right.csv",
        id_column="record_id",
        mappings=mappings,
        threshold=0.5,
    )

    found = dict(
        zip(
            zip(result.pairs["left_id"], result.pairs["right_id"], strict=True),
            result.pairs["match_probability"],
            strict=True,
        )
    )
    assert set(found) == set(expected)
    assert len(found) > 100
    assert max(abs(found[pair] - expected[pair]) for pair in found) < 1e-6
