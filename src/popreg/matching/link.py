"""Linking an agency's file of persons to another file or to the register.

Each file keeps its own column names: ``--id`` names each file's record-id column and each
``COLUMN=FIELD`` mapping says which register field a column holds, in whichever file has that
column. Only the fields that both sides hold are compared (a middle name initial in one file
still matches the full middle name in the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from popreg.kit.errors import InvalidInput
from popreg.matching.blocking import candidate_pairs
from popreg.matching.choices import REGISTER
from popreg.matching.frames import normalise_frame, records_from_frame
from popreg.matching.register import register_frame
from popreg.matching.scoring import encode, score_indexed
from popreg.matching.splink_model import estimate_parameters

FIELDS = (
    "full_name",
    "family_name",
    "middle_name",
    "given_name",
    "birth_date",
    "birth_year",
    "sex",
    "address",
    "commune_code",
    "province_code",
    "pin",
    "identifier",
    "postcode",
    "locality",
)
"""The register fields a file's column can be mapped to (identifier, postcode and locality are
fields of agencies' files: an identity number such as an old ID-card or social-insurance number,
a postal code, a suburb, town or village name)."""


# What each field is compared as: the name parts count as one "name" comparison, and so on.
_COMPARED_AS = {
    "full_name": "name",
    "family_name": "name",
    "middle_name": "name",
    "given_name": "name",
    "birth_date": "birth",
    "birth_year": "birth",
    "sex": "sex",
    "address": "address",
    "commune_code": "place",
    "province_code": "place",
    "pin": "identifier",
    "identifier": "identifier",
    "postcode": "postcode",
    "locality": "locality",
}


class LinkInputError(InvalidInput):
    """A linkage request that cannot be run as given; the message says what to change."""

    code = "MATCH_INPUT_INVALID"


@dataclass(frozen=True)
class LinkResult:
    pairs: pd.DataFrame  # left_id, right_id, match_probability
    left_records: int
    right_records: int


def parse_mappings(mappings: list[str]) -> dict[str, str]:
    """``["ho_ten=full_name", ...]`` as {column: field}; an unknown field is refused."""
    parsed: dict[str, str] = {}
    for mapping in mappings:
        column, sep, field = mapping.partition("=")
        column, field = column.strip(), field.strip()
        if not sep or not column or not field:
            raise LinkInputError(
                f"--map {mapping!r} is not COLUMN=FIELD.", code="MATCH_MAPPING_INVALID", details={"map": mapping}
            )
        if field not in FIELDS:
            raise LinkInputError(
                f"--map {mapping!r}: {field!r} is not a register field; use one of {', '.join(FIELDS)}.",
                code="MATCH_FIELD_UNKNOWN",
                details={"map": mapping, "fields": list(FIELDS)},
            )
        parsed[column] = field
    return parsed


def read_table(path: Path) -> pd.DataFrame:
    """A CSV (UTF-8) or Parquet file, every column read as text (ids keep their leading zeros)."""
    if not path.is_file():
        raise LinkInputError(f"File {str(path)!r} does not exist.", code="MATCH_FILE_UNREADABLE")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
            return frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise LinkInputError(
            f"File {path.name!r} is neither a UTF-8 CSV nor a Parquet file: {error}",
            code="MATCH_FILE_UNREADABLE",
        ) from None


def _as_fields(frame: pd.DataFrame, id_column: str, mappings: dict[str, str], name: str) -> pd.DataFrame:
    if id_column not in frame.columns:
        raise LinkInputError(
            f"The {name} file has no column {id_column!r} (--id); "
            f"its columns are {', '.join(map(str, frame.columns))}.",
            code="MATCH_COLUMN_UNKNOWN",
            details={"file": name, "column": id_column},
        )
    picked = {column: field for column, field in mappings.items() if column in frame.columns}
    out = pd.DataFrame({field: frame[column] for column, field in picked.items()})
    out["record_id"] = frame[id_column].astype(str)
    return out


def link_files(
    session: Session | None,
    *,
    left: Path,
    right: Path | str,
    id_column: str,
    mappings: list[str],
    threshold: float,
    backend: str = "duckdb",
) -> LinkResult:
    """The candidate pairs between two files (or a file and the register) at or above the threshold,
    best first: the model is trained on both sides without labels (Splink), and the pairs that the
    blocking rules produce are scored by the vectorised scorer."""
    parsed = parse_mappings(mappings)
    left_frame = read_table(left)
    if str(right) == REGISTER:
        if session is None:
            raise LinkInputError("Linking to the register needs a database.", code="MATCH_INPUT_INVALID")
        right_fields = register_frame(session)
    else:
        right_frame = read_table(Path(right))
        right_fields = _as_fields(right_frame, id_column, parsed, "right")
    left_fields = _as_fields(left_frame, id_column, parsed, "left")
    # A PIN is compared as an identity number, like any other the files carry.
    for fields in (left_fields, right_fields):
        if "pin" in fields.columns and "identifier" not in fields.columns:
            fields["identifier"] = fields["pin"]
    unmapped = [
        c for c in parsed if c not in left_frame.columns and (str(right) == REGISTER or c not in right_frame.columns)
    ]
    if unmapped:
        raise LinkInputError(
            f"--map names column(s) {', '.join(unmapped)} found in neither file.",
            code="MATCH_COLUMN_UNKNOWN",
            details={"columns": unmapped},
        )
    compared = {_COMPARED_AS[f] for f in left_fields.columns if f in _COMPARED_AS} & {
        _COMPARED_AS[f] for f in right_fields.columns if f in _COMPARED_AS
    }
    if "name" not in compared or len(compared) < 2:
        raise LinkInputError(
            "The two sides must share a name and at least one more mapped field (birth date, sex, address "
            f"or unit); they share {', '.join(sorted(compared)) or 'none'}.",
            code="MATCH_NO_COMMON_FIELDS",
            details={"shared": sorted(compared)},
        )
    left_norm, right_norm = normalise_frame(left_fields), normalise_frame(right_fields)
    # A comparison only one side holds says nothing: both sides leave it empty.
    for kind, columns in _NORMALISED_BY.items():
        if kind not in compared:
            for frame in (left_norm, right_norm):
                frame[list(columns)] = None
    parameters = estimate_parameters([left_norm, right_norm], link_type="link_only", backend=backend)
    both = pd.concat([left_norm, right_norm], ignore_index=True)
    encoded = encode(records_from_frame(both))
    first, second = candidate_pairs(encoded, left_size=len(left_norm))
    probabilities, _ = score_indexed(encoded, first, second, parameters)
    above = probabilities >= threshold
    ids = both["unique_id"].to_numpy(dtype=object)
    pairs = pd.DataFrame(
        {
            "left_id": ids[first[above]],
            "right_id": ids[second[above]],
            "match_probability": np.round(probabilities[above], 6),
        }
    ).sort_values(["match_probability", "left_id", "right_id"], ascending=[False, True, True], ignore_index=True)
    return LinkResult(pairs=pairs, left_records=len(left_norm), right_records=len(right_norm))


_NORMALISED_BY = {
    "birth": ("birth_days", "birth_year", "birth_month", "birth_dom", "birth_precision"),
    "sex": ("sex",),
    "address": ("address",),
    "place": ("commune", "province"),
    "identifier": ("identifier",),
    "postcode": ("postcode",),
    "locality": ("locality",),
}
