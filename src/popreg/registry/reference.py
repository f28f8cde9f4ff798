"""Reference lists the register records a person against: ethnic groups and religions.

* Ethnic groups: the 54 groups officially recognised in Vietnam, with the two-digit codes of the
  General Statistics Office's list (Decision 121-TCTK/PPCĐ of 1979): "01" Kinh to "54" Rơ-măm.
  A person's ethnicity is stored as this code.
* Religions: "none" (Không) plus the religions recognised by the Government Committee for
  Religious Affairs, each under a stable lower-case code of popreg's own (for example
  ``"buddhism"``, ``"cao_dai"``), since no official numeric list covers all of them.

Both lists ship as JSON files inside the package (``popreg/registry/data``) and are read once per
process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

_DATA_PACKAGE = "popreg.registry"


@dataclass(frozen=True)
class EthnicGroup:
    """One of the 54 recognised ethnic groups: official two-digit code, Vietnamese and English name."""

    code: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Religion:
    """A religion a person may declare, or "none": stable code, Vietnamese and English name."""

    code: str
    name: str
    name_en: str


def ethnic_groups() -> list[EthnicGroup]:
    """The 54 ethnic groups in the order of their official codes."""
    return list(_ethnic_groups_by_code().values())


def get_ethnic_group(code: str) -> EthnicGroup | None:
    """The ethnic group with the official two-digit ``code`` ("01" is Kinh), if there is one."""
    return _ethnic_groups_by_code().get(code)


def religions() -> list[Religion]:
    """Every religion a person may declare: "none" first, then the recognised religions."""
    return list(_religions_by_code().values())


def get_religion(code: str) -> Religion | None:
    """The religion with the stable ``code`` ("none", "buddhism", ...), if there is one."""
    return _religions_by_code().get(code)


@cache
def _ethnic_groups_by_code() -> dict[str, EthnicGroup]:
    return {item["code"]: EthnicGroup(**item) for item in _load_items("ethnic_groups.json")}


@cache
def _religions_by_code() -> dict[str, Religion]:
    return {item["code"]: Religion(**item) for item in _load_items("religions.json")}


def _load_items(file_name: str) -> list[dict[str, str]]:
    text = files(_DATA_PACKAGE).joinpath("data", file_name).read_text(encoding="utf-8")
    items: list[dict[str, str]] = json.loads(text)["items"]
    return items
