"""Every operation of the OpenAPI document, sent bad input, answers a stable error and stores nothing.

The sweep reads ``GET /openapi.json`` and, for each operation, sends malformed JSON, a JSON array, each
declared body property with a wrong type, 5,000-character and NUL-bearing strings, bytes that are not
UTF-8, odd path and query parameters, and (for form and multipart endpoints) missing parts and garbage
files; once without credentials and once with the credentials of the principal the operation is for
(a national administrator, or a partner's access token). No answer may be a 5xx; every refusal has the
body ``{"error": {"code", "message"}}`` (the OAuth token endpoint: RFC 6749's ``{"error",
"error_description", "code"}``), and a refused request stores nothing but its own access-log entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders import sign_in
from popreg.kit.database import Base, Database
from popreg.officials.rules import Role
from popreg.sharing.bulk_api import BULK_PATH
from popreg.sharing.credentials import client_assertion
from popreg.sync.file_jobs import FILES_PATH as SYNC_FILES_PATH
from sharing_builders import TOKEN_URL, access_token, add_partner, token_form

TOKEN_PATH = "/api/v1/oauth/token"
LONG = "x" * 5000
# Stored by refusals on purpose: the access log (every gateway request and refused read is an entry).
# The partners' quota counts (partner_usage) are saved by the gate's refresher every few seconds, on its
# own schedule, so their row count says nothing about the request of the moment.
LOG_TABLES = {"access_log", "access_log_head", "access_log_item", "partner_usage"}
# A plausible value of each path parameter that names nothing in the (empty) register.
NEUTRAL_PATH = {
    "pin": "001190012345",
    "residence_id": "999999",
    "card_id": "999999",
    "consent_id": "999999",
    "number": "999999",
    "partner_id": "nobody",
    "kid": "nokey",
    "output": "png",
    "code": "00004",
    "job_id": "0" * 32,
}
# Already percent-encoded: empty-ish, negative, non-digit, over 64 bits, long, NUL, not UTF-8, unicode.
BAD_PATH = ["%20", "0", "-1", "1.5", "abc", "9" * 30, "x" * 3000, "%00", "%FF%FE", quote("ữ𝟙١٢"), "null"]
BODY_METHODS = {"post", "put", "patch"}
# Valid values of properties whose schema has no example (the gateway's msgspec contract), so that a
# probe's one wrong property is what the operation has to refuse.
NAMED = {
    "pin": "001190012345",
    "purpose": "account-opening",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "1990-05-12",
    "sex": "F",
    "nationality": "VNM",
    "permanent_commune_code": "00004",
    "permanent_address": "Số 12, ngõ 45, phố Đội Cấn",
    "card_issued_on": "2021-01-02",
    "legal_basis": "Luật Căn cước 2023",
}


@dataclass
class Probe:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    what: str = ""


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec.get("operationId", f"{self.method} {self.path}"))

    @property
    def principal(self) -> str:
        schemes = {name for requirement in self.spec.get("security", []) for name in requirement}
        if "PartnerToken" in schemes or self.path.startswith(BULK_PATH):
            return "partner"
        if "HTTPBearer" in schemes:
            return "official"
        return "public"


# --- the OpenAPI document ---------------------------------------------------------------------------


def _operations(client: TestClient) -> list[Operation]:
    document = client.get("/openapi.json").json()
    operations = [
        Operation(method, path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    _operations.components = document["components"]["schemas"]  # type: ignore[attr-defined]
    return operations


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = _operations.components  # type: ignore[attr-defined]
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [_resolve(option) for option in schema[key]]
            real = [option for option in options if option.get("type") != "null"]
            if real:
                return {**real[0], **{k: v for k, v in schema.items() if k not in (key, "$ref")}}
    return schema


def _kind(schema: dict[str, Any]) -> str:
    schema = _resolve(schema)
    if "enum" in schema:
        return "enum"
    return str(schema.get("type", "string" if "format" in schema else "object"))


def _plausible(schema: dict[str, Any], depth: int = 0, name: str = "") -> Any:
    """A value of the declared type (its example where there is one), to build on."""
    schema = _resolve(schema)
    if name in NAMED and schema.get("type") == "string" and "examples" not in schema:
        return NAMED[name]
    for key in ("examples", "example"):
        if key in schema and schema[key] not in (None, [], {}):
            return schema[key][0] if key == "examples" and isinstance(schema[key], list) else schema[key]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return 1
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_plausible(schema.get("items", {}), depth + 1)] if depth < 3 else []
    if kind == "object" or "properties" in schema:
        return _object(schema, depth + 1) if depth < 3 else {}
    if schema.get("format") == "date":
        return "2020-01-02"
    return "00004"


def _object(schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    schema = _resolve(schema)
    return {name: _plausible(prop, depth, name) for name, prop in schema.get("properties", {}).items()}


WRONG = {
    "string": [12345, ["a"], {"a": 1}],
    "enum": [7, "bogus-value"],
    "integer": ["abc", 1.5, 10**30],
    "number": ["abc", {"a": 1}],
    "boolean": ["maybe", 3],
    "array": ["text", {"a": 1}, [{"nested": [1]}]],
    "object": ["text", [1], 5],
}


def _wrong_values(schema: dict[str, Any]) -> list[Any]:
    kind = _kind(schema)
    values = list(WRONG.get(kind, WRONG["object"]))
    if kind in ("string", "enum"):
        values += [LONG, "a\u0000b", "\ud7ff\U0001d7d9"]
    if kind == "array":
        values += [[LONG], ["a\u0000b"], ["x"] * 500]
    return values


def _body_variants(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The base object with one property (or one property of a nested object) made wrong."""
    base = _object(schema)
    for name, prop in _resolve(schema).get("properties", {}).items():
        for value in _wrong_values(prop):
            yield f"{name}={str(value)[:20]!r}", {**base, name: value}
        nested = _resolve(prop)
        if nested.get("type") == "object" or "properties" in nested:
            inner = _object(nested)
            for sub, sub_schema in nested.get("properties", {}).items():
                for value in _wrong_values(sub_schema)[:3] + [LONG]:
                    yield f"{name}.{sub}={str(value)[:20]!r}", {**base, name: {**inner, sub: value}}
        if nested.get("type") == "array" and "properties" in _resolve(nested.get("items", {})):
            item_schema = _resolve(nested["items"])
            inner = _object(item_schema)
            for sub, sub_schema in item_schema.get("properties", {}).items():
                for value in _wrong_values(sub_schema)[:2]:
                    yield f"{name}[].{sub}={str(value)[:20]!r}", {**base, name: [{**inner, sub: value}]}


