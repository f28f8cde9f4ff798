"""The Spark backend (``--backend spark``), for national volumes: Splink trains the same model on a local
Spark session (PySpark and a Java runtime), and the model it gives finds the same duplicates as DuckDB's.

Slow (a JVM, and many small Spark jobs on two cores): one training per backend for the whole module.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from matching_builders import population
from popreg.matching.blocking import candidate_pairs
from popreg.matching.frames import normalise_frame, records_from_frame
from popreg.matching.scoring import Parameters, encode, score_indexed
from popreg.matching.splink_model import estimate_parameters

THRESHOLD = 0.99


@pytest.fixture(scope="module")
def register() -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """1,500 persons with a tenth planted as duplicates, and the planted pairs."""
    drawn = population(people=1500, seed=5, error_rate=0.1)
    persons = drawn.persons.to_pandas()
    frame = pd.DataFrame(
        {
            "record_id": persons["person_id"].astype(str),
            "full_name": persons["full_name"],
            "birth_date": persons["birth_date"],
            "birth_date_precision": persons["birth_date_precision"],
            "sex": persons["sex"],
        }
    )
    truth = drawn.truth.to_pandas()
    groups = truth.groupby("entity_id")["record_id"].apply(lambda ids: sorted(str(i) for i in ids))
    planted = {(ids[0], other) for ids in groups if len(ids) > 1 for other in ids[1:]}
    return normalise_frame(frame), planted


@pytest.fixture(scope="module")
def models(register: tuple[pd.DataFrame, set[tuple[str, str]]]) -> dict[str, Parameters]:
    normalised, _ = register
    return {
        backend: estimate_parameters([normalised], link_type="dedupe_only", backend=backend)
        for backend in ("duckdb", "spark")
    }


def _found(normalised: pd.DataFrame, parameters: Parameters) -> set[tuple[str, str]]:
    encoded = encode(records_from_frame(normalised))
    ids = normalised["unique_id"].astype(str).to_numpy()
    left, right = candidate_pairs(encoded)
    probabilities, _ = score_indexed(encoded, left, right, parameters)
    keep = probabilities >= THRESHOLD
    return {tuple(sorted((ids[a], ids[b]))) for a, b in zip(left[keep], right[keep], strict=True)}  # type: ignore[misc]


def test_spark_trains_the_model_duckdb_trains(models: dict[str, Parameters]) -> None:
    duckdb, spark = models["duckdb"], models["spark"]

    for name, levels in duckdb.levels.items():
        m_duckdb = np.array(levels)[:, 0]
        m_spark = np.array(spark.levels[name])[:, 0]
        # m comes from the same EM on the same blocked pairs; u from each engine's own random sample.
        assert np.max(np.abs(m_duckdb - m_spark)) < 0.02, name
    assert spark.prior == pytest.approx(duckdb.prior, rel=0.2)


def test_spark_s_model_finds_the_planted_duplicates_duckdb_s_model_finds(
    register: tuple[pd.DataFrame, set[tuple[str, str]]], models: dict[str, Parameters]
) -> None:
    normalised, planted = register

    by_duckdb, by_spark = _found(normalised, models["duckdb"]), _found(normalised, models["spark"])

    recall_duckdb, recall_spark = len(by_duckdb & planted) / len(planted), len(by_spark & planted) / len(planted)
    assert recall_spark > 0.8
    assert recall_spark >= recall_duckdb - 0.02
    assert len(by_duckdb ^ by_spark) <= 0.02 * len(by_duckdb | by_spark)


def test_without_pyspark_the_spark_backend_is_refused_with_what_to_install() -> None:
    # A fresh interpreter in which PySpark cannot be imported, as on a machine without it.
    program = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from popreg.matching.splink_model import database_api\n"
        "from popreg.kit.errors import DomainError\n"
        "try:\n"
        "    database_api('spark')\n"
        "except DomainError as error:\n"
        "    print(error.code, error.message)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)  # noqa: S603

    assert result.stdout.startswith("MATCH_BACKEND_UNAVAILABLE")
    assert "pip install pyspark" in result.stdout
