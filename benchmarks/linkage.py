"""Record linkage: precision, recall and F1 at a threshold fixed in advance, and pairs scored per second.

Data sets: FEBRL4 (link two files) and FEBRL3 (deduplicate), shipped inside the recordlinkage
package, and the synthetic population with labelled duplicates (``popreg synth``'s generator).
Methods, run on the same machine:

* ``popreg``: popreg's model (Vietnamese normalisation, its comparison levels and blocking rules),
  trained without labels by Splink on DuckDB and predicted by Splink; ``popreg (NumPy scorer)``
  is what ``popreg match dedupe`` and ``link`` run: the same blocking rules in NumPy
  (``matching.blocking``, the same pairs as Splink's) scored with the same trained m/u in popreg's
  vectorised scorer (rapidfuzz + NumPy).
* ``splink-default``: Splink's library comparisons (NameComparison, DateOfBirthComparison,
  ExactMatch) with its usual training (u by random sampling, m by EM), FEBRL only.
* ``recordlinkage``: recordlinkage's documented approach: a blocked index, string comparisons
  (Jaro-Winkler >= 0.85), exact dates and postcodes, the ECM classifier; FEBRL only.

Precision and recall are over pairs: a predicted pair is a pair at probability >= THRESHOLD (or
classified as a match), a true pair is one the data set labels. Pairs per second is the number of
blocked candidate pairs scored divided by the time of that step only; "scored" means every
comparison's level, the full match weight (with term-frequency adjustments) and the match
probability of each pair. For Splink it is ``predict`` (blocking included); for the NumPy scorer
the records are encoded once beforehand (reported as ``encode_s``), the pairs blocked once
(``block_s``), and the rate is the median of at least RUNS runs (more for small files, up to two
seconds). Training is timed separately
(``train_s``); above 100,000 records it runs on a random sample of 100,000 (see
``splink_model.TRAINING_SAMPLE``), which is unsupervised either way.

FEBRL mapping: popreg compares given name, surname, date of birth, soc_sec_id (as an identifier),
street number and address_1 (as the address line), postcode, suburb (as the locality) and state
(as the province); Splink's defaults here compare given name, surname, date of birth, postcode,
suburb and soc_sec_id; recordlinkage given name, surname, date of birth, suburb, state and
address_1.

    .venv/bin/python benchmarks/linkage.py [--people 100000] [--error-rate 0.05] [--skip-febrl]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from popreg.matching.blocking import candidate_pairs
from popreg.matching.frames import normalise_frame, records_from_frame
from popreg.matching.scoring import encode, score_indexed
from popreg.matching.splink_model import train

THRESHOLD = 0.9
"""Fixed before any run: a pair at or above this probability is predicted to be one person."""
RUNS = 5
"""The NumPy scorer's rate is the median of at least this many runs over the same pairs."""


