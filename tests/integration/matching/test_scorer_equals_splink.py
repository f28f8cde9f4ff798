"""The vectorised scorer gives the probability Splink gives, pair for pair, with the same model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matching_builders import population
from popreg.matching.frames import normalise_frame, records_from_frame
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
