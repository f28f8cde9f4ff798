"""Build popreg's administrative-unit data files from a ``vietnam-provinces`` wheel.

The wheel (a GPL-3.0 package) is used here only as a source of facts: unit codes, names, types,
parents and the table converting pre-2025 communes to the communes formed on 1 July 2025. Nothing
of it is imported, executed or copied: its Python data modules (the lookup tables of both generations
and the conversion tables) are parsed with :mod:`ast` and only their literal values are read. Its
JSON file is not used: in 2026.9.0 it lags behind the Python tables (see the data README). The
output is three gzip-compressed JSON files in ``src/popreg/units/data/`` (see the README there).

Usage::

    pip download --no-deps --only-binary=:all: --python-version 3.12 -d WHEELS vietnam-provinces
    python scripts/build_units_data.py WHEELS/vietnam_provinces-2026.9.0-py3-none-any.whl

The argument may also be the folder the wheel was unpacked into. The script prints the counts it
found and refuses to write files whose counts or links do not add up.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import io
import json
import re
import sys
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "popreg" / "units" / "data"
PACKAGE = "vietnam_provinces"

# Division type as the statistics office names it -> the type word that starts a unit's name.
KIND_WORDS = {
    "tỉnh": "Tỉnh",
    "thành phố trung ương": "Thành phố",
    "thành phố": "Thành phố",
    "quận": "Quận",
    "huyện": "Huyện",
    "thị xã": "Thị xã",
    "xã": "Xã",
    "thị trấn": "Thị trấn",
    "phường": "Phường",
    "đặc khu": "Đặc khu",
}

EXPECTED = {
    "2025": {"province": 34, "commune": 3321},
    "pre2025": {"province": 63},
}

_SPACES = re.compile(r"\s+")


def clean_name(name: str) -> str:
    return unicodedata.normalize("NFC", _SPACES.sub(" ", name).strip())


def fold(text: str) -> str:
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold()
    return _SPACES.sub(" ", re.sub(r"[^\w\s]|_", " ", plain)).strip()


class Source:
    """Reads member files of the wheel, packed or unpacked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None

    def read(self, member: str) -> str:
        if self._zip is not None:
            return self._zip.read(member).decode("utf-8")
        return (self.path / member).read_text(encoding="utf-8")

    def metadata_version(self) -> str:
        names = (
            self._zip.namelist()
            if self._zip is not None
            else [str(p.relative_to(self.path)) for p in self.path.glob("*.dist-info/METADATA")]
        )
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        for line in io.StringIO(self.read(meta)):
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
        raise SystemExit("no Version in the wheel's METADATA")


# -- reading Python data modules as data ------------------------------------------------------