RAW_JSON = [
    b'{"full_name": "Nguy',
    b"[]",
    b'[{"pin": "001190012345"}]',
    b'"text"',
    b"null",
    b'{"a": "\xff\xfe"}',
    b"\xff\xfe{}",
    b"",
]


# --- the probes of one operation ---------------------------------------------------------------------


def _url(operation: Operation, path_values: dict[str, str], query: str = "") -> str:
    url = operation.path
    for name in _params(operation, "path"):
        url = url.replace("{" + name + "}", path_values.get(name, NEUTRAL_PATH.get(name, "1")))
    return url + (f"?{query}" if query else "")


def _params(operation: Operation, where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p.get("schema", {}) for p in operation.spec.get("parameters", []) if p["in"] == where}


def _query_values(schema: dict[str, Any]) -> list[str]:
    kind = _kind(schema)
    values = {"integer": ["abc", "1.5", "-1", "9" * 30], "number": ["abc", "nan", "inf"], "boolean": ["maybe"]}
    chosen = values.get(kind, ["bogus"] if kind == "enum" else [])
    if _resolve(schema).get("format") == "date":
        chosen.append("2024-02-30")
    return chosen + ["x" * 3000, "%00", "%FF%FE", quote("ữ𝟙١٢")]


def _probes(operation: Operation, *, full: bool) -> Iterator[Probe]:
    method = operation.method.upper()
    for name in _params(operation, "path"):
        for value in BAD_PATH if full else BAD_PATH[:6]:
            yield Probe(method, _url(operation, {name: value}), what=f"path {name}={value[:20]}")
    if full:
        for name, schema in _params(operation, "query").items():
            for value in _query_values(schema):
                yield Probe(method, _url(operation, {}, f"{name}={value}"), what=f"query {name}={value[:20]}")
    content = operation.spec.get("requestBody", {}).get("content", {})
    url = _url(operation, {})
    yield Probe(method, f"{url}?%FF%FE=%00&unknown={'x' * 3000}", what="undeclared query")
    if operation.path.startswith(BULK_PATH) and method == "POST":
        yield from _bulk_probes(url, full=full)
    elif operation.path == SYNC_FILES_PATH and method == "POST":
        yield from _sync_file_probes(url, full=full)
    elif "application/x-www-form-urlencoded" in content:
        yield from _form_probes(url, content["application/x-www-form-urlencoded"]["schema"], full=full)
    elif "application/json" in content or operation.method in BODY_METHODS:
        for raw in RAW_JSON if full else RAW_JSON[:3]:
            yield Probe(method, url, {"Content-Type": "application/json"}, content=raw, what=f"raw {raw[:20]!r}")
        if not full:
            return
        yield Probe(method, url, {"Content-Type": "text/plain"}, content=b"{}", what="text/plain body")
        schema = content.get("application/json", {}).get("schema")
        if schema:
            for what, body in _body_variants(schema):
                yield Probe(
                    method, url, {"Content-Type": "application/json"}, content=json.dumps(body).encode(), what=what
                )


