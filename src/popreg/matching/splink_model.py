"""The linkage model written for Splink: comparisons, blocking rules, unsupervised training.

The comparisons have exactly the levels of :mod:`popreg.matching.scoring` (in the same order), so
the m and u probabilities that Splink estimates can be exported to the vectorised scorer and the
two give the same probability for a pair. Training needs no labels: u is estimated from random
pairs (almost all of which are different persons), m by expectation maximisation on pairs that
share a birth date, then on pairs with the same words of the name (each pass estimates the
comparisons its blocking rule does not fix), and the prior from the blocked pairs
(:func:`popreg.matching.scoring.estimate_prior`). Exact family and given names are adjusted for
the frequency of the name (term frequencies), in Splink and in the vectorised scorer alike.

DuckDB runs everything in process by default. ``backend="spark"`` runs the same model on a Spark
session for national volumes (``pip install pyspark``; Splink's Spark backend needs Java).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import pandas as pd

from popreg.kit.errors import InvalidInput
from popreg.matching.blocking import BLOCKING_RULES
from popreg.matching.choices import BACKENDS
from popreg.matching.scoring import (
    FUZZY_NAME,
    LEVELS,
    SIMILAR_ADDRESS,
    TF_COMPARISONS,
    TF_MINIMUM_U,
    Parameters,
    estimate_prior,
    load_parameters,
    prior_weight,
)


class BackendUnavailableError(InvalidInput):
    """The chosen linkage backend cannot run on this machine."""

    code = "MATCH_BACKEND_UNAVAILABLE"


def _name_comparison(column: str, *, with_initials: bool, term_frequencies: bool = False) -> dict[str, Any]:
    exact: dict[str, Any] = {
        "sql_condition": f"{column}_l = {column}_r OR name_key_l = name_key_r",
        "label_for_charts": "exact",
    }
    if term_frequencies and column in TF_COMPARISONS:
        exact |= {
            "tf_adjustment_column": column,
            "tf_adjustment_weight": 1.0,
            "tf_minimum_u_value": TF_MINIMUM_U,
            # The level holds reordered names too: its own u is the base of the adjustment.
            "disable_tf_exact_match_detection": True,
        }
    levels: list[dict[str, Any]] = [
        {"sql_condition": f"{column}_l IS NULL OR {column}_r IS NULL", "is_null_level": True},
        exact,
    ]
    if with_initials:
        levels.append(
            {
                "sql_condition": (
                    f"({column}_l = {column}_initials_l AND {column}_l = {column}_initials_r) OR "
                    f"({column}_r = {column}_initials_r AND {column}_r = {column}_initials_l)"
                ),
                "label_for_charts": "initials",
            }
        )
    levels += [
        {
            "sql_condition": (
                f"jaro_winkler_similarity({column}_l, {column}_r) >= {FUZZY_NAME} OR "
                f"damerau_levenshtein({column}_l, {column}_r) <= 1"
            ),
            "label_for_charts": "fuzzy",
        },
        {"sql_condition": "ELSE", "label_for_charts": "different"},
    ]
    return {"output_column_name": column, "comparison_levels": levels}


def _text_comparison(column: str, close: str | None) -> dict[str, Any]:
    """Exact, then ``close`` (an SQL condition) when given, then different."""
    levels: list[dict[str, Any]] = [
        {"sql_condition": f"{column}_l IS NULL OR {column}_r IS NULL", "is_null_level": True},
        {"sql_condition": f"{column}_l = {column}_r", "label_for_charts": "exact"},
    ]
    if close is not None:
        levels.append({"sql_condition": close, "label_for_charts": LEVELS[column][1]})
    levels.append({"sql_condition": "ELSE", "label_for_charts": "different"})
    return {"output_column_name": column, "comparison_levels": levels}


def _comparisons(term_frequencies: bool = False) -> list[dict[str, Any]]:
    birth = {
        "output_column_name": "birth",
        "comparison_levels": [
            {"sql_condition": "birth_days_l IS NULL OR birth_days_r IS NULL", "is_null_level": True},
            {
                "sql_condition": (
                    "birth_days_l = birth_days_r AND birth_precision_l = 'day' AND birth_precision_r = 'day'"
                ),
                "label_for_charts": "exact",
            },
            {
                "sql_condition": (
                    "birth_precision_l = 'day' AND birth_precision_r = 'day' AND birth_year_l = birth_year_r "
                    "AND birth_month_l = birth_dom_r AND birth_dom_l = birth_month_r"
                ),
                "label_for_charts": "swapped_day_month",
            },
            {
                # The same month or year where only that is known: far more common than the same day.
                "sql_condition": "birth_days_l = birth_days_r AND birth_precision_l = birth_precision_r",
                "label_for_charts": "same_imprecise",
            },
            {"sql_condition": "birth_year_l = birth_year_r", "label_for_charts": "same_year"},
            {"sql_condition": "abs(birth_days_l - birth_days_r) <= 366", "label_for_charts": "within_a_year"},
            {"sql_condition": "ELSE", "label_for_charts": "different"},
        ],
    }
    sex = {
        "output_column_name": "sex",
        "comparison_levels": [
            {"sql_condition": "sex_l IS NULL OR sex_r IS NULL", "is_null_level": True},
            {"sql_condition": "sex_l = sex_r", "label_for_charts": "same"},
            {"sql_condition": "ELSE", "label_for_charts": "different"},
        ],
    }
    place = {
        "output_column_name": "place",
        "comparison_levels": [
            {
                "sql_condition": (
                    "(commune_l IS NULL AND province_l IS NULL) OR (commune_r IS NULL AND province_r IS NULL)"
                ),
                "is_null_level": True,
            },
            {"sql_condition": "commune_l = commune_r", "label_for_charts": "same_commune"},
            {"sql_condition": "province_l = province_r", "label_for_charts": "same_province"},
            {"sql_condition": "ELSE", "label_for_charts": "different"},
        ],
    }
    address = {
        "output_column_name": "address",
        "comparison_levels": [
            {"sql_condition": "address_l IS NULL OR address_r IS NULL", "is_null_level": True},
            {"sql_condition": "address_l = address_r", "label_for_charts": "exact"},
            {
                "sql_condition": f"jaro_winkler_similarity(address_l, address_r) >= {SIMILAR_ADDRESS}",
                "label_for_charts": "similar",
            },
            {"sql_condition": "ELSE", "label_for_charts": "different"},
        ],
    }
    return [
        _name_comparison("family", with_initials=False, term_frequencies=term_frequencies),
        _name_comparison("middle", with_initials=True),
        _name_comparison("given", with_initials=False, term_frequencies=term_frequencies),
        birth,
        sex,
        place,
        address,
        _text_comparison("identifier", "damerau_levenshtein(identifier_l, identifier_r) <= 1"),
        _text_comparison("postcode", None),
        _text_comparison(
            "locality",
            f"jaro_winkler_similarity(locality_l, locality_r) >= {FUZZY_NAME} OR "
            "damerau_levenshtein(locality_l, locality_r) <= 1",
        ),
    ]


_TRAINING_RULES = ("l.birth_days = r.birth_days", "l.name_key = r.name_key")
"""EM passes: pairs born on the same day (trains the names, sex, place, address, ...), then pairs
with the same words of the name (trains the birth date). Each pass is a few pairs per record."""

TRAINING_SAMPLE = 100_000
"""Records the model is trained on at most (a random sample of larger tables)."""


def settings(link_type: str, parameters: Parameters | None = None) -> dict[str, Any]:
    """Splink settings for ``dedupe_only`` or ``link_only``, starting from the given parameters."""
    start = parameters or load_parameters()
    comparisons = _comparisons(start.term_frequencies)
    for comparison in comparisons:
        name = comparison["output_column_name"]
        for level, (m, u) in zip(comparison["comparison_levels"][1:], start.levels[name], strict=True):
            level["m_probability"], level["u_probability"] = m, u
    return {
        "link_type": link_type,
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": start.prior,
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [rule.sql for rule in BLOCKING_RULES],
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": False,
    }


def with_initials(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the initials of the middle name ("thi minh" -> "t m"), compared with an initial written,
    and the first letters of family and given name (blocking on postcode or locality)."""
    initials = [
        None if value is None or value is pd.NA else " ".join(word[0] for word in str(value).split())
        for value in frame["middle"].tolist()
    ]
    return frame.assign(
        middle_initials=initials,
        family_initial=frame["family"].str[:1],
        given_initial=frame["given"].str[:1],
    )