def _f1(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _pair(a: Any, b: Any) -> tuple[str, str]:
    x, y = str(a), str(b)
    return (x, y) if x < y else (y, x)


def _predicted(predictions: pd.DataFrame, probabilities: np.ndarray) -> set[tuple[str, str]]:
    above = predictions.loc[probabilities >= THRESHOLD, ["unique_id_l", "unique_id_r"]]
    return {_pair(a, b) for a, b in above.itertuples(index=False)}


def _ordered(first: np.ndarray, second: np.ndarray, probabilities: Any) -> pd.DataFrame:
    """Pairs of ids as (lower, higher) with their probabilities, to line up two scorers' pairs."""
    a, b = first.astype(str), second.astype(str)
    return pd.DataFrame({"low": np.where(a < b, a, b), "high": np.where(a < b, b, a), "p": np.asarray(probabilities)})


def _popreg(tables: list[pd.DataFrame], link_type: str, truth: set[tuple[str, str]]) -> list[dict[str, Any]]:
    started = time.perf_counter()
    normalised = [normalise_frame(table) for table in tables]
    normalise_seconds = time.perf_counter() - started
    started = time.perf_counter()
    linker = train(normalised, link_type=link_type)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predictions = linker.predict()
    predict_seconds = time.perf_counter() - started
    predicted = _predicted(predictions, predictions["match_probability"].to_numpy())
    splink_row = {
        "method": "popreg (Splink predict)",
        "pairs": len(predictions),
        "pairs_per_second": round(len(predictions) / predict_seconds),
        "normalise_s": round(normalise_seconds, 2),
        "train_s": round(train_seconds, 2),
        **_f1(predicted, truth),
    }
    # The path of `popreg match dedupe` and `link`: the records encoded once, the pairs of the blocking
    # rules generated in NumPy (timed once as block_s), then each run scores every pair with the trained
    # parameters. The pairs are Splink's own (checked below), so the two rows compare the same work.
    combined = pd.concat(normalised, ignore_index=True)
    started = time.perf_counter()
    encoded = encode(records_from_frame(combined))
    encode_seconds = time.perf_counter() - started
    ids = combined["unique_id"].astype(str).to_numpy()
    started = time.perf_counter()
    if link_type == "link_only":
        left, right = candidate_pairs(encoded, left_size=len(normalised[0]))
    else:
        left, right = candidate_pairs(encoded, rank=np.argsort(np.argsort(ids, kind="stable")))
    block_seconds = time.perf_counter() - started
    parameters = linker.parameters()
    rates: list[float] = []
    first = time.perf_counter()
    # At least RUNS runs, and more (up to 200) until two seconds have passed: a small file's few
    # thousand pairs take milliseconds, which one busy moment of the machine would dominate.
    while len(rates) < RUNS or (time.perf_counter() - first < 2.0 and len(rates) < 200):
        started = time.perf_counter()
        probabilities, _ = score_indexed(encoded, left, right, parameters)
        rates.append(len(left) / (time.perf_counter() - started))
    ours = _ordered(ids[left], ids[right], probabilities)
    theirs = _ordered(
        predictions["unique_id_l"].to_numpy(), predictions["unique_id_r"].to_numpy(), predictions["match_probability"]
    )
    both = ours.merge(theirs, on=["low", "high"], how="outer", suffixes=("", "_splink"))
    above = ours[ours["p"] >= THRESHOLD]
    numpy_predicted = set(zip(above["low"], above["high"], strict=True))
    difference = float((both["p"] - both["p_splink"]).abs().max()) if len(both) else 0.0
    numpy_row = {
        "method": "popreg (NumPy scorer)",
        "pairs": len(left),
        "pairs_per_second": round(float(np.median(rates))),
        "encode_s": round(encode_seconds, 2),
        "block_s": round(block_seconds, 2),
        "same_pairs_as_splink": bool(both["p"].notna().all() and both["p_splink"].notna().all()),
        "max_difference_to_splink": difference,
        **_f1(numpy_predicted, truth),
    }
    return [splink_row, numpy_row]


def _febrl_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """FEBRL's fields as popreg's: soc_sec_id is the identifier, suburb the locality, state the province."""
    born = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
    address = frame[["street_number", "address_1"]].fillna("").astype(str).agg(" ".join, axis=1).str.strip()
    return pd.DataFrame(
        {
            "record_id": frame.index.astype(str),
            "family_name": frame["surname"].fillna(""),
            "given_name": frame["given_name"].fillna(""),
            "birth_date": born.dt.strftime("%Y-%m-%d").where(born.notna(), None),
            "address": address,
            "identifier": frame["soc_sec_id"],
            "postcode": frame["postcode"],
            "locality": frame["suburb"],
            "province_code": frame["state"],
        }
    )


def _splink_default(tables: list[pd.DataFrame], link_type: str, truth: set[tuple[str, str]]) -> dict[str, Any]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    api = DuckDBAPI()
    prepared = []
    for index, table in enumerate(tables):
        copy = table.copy()
        copy["unique_id"] = copy.index.astype(str)
        copy["date_of_birth"] = pd.to_datetime(copy["date_of_birth"], format="%Y%m%d", errors="coerce")
        prepared.append(api.register(copy, dataset_display_name=f"febrl_{index}"))
    settings = SettingsCreator(
        link_type=link_type,
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("soc_sec_id"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
        ],
    )
    linker = Linker(prepared if len(prepared) > 1 else prepared[0], settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    started = time.perf_counter()
    predictions = linker.inference.predict().as_pandas_dataframe()
    seconds = time.perf_counter() - started
    predicted = {
        _pair(a, b)
        for a, b, p in predictions[["unique_id_l", "unique_id_r", "match_probability"]].itertuples(index=False)
        if p >= THRESHOLD
    }
    return {
        "method": "Splink defaults",
        "pairs": len(predictions),
        "pairs_per_second": round(len(predictions) / seconds),
        **_f1(predicted, truth),
    }


def _recordlinkage(tables: list[pd.DataFrame], truth: set[tuple[str, str]]) -> dict[str, Any]:
    import recordlinkage

    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.block("surname")
    indexer.block("date_of_birth")
    pairs = indexer.index(*tables)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", threshold=0.85, label="address_1")
    started = time.perf_counter()
    features = compare.compute(pairs, *tables)
    seconds = time.perf_counter() - started
    matches = recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features)
    predicted = {_pair(a, b) for a, b in matches}
    return {
        "method": "recordlinkage (ECM)",
        "pairs": len(pairs),
        "pairs_per_second": round(len(pairs) / seconds),
        **_f1(predicted, truth),
    }


def febrl() -> list[dict[str, Any]]:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    rows: list[dict[str, Any]] = []
    dedupe, links = load_febrl3(return_links=True)
    truth = {_pair(a, b) for a, b in links}
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("FEBRL3 dedupe", lambda: _popreg([_febrl_frame(dedupe)], "dedupe_only", truth)),
        ("FEBRL3 dedupe", lambda: _splink_default([dedupe], "dedupe_only", truth)),
        ("FEBRL3 dedupe", lambda: _recordlinkage([dedupe], truth)),
    ]
    left, right, links4 = load_febrl4(return_links=True)
    truth4 = {_pair(a, b) for a, b in links4}
    runs += [
        ("FEBRL4 link", lambda: _popreg([_febrl_frame(left), _febrl_frame(right)], "link_only", truth4)),
        ("FEBRL4 link", lambda: _splink_default([left, right], "link_only", truth4)),
        ("FEBRL4 link", lambda: _recordlinkage([left, right], truth4)),
    ]
    for dataset, run in runs:
        result = run()
        for row in result if isinstance(result, list) else [result]:
            rows.append({"dataset": dataset, **row})
    return rows