def _form_probes(url: str, schema: dict[str, Any], *, full: bool) -> Iterator[Probe]:
    names = list(_resolve(schema).get("properties", {}))
    required = set(_resolve(schema).get("required", []))
    form = "application/x-www-form-urlencoded"
    yield Probe("POST", url, {"Content-Type": form}, content=b"", what="empty form")
    yield Probe("POST", url, {"Content-Type": "application/json"}, content=b'{"grant_type": 1}', what="json body")
    yield Probe("POST", url, {"Content-Type": form}, content=b"grant_type=\xff\xfe&scope=%FF", what="not utf-8")
    if not full:
        return
    yield Probe("POST", url, {"Content-Type": "multipart/form-data; boundary=zz"}, content=b"--zz\r\ngarbage")
    yield Probe("POST", url, files={"client_assertion": ("a.bin", b"\x00\xff" * 100)}, what="a file")
    for name in names:
        if name in required:
            yield Probe("POST", url, data={"drop": name}, what=f"without {name}")
        for value in (LONG, "a\x00b", "ữ𝟙"):
            yield Probe("POST", url, data={name: value}, what=f"{name}={value[:10]!r}")
    yield Probe("POST", url, data={"client_assertion": "a.b.c"}, what="assertion a.b.c")
    yield Probe("POST", url, data={"client_assertion": "e30.e30."}, what="assertion {} {}")