def database_api(backend: str) -> Any:
    """The Splink database API of a backend name, or a clear error saying what to install."""
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        try:
            from pyspark import SparkConf
            from pyspark.sql import SparkSession
        except ImportError:
            raise BackendUnavailableError(
                "The Spark backend needs PySpark and a Java runtime: install them with "
                "`pip install pyspark` (and a JDK 11 or newer), or use --backend duckdb.",
                details={"backend": backend},
            ) from None
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # The session Spark's own configuration names (spark-defaults.conf, a master URL); in-process
        # local mode without one. Splink's string similarities are Scala functions of the jar it ships,
        # and Splink checkpoints its intermediate tables: where the session has no checkpoint
        # directory, a temporary one is used.
        builder = SparkSession.builder.appName("popreg-matching")
        builder = builder.config("spark.jars", similarity_jar_location())
        if SparkConf().get("spark.master") is None:
            # Local mode on this machine's cores: a few shuffle partitions, not a cluster's 200.
            builder = builder.master("local[*]").config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
        session = builder.getOrCreate()
        if session.sparkContext.getCheckpointDir() is None:
            checkpoints = tempfile.mkdtemp(prefix="popreg-spark-")
            atexit.register(shutil.rmtree, checkpoints, ignore_errors=True)
            session.sparkContext.setCheckpointDir(checkpoints)
        return SparkAPI(spark_session=session)  # type: ignore[no-untyped-call]
    raise BackendUnavailableError(
        f"Unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}.", details={"backend": backend}
    )


