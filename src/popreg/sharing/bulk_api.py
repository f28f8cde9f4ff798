"""HTTP API of bulk verification: submit a file as a job, follow its progress, download its results.

``bulk_router``; a partner authenticates with its access token on every call and sees only its own
jobs. See :mod:`popreg.sharing.bulk` for how a job runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.database import Database
from popreg.kit.errors import Conflict, DomainError, InvalidInput
from popreg.kit.http import error_body
from popreg.kit.jobs import JobStatus
from popreg.sharing import bulk
from popreg.sharing.gate import PartnerContext, PartnerGate

bulk_router = APIRouter(prefix="/api/v1", tags=["verification"])
BULK_PATH = "/api/v1/verify/bulk"
MAX_UPLOAD_BYTES = 4 << 30
"""The largest file a partner can upload (about 40 million rows of CSV): the body-size limit of
:data:`BULK_PATH` (``BodySizeLimit(path_limits={BULK_PATH: MAX_UPLOAD_BYTES})``)."""
NO_STORE = {"Cache-Control": "no-store"}
_MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}

# Only for the OpenAPI document: each route authenticates the partner itself, so that a refusal is
# answered (and, for a submission, logged) by the same code as every other.
_partner_token = HTTPBearer(
    auto_error=False,
    scheme_name="PartnerToken",
    bearerFormat="JWT",
    description="An access token from POST /api/v1/oauth/token (client credentials, private_key_jwt).",
)

_SUBMIT_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8, header line) or Parquet: a pin column and claim columns "
                            "full_name, birth_date, sex, nationality, permanent_commune_code, permanent_address, "
                            "card_issued_on (any of them). An empty cell claims nothing.",
                        },
                        "purpose": {"type": "string", "maxLength": 120, "description": "A purpose of your policy."},
                        "legal_basis": {"type": "string", "maxLength": 300},
                        "mode": {"type": "string", "enum": ["exact", "normalised", "fuzzy"], "default": "normalised"},
                        "threshold": {"type": "number", "default": 0.85, "description": "Fuzzy mode: in (0, 1]."},
                        "result_format": {"type": "string", "enum": ["parquet", "csv"], "default": "parquet"},
                        "mapping": {
                            "type": "string",
                            "description": "Your column names, as COLUMN=FIELD pairs separated by commas "
                            "(so_cccd=pin,ho_ten=full_name); COLUMN=- leaves a column out.",
                        },
                    },
                }
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    "401": {"description": "No, invalid or expired access token (PARTNER_TOKEN_*)."},
    "403": {"description": "Suspended partner, or outside the policy (PARTNER_SUSPENDED, POLICY_*)."},
    "404": {"description": "No such job of yours (BULK_JOB_NOT_FOUND)."},
    "413": {"description": "The file is over the upload limit (INPUT_TOO_LARGE)."},
    "422": {
        "description": "A file that cannot be verified (BULK_FILE_*, BULK_COLUMNS_MISSING, BULK_MAPPING_INVALID, "
        "VERIFY_UNKNOWN_FIELD, VERIFY_NO_CLAIMS) or bad options (BULK_OPTION_INVALID, VERIFY_INVALID_THRESHOLD)."
    },
    "429": {"description": "Daily quota or rate reached (QUOTA_EXHAUSTED, RATE_LIMITED): a file costs one per row."},
}


def bulk_runner(app: FastAPI) -> bulk.BulkRunner:
    """The process's job runner (``app.state.bulk_runner``), started on first use if the application
    did not start one."""
    runner: bulk.BulkRunner | None = getattr(app.state, "bulk_runner", None)
    if runner is None:
        runner = bulk.BulkRunner(app.state.database, directory=Path(app.state.settings.bulk_directory))
        app.state.bulk_runner = runner
    runner.start()
    return runner


def _gate(request: Request) -> PartnerGate:
    gate: PartnerGate = request.app.state.partner_gate
    return gate


def _refused(error: DomainError, transaction_id: str | None = None) -> JSONResponse:
    headers = dict(NO_STORE)
    details = dict(error.details)
    if transaction_id is not None:
        headers["X-Transaction-Id"] = transaction_id
        details["transaction_id"] = transaction_id
    if error.status_code == 429 and "retry_after_seconds" in error.details:
        headers["Retry-After"] = str(error.details["retry_after_seconds"])
    elif error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="popreg"'
    return JSONResponse(error_body(error.code, error.message, details), status_code=error.status_code, headers=headers)


def _text(form: Any, name: str, *, default: str, limit: int) -> str:
    value = form.get(name, default)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} is text.", code="BULK_OPTION_INVALID", details={"field": name})
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(
            f"{name} takes at most {limit} characters.", code="BULK_OPTION_INVALID", details={"field": name}
        )
    return value


def _log_refusal(
    database: Database, *, transaction_id: str, principal: tuple[str, str], purpose: str, code: str
) -> None:
    with database.unit_of_work() as session:
        append_entries(
            session,
            [
                PendingEntry(
                    principal_kind=principal[0],
                    principal_id=principal[1][:120],
                    action=bulk.BULK_ACTION,
                    person_pin=None,
                    purpose=purpose[:120],
                    result=code[:40],
                    transaction_id=transaction_id,
                )
            ],
        )


def _store_upload(upload: UploadFile, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    upload.file.seek(0)
    with target.open("wb") as handle:
        shutil.copyfileobj(upload.file, handle, 1 << 22)


def _accept(
    database: Database,
    gate: PartnerGate,
    context: PartnerContext,
    *,
    job_id: str,
    directory: Path,
    upload: UploadFile,
    request: bulk.JobRequest,
) -> dict[str, Any]:
    """Store, check, authorise and record a submission (in a worker thread: it reads the whole file)."""
    target = bulk.source_path(directory, job_id)
    try:
        _store_upload(upload, target)
        layout = bulk.inspect_source(target, request.mapping)
        gate.authorise(
            context, operation="verify", fields=layout.fields, purpose=request.purpose, cost=max(1, layout.rows_total)
        )
        with database.unit_of_work() as session:
            job = bulk.create_job(session, job_id=job_id, request=request, layout=layout)
            summary = bulk.job_summary(job)
    except BaseException:
        bulk.remove_job_files(directory, job_id)
        raise
    return summary


@bulk_router.post(
    "/verify/bulk",
    operation_id="verify_bulk_submit",
    status_code=202,
    openapi_extra=_SUBMIT_FORM,
    responses=_ERRORS,
    dependencies=[Depends(_partner_token)],
)
async def submit_bulk_verification(request: Request) -> Response:
    """Verify a file of claims (millions of rows) as a job; answers 202 with the job's id at once.

    Send `Authorization: Bearer <access token>` and a multipart form: `file` (CSV in UTF-8 with a
    header line, or Parquet) with a `pin` column and any claim columns named as in `POST /api/v1/verify`
    (`full_name`, `birth_date`, `sex`, `nationality`, `permanent_commune_code`, `permanent_address`,
    `card_issued_on`) or renamed with `mapping`; a `purpose` of your policy; `mode` (`exact`,
    `normalised` or `fuzzy`) and `threshold`; `result_format` (`parquet` or `csv`).

    The whole file is refused at once if it cannot be verified (`BULK_FILE_EMPTY`,
    `BULK_FILE_UNREADABLE`, `BULK_FILE_ENCODING`, `BULK_COLUMNS_MISSING`, `VERIFY_UNKNOWN_FIELD`,
    `VERIFY_NO_CLAIMS`, ...); later, a malformed row only gets the result `invalid` with its code.
    Each row counts against your daily quota and rate. Follow the job at
    `GET /api/v1/verify/bulk/{job_id}` and download the results from `.../result`: one row per input
    row, with `row` (the CSV line, or the Parquet record), `pin`, `result`, `error_code`,
    `<field>_result` per claim, scores in fuzzy mode, `person_status` and `card_status`.
    """
    database: Database = request.app.state.database
    gate = _gate(request)
    job_id = bulk.new_job_id()
    principal, purpose = ("anonymous", "-"), ""
    form: Any = None
    try:
        context = gate.authenticate(request.headers.get("authorization"))
        principal = ("partner", context.partner_id)
        form = await request.form(max_files=1, max_fields=20)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Send the file as the form field 'file'.", code="BULK_FILE_MISSING")
        purpose = _text(form, "purpose", default="", limit=120)
        if not purpose:
            raise InvalidInput("A purpose is required.", code="BULK_OPTION_INVALID", details={"field": "purpose"})
        threshold_text = _text(form, "threshold", default="0.85", limit=20)
        try:
            threshold_value = float(threshold_text)
        except ValueError:
            raise InvalidInput(
                "The threshold is a number in (0, 1].", code="VERIFY_INVALID_THRESHOLD", details={"field": "threshold"}
            ) from None
        mode, threshold, result_format = bulk.check_options(
            mode=_text(form, "mode", default="normalised", limit=20),
            threshold=threshold_value,
            result_format=_text(form, "result_format", default="parquet", limit=10),
        )
        job = bulk.JobRequest(
            partner_id=context.partner_id,
            purpose=purpose,
            legal_basis=_text(form, "legal_basis", default="", limit=300),
            mode=mode.value,
            threshold=threshold,
            result_format=result_format,
            source_name=(upload.filename or "upload")[:300],
            mapping=bulk.parse_mapping(_text(form, "mapping", default="", limit=2000)),
        )
        runner = bulk_runner(request.app)
        summary = await run_in_threadpool(
            _accept, database, gate, context, job_id=job_id, directory=runner.directory, upload=upload, request=job
        )
    except DomainError as error:
        await run_in_threadpool(
            _log_refusal, database, transaction_id=job_id, principal=principal, purpose=purpose, code=error.code
        )
        return _refused(error, job_id)
    finally:
        if form is not None:
            await form.close()
    runner.notify()
    location = f"{BULK_PATH}/{job_id}"
    return JSONResponse(
        {**summary, "status_url": location, "result_url": f"{location}/result"},
        status_code=202,
        headers={**NO_STORE, "Location": location, "X-Transaction-Id": job_id},
    )


def _own_job(request: Request, job_id: str) -> dict[str, Any]:
    context = _gate(request).authenticate(request.headers.get("authorization"))
    database: Database = request.app.state.database
    with database.read_session() as session:
        return bulk.job_summary(bulk.get_job(session, job_id=job_id, partner_id=context.partner_id))


@bulk_router.get(
    "/verify/bulk/{job_id}",
    operation_id="verify_bulk_status",
    responses=_ERRORS,
    dependencies=[Depends(_partner_token)],
)
def bulk_verification_status(job_id: str, request: Request) -> Response:
    """Where your bulk verification job stands: `status` (`queued`, `running`, `completed`,
    `failed`), `rows_done` of `rows_total` (for a CSV, the line count until the job completes),
    `counts` of `match`, `no_match` and `invalid` so far, and `error` (`code`, `message`) if it failed."""
    try:
        summary = _own_job(request, job_id)
    except DomainError as error:
        return _refused(error)
    return JSONResponse(summary, headers=NO_STORE)


@bulk_router.get(
    "/verify/bulk/{job_id}/result",
    operation_id="verify_bulk_result",
    responses={**_ERRORS, "409": {"description": "The job has not completed (BULK_RESULT_NOT_READY)."}},
    dependencies=[Depends(_partner_token)],
)
def bulk_verification_result(job_id: str, request: Request) -> Response:
    """The results of a completed job, one row per input row, as Parquet (or CSV if you asked for it)."""
    try:
        summary = _own_job(request, job_id)
        if summary["status"] != JobStatus.COMPLETED:
            raise Conflict(
                f"The job is {summary['status']}; its results can be downloaded once it has completed.",
                code="BULK_RESULT_NOT_READY",
                details={"status": summary["status"], "rows_done": summary["rows_done"]},
            )
    except DomainError as error:
        return _refused(error)
    directory = bulk_runner(request.app).directory
    path = bulk.result_path(directory, job_id, summary["result_format"])
    stem = Path(summary["source_name"]).stem or "bulk"
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[summary["result_format"]],
        filename=f"{stem}-verified.{summary['result_format']}",
        headers=NO_STORE,
    )