def _bulk_probes(url: str, *, full: bool) -> Iterator[Probe]:
    csv = b"pin,sex\n001190012345,F\n"
    form = {"purpose": "account-opening"}
    yield Probe("POST", url, content=b"", what="no body")
    yield Probe("POST", url, {"Content-Type": "application/json"}, content=b'{"file": 1}', what="json body")
    yield Probe("POST", url, {"Content-Type": "multipart/form-data; boundary=zz"}, content=b"--zz\r\ngarbage")
    if not full:
        return
    yield Probe("POST", url, {"Content-Type": "multipart/form-data"}, content=b"--\r\n", what="no boundary")
    yield Probe("POST", url, data=form, what="without file")
    yield Probe("POST", url, files={"file": ("a.csv", csv)}, what="without purpose")
    garbage = {
        "empty": b"",
        "random bytes": bytes(range(256)) * 8,
        "not utf-8": "pin,full_name\n001190012345,Lê Nguyên\n".encode("cp1258"),
        "fake parquet": b"PAR1" + b"\x00garbage" * 20 + b"PAR1",
        "no pin column": b"name\nx\n",
        "ragged": b'pin,sex\n"001190012345,F\n\x00\xff,,,,\n',
    }
    for what, data in garbage.items():
        yield Probe("POST", url, data=form, files={"file": ("a.csv", data)}, what=f"file {what}")
    options = {
        "purpose": [LONG, "a\x00b", "ữ"],
        "threshold": ["abc", "nan", "inf", "-1", "1e999", "9" * 400],
        "mode": ["bogus", LONG],
        "result_format": ["xlsx", "\x00"],
        "mapping": ["=", "a=b=c", "pin=nope", LONG, "pin=\x00"],
        "legal_basis": [LONG],
    }
    for name, values in options.items():
        for value in values:
            fields = {**form, name: value}
            if name == "purpose":
                fields = {name: value}
            yield Probe("POST", url, data=fields, files={"file": ("a.csv", csv)}, what=f"{name}={value[:10]!r}")


def _sync_file_probes(url: str, *, full: bool) -> Iterator[Probe]:
    csv = b"pin,tax_code\n001190012345,0101234567\n"
    form = {"legal_basis": "Luật Quản lý thuế 2019", "observed_at": "2026-11-27T00:00:00+07:00"}
    yield Probe("POST", url, content=b"", what="no body")
    yield Probe("POST", url, {"Content-Type": "application/json"}, content=b'{"file": 1}', what="json body")
    yield Probe("POST", url, {"Content-Type": "multipart/form-data; boundary=zz"}, content=b"--zz\r\ngarbage")
    if not full:
        return
    yield Probe("POST", url, data=form, what="without file")
    garbage = {
        "empty": b"",
        "random bytes": bytes(range(256)) * 8,
        "not utf-8": "pin,full_name\n001190012345,Lê Nguyên\n".encode("cp1258"),
        "fake parquet": b"PAR1" + b"\x00garbage" * 20 + b"PAR1",
        "unknown column": b"pin,phone\n001190012345,0912\n",
        "ragged": b'pin,tax_code\n"001190012345,1\n\x00\xff,,,,\n',
    }
    for what, data in garbage.items():
        yield Probe("POST", url, data=form, files={"file": ("a.csv", data)}, what=f"file {what}")
    options = {
        "mapping": ["=", "a=b=c", "pin=nope", LONG, "pin=\x00"],
        "legal_basis": [LONG, "a\x00b"],
        "observed_at": ["yesterday", "2026-11-27", LONG],
        "result_format": ["xlsx", "\x00"],
    }
    for name, values in options.items():
        for value in values:
            fields = {**form, name: value}
            yield Probe("POST", url, data=fields, files={"file": ("a.csv", csv)}, what=f"{name}={value[:10]!r}")


# --- sending and judging ------------------------------------------------------------------------------


def _counter(database: Database) -> Callable[[], dict[str, int]]:
    tables = [table for table in Base.metadata.sorted_tables if table.name not in LOG_TABLES]
    query = select(*(select(func.count()).select_from(table).scalar_subquery() for table in tables))

    def counts() -> dict[str, int]:
        with database.engine.connect() as connection:
            row = connection.execute(query).one()
        return dict(zip((table.name for table in tables), row, strict=True))

    return counts