@dataclass
class TrainedLinker:
    """A Splink linker over the given tables with its model trained on them."""

    linker: Any

    def parameters(self) -> Parameters:
        """The trained model as the parameters of the vectorised scorer."""
        model = self.linker.misc.save_model_to_json()
        levels: dict[str, list[list[float]]] = {}
        for comparison in model["comparisons"]:
            name = comparison["output_column_name"]
            values = []
            for level in comparison["comparison_levels"]:
                if level.get("is_null_level"):
                    continue
                values.append([float(level.get("m_probability", 0.0)), float(level.get("u_probability", 0.0))])
            levels[name] = values
        term_frequencies = any(
            level.get("tf_adjustment_column")
            for comparison in model["comparisons"]
            for level in comparison["comparison_levels"]
        )
        return Parameters.from_mapping(
            {
                "prior": model["probability_two_random_records_match"],
                "levels": levels,
                "term_frequencies": term_frequencies,
            }
        )

    def predict(self, threshold: float | None = None) -> pd.DataFrame:
        """Scored candidate pairs: unique_id_l, unique_id_r, match_probability (and source datasets)."""
        result = self.linker.inference.predict(threshold_match_probability=threshold)
        frame: pd.DataFrame = result.as_pandas_dataframe()
        return frame


def estimate_parameters(
    tables: list[pd.DataFrame],
    *,
    link_type: str,
    backend: str = "duckdb",
    train_model: bool = True,
    seed: int = 2024,
    term_frequencies: bool = True,
    sample: int | None = TRAINING_SAMPLE,
) -> Parameters:
    """The model of normalised tables (see :func:`popreg.matching.frames.normalise_frame`), for the
    vectorised scorer.

    With ``train_model`` the model is estimated on the tables themselves, without labels; without
    it (or when the tables are too small to estimate from, under 1,000 records) the shipped
    parameters are used as they are. Tables larger than ``sample`` records are trained on a random
    sample of that many (the same share of each table): m, u and the prior are properties of the
    population, not of its size, and a sample estimates them as well in a fraction of the time.
    The prior (the share of pairs that are one person) is estimated last, from the blocked pairs
    (:func:`popreg.matching.scoring.estimate_prior`). Only the training records are handed to the
    backend.
    """
    from splink import Linker

    # Splink warns of every level it cannot train; a comparison no source holds (no identifier in the
    # register) is expected to be all missing.
    logging.getLogger("splink").setLevel(logging.ERROR)
    api = database_api(backend)
    start = Parameters(**{**load_parameters().__dict__, "term_frequencies": term_frequencies})
    records = sum(len(table) for table in tables)
    if not (train_model and records >= 1000):
        return start
    prepared = [with_initials(table) for table in tables]
    if sample is not None and records > sample:
        prepared = [table.sample(frac=sample / records, random_state=seed) for table in prepared]
    registered = [api.register(table, dataset_display_name=f"input_{index}") for index, table in enumerate(prepared)]
    training_inputs = registered if len(registered) > 1 else registered[0]
    linker = Linker(training_inputs, settings(link_type, start), log_level=None)
    training_records = min(records, sample or records)
    linker.training.estimate_u_using_random_sampling(max_pairs=min(1e7, max(1e5, training_records * 10.0)), seed=seed)
    for rule in _TRAINING_RULES:
        before = TrainedLinker(linker).parameters()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except ValueError:
            # EM can drive a level's m towards zero on small or very clean data (Splink refuses values
            # that underflow): keep the model as it was before this pass.
            linker = Linker(training_inputs, settings(link_type, before), log_level=None)
    # Predict with the trained values kept away from 0 and 1, so that no single level decides alone.
    trained = TrainedLinker(linker).parameters().bounded()
    return _with_estimated_prior(
        Linker(training_inputs, settings(link_type, trained), log_level=None),
        trained,
        [len(table) for table in prepared],
        link_type,
    )