def synthetic(people: int, error_rate: float) -> list[dict[str, Any]]:
    from popreg.synth.generator import iter_population

    persons, residences, truth_tables = [], [], []
    for chunk in iter_population(people, seed=2024, error_rate=error_rate, duplicate_same_pin_share=0.0):
        persons.append(chunk.persons.to_pandas())
        residences.append(chunk.residences.to_pandas())
        truth_tables.append(chunk.truth.to_pandas())
    person_frame = pd.concat(persons, ignore_index=True)
    residence_frame = pd.concat(residences, ignore_index=True)
    # As popreg.matching.register reads the register: the last known permanent residence (the
    # current one, or a deceased person's latest closed one).
    permanent = residence_frame[residence_frame["kind"] == "permanent"].assign(open=residence_frame["valid_to"].isna())
    current = permanent.sort_values(["open", "valid_from"], ascending=False).drop_duplicates("person_id")
    frame = person_frame.merge(
        current[["person_id", "address_line", "unit_code", "unit_generation"]], on="person_id", how="left"
    ).rename(columns={"person_id": "record_id", "address_line": "address", "unit_code": "commune_code"})
    truth_frame = pd.concat(truth_tables, ignore_index=True)
    groups = truth_frame.groupby("entity_id")["record_id"].apply(list)
    truth = {_pair(a, b) for members in groups if len(members) > 1 for a in members for b in members if a != b}
    return [
        {"dataset": f"synthetic {people:,} (+{len(frame) - people:,} duplicates)", **row}
        for row in _popreg([frame], "dedupe_only", truth)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="Persons of the synthetic population.")
    parser.add_argument("--error-rate", type=float, default=0.05, help="Share of labelled duplicates.")
    parser.add_argument("--skip-febrl", action="store_true")
    options = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    rows = ([] if options.skip_febrl else febrl()) + synthetic(options.people, options.error_rate)
    header = f"{'dataset':<40} {'method':<26} {'pairs':>10} {'pairs/s':>11} {'P':>7} {'R':>7} {'F1':>7}"
    print(f"threshold {THRESHOLD}")
    print(header)
    for row in rows:
        print(
            f"{row['dataset']:<40} {row['method']:<26} {row['pairs']:>10,} {row['pairs_per_second']:>11,} "
            f"{row['precision']:>7.4f} {row['recall']:>7.4f} {row['f1']:>7.4f}"
        )
    print(json.dumps({"threshold": THRESHOLD, "results": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