@dataclass
class Sweep:
    client: TestClient
    counts: Callable[[], dict[str, int]]
    problems: list[str] = field(default_factory=list)
    sent: int = 0
    statuses: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    def send(self, operation: Operation, probe: Probe, headers: dict[str, str], who: str) -> None:
        before = self.counts()
        response = self.client.request(
            probe.method,
            probe.url,
            headers={**probe.headers, **headers},
            content=probe.content,
            data=probe.data,
            files=probe.files,
        )
        self.sent += 1
        self.statuses.setdefault((operation.id, who), set()).add(response.status_code)
        label = f"{operation.id} [{who}] {probe.what or probe.url[:60]}: {response.status_code}"
        if response.status_code >= 500:
            self.problems.append(f"{label} {response.text[:200]}")
            return
        if response.status_code < 400:
            if probe.method != "GET":
                self.problems.append(f"{label} accepted bad input: {response.text[:200]}")
            return
        try:
            body = response.json()
        except ValueError:
            self.problems.append(f"{label} body is not JSON: {response.text[:100]!r}")
            return
        if not _well_formed(body, oauth=operation.path == TOKEN_PATH):
            self.problems.append(f"{label} body {str(body)[:200]}")
        after = self.counts()
        changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
        if changed:
            self.problems.append(f"{label} stored {changed}")


def _well_formed(body: Any, *, oauth: bool) -> bool:
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    if oauth and isinstance(error, str):
        return isinstance(body.get("error_description"), str) and isinstance(body.get("code"), str)
    return isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)


class Credentials:
    """The headers (or, for the token endpoint, the form fields) of each principal."""

    def __init__(self, client: TestClient, database: Database) -> None:
        self.official = sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
        self.keys = add_partner(
            database, verify_fields=["full_name", "birth_date", "sex"], operations=["verify", "read", "events"]
        )
        token = access_token(self.keys.partner_id, scope=("verify", "read", "events"))
        self.partner = {"Authorization": f"Bearer {token}"}

    def headers(self, principal: str) -> dict[str, str]:
        return self.official if principal == "official" else self.partner if principal == "partner" else {}

    def token_form(self, probe: Probe) -> Probe:
        """A probe of the token endpoint whose other fields are those of a valid, fresh request."""
        if probe.data is None:
            return probe
        assertion = client_assertion(self.keys.private_jwk, partner_id=self.keys.partner_id, token_url=TOKEN_URL)
        data = {**token_form(assertion), **probe.data}
        data.pop(data.pop("drop", ""), None)
        return Probe(probe.method, probe.url, probe.headers, probe.content, data, probe.files, probe.what)


def _sweep(client: TestClient, database: Database, principal: str) -> Sweep:
    credentials = Credentials(client, database)
    operations = [operation for operation in _operations(client) if operation.principal == principal]
    assert operations, principal
    sweep = Sweep(client, _counter(database))
    for operation in operations:
        for probe in _probes(operation, full=False):
            if probe.data is not None and "drop" in probe.data:
                continue
            sweep.send(operation, probe, {}, "anonymous")
        if operation.id == "official_logout":
            continue  # with credentials it would end the session the sweep uses
        for probe in _probes(operation, full=True):
            if operation.path == TOKEN_PATH:
                probe = credentials.token_form(probe)
            elif probe.data is not None:
                probe.data.pop("drop", None)
            sweep.send(operation, probe, credentials.headers(principal), principal)
    if principal == "official":
        assert client.get("/api/v1/auth/me", headers=credentials.official).status_code == 200
    # The credentials were good: with them, every operation answered something other than 401.
    unauthenticated = [
        operation.id
        for operation in operations
        if operation.id != "official_logout" and sweep.statuses.get((operation.id, principal), {401}) <= {401}
    ]
    assert not unauthenticated, unauthenticated
    return sweep


@pytest.mark.parametrize("principal", ["official", "partner", "public"])
def test_no_operation_answers_bad_input_with_a_server_error(client, database, principal):
    operations = _operations(client)
    assert {"verify_claims", "verify_claims_batch", "verify_bulk_submit", "issue_partner_token", "read_person"} <= {
        operation.id for operation in operations
    }
    sweep = _sweep(client, database, principal)
    assert sweep.sent > 100
    assert not sweep.problems, f"{len(sweep.problems)} of {sweep.sent} requests:\n" + "\n".join(sweep.problems[:60])