def train(
    tables: list[pd.DataFrame],
    *,
    link_type: str,
    backend: str = "duckdb",
    train_model: bool = True,
    seed: int = 2024,
    term_frequencies: bool = True,
    sample: int | None = TRAINING_SAMPLE,
) -> TrainedLinker:
    """A Splink linker over the whole tables with the model :func:`estimate_parameters` estimates.

    The commands score with the vectorised scorer; Splink's own predictions serve the test and the
    benchmark that hold the scorer to them.
    """
    from splink import Linker

    parameters = estimate_parameters(
        tables,
        link_type=link_type,
        backend=backend,
        train_model=train_model,
        seed=seed,
        term_frequencies=term_frequencies,
        sample=sample,
    )
    # A database API of its own: Splink caches tables (term frequencies) by name per API.
    api = database_api(backend)
    registered = [
        api.register(with_initials(table), dataset_display_name=f"input_{index}") for index, table in enumerate(tables)
    ]
    inputs = registered if len(registered) > 1 else registered[0]
    return TrainedLinker(Linker(inputs, settings(link_type, parameters), log_level=None))


def total_pairs(sizes: list[int], link_type: str) -> float:
    """How many pairs the tables make: within one table (dedupe) or across two (link)."""
    if link_type == "link_only" and len(sizes) == 2:
        return float(sizes[0]) * float(sizes[1])
    count = float(sum(sizes))
    return count * (count - 1) / 2


def _with_estimated_prior(linker: Any, parameters: Parameters, sizes: list[int], link_type: str) -> Parameters:
    """The parameters with the prior estimated from the match weights of the blocked pairs."""
    weights = linker.inference.predict().as_pandas_dataframe()["match_weight"].to_numpy(dtype="float64")
    prior = estimate_prior(weights - prior_weight(parameters.prior), total_pairs(sizes, link_type))
    return Parameters(prior=prior, levels=parameters.levels, term_frequencies=parameters.term_frequencies)


def level_names() -> dict[str, tuple[str, ...]]:
    """The levels of each comparison (for reports), as in the scorer."""
    return dict(LEVELS)