def literal(node: ast.expr) -> Any:
    """The value of a data expression: constants, enum members (by name), calls, tuples, lists."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        func = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        return (func, [literal(a) for a in node.args])
    if isinstance(node, ast.Tuple | ast.List):
        return [literal(e) for e in node.elts]
    raise ValueError(f"not a data expression: {ast.unparse(node)}")


def module_dicts(text: str) -> dict[str, dict[Any, Any]]:
    """Every module-level ``NAME = {...}`` / ``NAME: T = {...}`` dict, read as data."""
    out: dict[str, dict[Any, Any]] = {}
    for stmt in ast.parse(text).body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
            out[target.id] = {
                literal(k): literal(v) for k, v in zip(value.keys, value.values, strict=True) if k is not None
            }
    return out


def module_strings(text: str) -> dict[str, str]:
    """Module-level string constants such as ``__version__``."""
    out = {}
    for stmt in ast.parse(text).body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            out[stmt.targets[0].id] = stmt.value.value
    return out


def enum_values(text: str, class_name: str) -> dict[str, str]:
    """Member name -> value of a string enum defined in a module."""
    for stmt in ast.parse(text).body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == class_name:
            return {
                s.targets[0].id: s.value.value
                for s in stmt.body
                if isinstance(s, ast.Assign)
                and isinstance(s.targets[0], ast.Name)
                and isinstance(s.value, ast.Constant)
                and isinstance(s.value.value, str)
            }
    raise SystemExit(f"no class {class_name}")


def code_of(member: str | int, width: int) -> str:
    """``P_01`` / ``D_001`` / ``W_00004`` / ``4`` -> zero-padded code string."""
    digits = str(member).rsplit("_", 1)[-1]
    if not digits.isdigit():
        raise ValueError(f"not a code: {member!r}")
    return digits.zfill(width)


# -- building ------------------------------------------------------------------------------

Row = list[str]
Units = dict[str, list[Row]]
Levels = list[tuple[str, str, int, int | None]]
problems: list[str] = []


def unit_row(code: str, raw_name: str, division_type: str, parent: str | None) -> Row:
    name = clean_name(raw_name)
    kind = KIND_WORDS[division_type]
    if not name.startswith(kind + " "):
        if name.casefold().startswith(kind.casefold() + " "):
            problems.append(f"fixed case of type word: {code} {raw_name!r}")
            name = kind + name[len(kind) :]
        else:
            problems.append(f"name does not start with its type word {kind!r}: {code} {raw_name!r}")
    if name != raw_name:
        problems.append(f"cleaned name {code}: {raw_name!r} -> {name!r}")
    return [code, name, kind] if parent is None else [code, name, kind, parent]


def build_generation(src: Source, module: str, levels: Levels) -> Units:
    """Units of one generation from a lookup module: (mapping name, level, code width, parent width)."""
    folder = "/".join(part for part in (PACKAGE, module) if part)
    types = enum_values(src.read(f"{folder}/base.py"), "VietNamDivisionType")
    data = module_dicts(src.read(f"{folder}/_lookup.py"))
    out: dict[str, list[Row]] = {}
    for key, level, width, parent_width in levels:
        rows = []
        for number, (_cls, args) in data[key].items():
            name, code_member, type_member = args[0], args[1], args[2]
            code = code_of(code_member, width)
            if code != code_of(number, width):
                raise SystemExit(f"{module}{key}: key {number} holds {code_member}")
            parent = code_of(args[4], parent_width) if parent_width else None
            rows.append(unit_row(code, name, types[type_member], parent))
        out[level] = sorted(rows)
    return out


def build_current(src: Source) -> Units:
    return build_generation(
        src,
        "",
        [
            ("PROVINCE_MAPPING", "province", 2, None),
            ("WARD_MAPPING", "commune", 5, 2),
        ],
    )


def build_legacy(src: Source) -> Units:
    return build_generation(
        src,
        "legacy",
        [
            ("PROVINCE_MAPPING", "province", 2, None),
            ("DISTRICT_MAPPING", "district", 3, 2),
            ("WARD_MAPPING", "commune", 5, 3),
        ],
    )


def build_conversion(src: Source, current: Units, legacy: Units) -> dict[str, Any]:
    wards = module_dicts(src.read(f"{PACKAGE}/_ward_conversion_2025.py"))["OLD_TO_NEW"]
    provs = module_dicts(src.read(f"{PACKAGE}/_province_conversion_2025.py"))["OLD_TO_NEW"]
    effective = module_strings(src.read(f"{PACKAGE}/_ward_conversion_2025.py")).get("EFFECTIVE_DATE")

    new_names = {r[0]: r for r in current["commune"]}
    old_names = {r[0]: r for r in legacy["commune"]}

    def short(row: Row) -> str:
        return fold(row[1][len(row[2]) :])

    communes: dict[str, list[str]] = {}
    partly: list[str] = []
    for number, (_cls, (old_ref, new_refs)) in wards.items():
        _ref, (old_code, _district, _province, is_partly) = old_ref
        old = code_of(old_code, 5)
        if old != code_of(number, 5):
            raise SystemExit(f"ward conversion: key {number} holds {old_code}")
        targets = [code_of(args[0], 5) for _ref2, args in new_refs]
        # Best match first: the new commune bearing the old commune's own name, then the table's order.
        old_row = old_names.get(old)
        if old_row is not None:
            targets.sort(key=lambda c: 0 if c in new_names and short(new_names[c]) == short(old_row) else 1)
        communes[old] = targets
        if is_partly:
            partly.append(old)

    # A province's successors, derived from its communes' successors and ranked by how many of its
    # communes went to each. The old commune's province is taken from the pre-2025 list (commune ->
    # district -> province) rather than from the conversion record, because a few records carry a
    # wrong province (2026.9.0: ward 27691 of Tân An, Long An, is recorded under Tiền Giang, which
    # makes the package's own province table send Tiền Giang partly to Tây Ninh).
    district_province = {r[0]: r[3] for r in legacy["district"]}
    commune_province = {r[0]: district_province[r[3]] for r in legacy["commune"]}
    new_province = {r[0]: r[3] for r in current["commune"]}
    shares: Counter[tuple[str, str]] = Counter()
    for old, targets in communes.items():
        record_province = code_of(wards[int(old)][1][0][1][2], 2)
        old_province = commune_province.get(old, record_province)
        if old_province != record_province:
            problems.append(
                f"conversion record of commune {old} names province {record_province}, "
                f"the pre-2025 list puts it in {old_province}"
            )
        for t in targets:
            shares[old_province, new_province[t]] += 1
    provinces: dict[str, list[str]] = {}
    for (old_province, target), _count in shares.items():
        provinces.setdefault(old_province, []).append(target)
    for old_province, targets in provinces.items():
        targets.sort(key=lambda c: (-shares[old_province, c], c))
    for number, (_cls, (_old_ref, new_refs)) in provs.items():
        package_targets = {code_of(args[0], 2) for _ref, args in new_refs}
        if package_targets != set(provinces.get(code_of(number, 2), [])):
            problems.append(
                f"province {code_of(number, 2)}: package table says {sorted(package_targets)}, "
                f"derived from communes {provinces.get(code_of(number, 2))}"
            )

    return {
        "effective": effective,
        "province": dict(sorted(provinces.items())),
        "commune": dict(sorted(communes.items())),
        "partly_merged": sorted(partly),
    }


def check(current: Units, legacy: Units, conversion: dict[str, Any]) -> None:
    for generation, units in (("2025", current), ("pre2025", legacy)):
        for level, expected in EXPECTED[generation].items():
            if len(units[level]) != expected:
                raise SystemExit(f"{generation} {level}: {len(units[level])} units, expected {expected}")
        codes = [r[0] for rows in units.values() for r in rows]
        if len(codes) != len(set(codes)):
            raise SystemExit(f"{generation}: duplicate codes")
        by_level = {level: {r[0] for r in rows} for level, rows in units.items()}
        parent_level = {"commune": "district" if "district" in units else "province", "district": "province"}
        for level, rows in units.items():
            if level == "province":
                continue
            for r in rows:
                if r[3] not in by_level[parent_level[level]]:
                    raise SystemExit(f"{generation}: {r[0]} has unknown parent {r[3]}")
    current_provinces = {r[0] for r in current["province"]}
    legacy_provinces = {r[0] for r in legacy["province"]}
    if not current_provinces <= legacy_provinces:
        raise SystemExit("2025 province codes are not a subset of the pre-2025 ones")
    new_communes = {r[0] for r in current["commune"]}
    old_communes = {r[0] for r in legacy["commune"]}
    for old, targets in conversion["commune"].items():
        if old not in old_communes:
            problems.append(f"conversion from a commune not in the pre-2025 list: {old}")
        for t in targets:
            if t not in new_communes:
                raise SystemExit(f"conversion {old} -> unknown 2025 commune {t}")
    for old, targets in conversion["province"].items():
        if old not in legacy_provinces or not set(targets) <= current_provinces:
            raise SystemExit(f"province conversion {old} -> {targets} names unknown provinces")
    missing = sorted(old_communes - set(conversion["commune"]))
    if missing:
        problems.append(f"{len(missing)} pre-2025 communes have no conversion entry: {missing[:20]}")
    if set(conversion["province"]) != legacy_provinces:
        problems.append("province conversion does not cover every pre-2025 province")


def write(path: Path, payload: dict[str, Any]) -> int:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def report(line: str) -> None:
    sys.stderr.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="vietnam-provinces wheel (2026.x) or the folder it was unpacked into")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: the package's data/)")
    args = parser.parse_args(argv)

    src = Source(args.wheel)
    version = src.metadata_version()
    init = module_strings(src.read(f"{PACKAGE}/__init__.py"))
    source = {
        "package": "vietnam-provinces",
        "version": version,
        "data_version": init.get("__data_version__"),
        "license_of_package": "GPL-3.0-or-later (facts only are used)",
        "compiled_from": "Vietnam's General Statistics Office (now National Statistics Office) unit lists",
    }

    current = build_current(src)
    legacy = build_legacy(src)
    conversion = build_conversion(src, current, legacy)
    check(current, legacy, conversion)

    args.out.mkdir(parents=True, exist_ok=True)
    payloads: dict[str, dict[str, Any]] = {
        "units-2025.json.gz": {"generation": "2025", "source": source, **current},
        "units-pre2025.json.gz": {"generation": "pre2025", "source": source, **legacy},
        "conversion-2025.json.gz": {"source": source, **conversion},
    }
    sizes = {name: write(args.out / name, payload) for name, payload in payloads.items()}
    report(f"source: vietnam-provinces {version}, data retrieved {source['data_version']}")
    for generation, units in (("2025", current), ("pre2025", legacy)):
        counts = {level: len(rows) for level, rows in units.items()}
        kinds = Counter(r[2] for rows in units.values() for r in rows)
        report(f"{generation}: {counts} {dict(kinds)}")
    n_multi = sum(1 for t in conversion["commune"].values() if len(t) > 1)
    report(
        f"conversion: {len(conversion['province'])} provinces, {len(conversion['commune'])} communes "
        f"({len(conversion['partly_merged'])} partly merged, {n_multi} with several successors)"
    )
    for name, size in sizes.items():
        report(f"wrote {name}: {size} bytes")
    for line in problems:
        report(f"note: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
