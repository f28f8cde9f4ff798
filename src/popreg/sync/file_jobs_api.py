"""HTTP API of sync files: an agency uploads a file of updates as a job, follows it, downloads the outcomes.

``files_router``; the agency authenticates with its access token on every call (the one of
``POST /api/v1/sync/updates``) and sees only its own jobs. See :mod:`popreg.sync.file_jobs` for how a
job runs and :mod:`popreg.sync.bulk_import` for the file's columns and checks.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from popreg.audit.service import PendingEntry, append_entries
from popreg.kit.database import Database
from popreg.kit.errors import Conflict, DomainError, InvalidInput
from popreg.kit.http import error_body
from popreg.sharing.gate import PartnerContext, PartnerGate
from popreg.sync import bulk_import, file_jobs
from popreg.sync.schemas import FileJobRead, FileJobStatus

files_router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
NO_STORE = {"Cache-Control": "no-store"}
_MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}

# Only for the OpenAPI document: each route authenticates the agency itself, so that a refusal is
# answered (and, for an upload, logged) by the same code as every other.
_partner_token = HTTPBearer(
    auto_error=False,
    scheme_name="PartnerToken",
    bearerFormat="JWT",
    description="An access token from POST /api/v1/oauth/token (client credentials, private_key_jwt).",
)

_UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8, header line) or Parquet, one update per row: a pin column "
                            "(or person.full_name and other person.* columns) and field columns, named as targets "
                            "or renamed with mapping.",
                        },
                        "mapping": {
                            "type": "string",
                            "maxLength": 4000,
                            "description": "Your column names, as COLUMN=TARGET pairs separated by commas "
                            "(so_dinh_danh=pin,ma_so_bhxh=social_insurance_number); COLUMN=- leaves a column out. "
                            f"Targets: {', '.join(bulk_import.TARGETS)}.",
                        },
                        "legal_basis": {
                            "type": "string",
                            "maxLength": 300,
                            "description": "The legal basis of the rows without a legal_basis column.",
                        },
                        "observed_at": {
                            "type": "string",
                            "maxLength": 40,
                            "description": "When your system observed the rows without an observed_at column "
                            "(ISO 8601 with time zone: 2026-11-27T00:00:00+07:00).",
                        },
                        "result_format": {"type": "string", "enum": ["csv", "parquet"], "default": "csv"},
                    },
                }
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    "401": {"description": "No, invalid or expired access token (PARTNER_TOKEN_*)."},
    "403": {
        "description": "Suspended partner, no sync in the policy or a field column outside its write_fields "
        "(PARTNER_SUSPENDED, POLICY_OPERATION_DENIED, POLICY_FIELD_DENIED)."
    },
    "404": {"description": "No such job of yours (SYNC_FILE_JOB_NOT_FOUND)."},
}
_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **{status: answer for status, answer in _ERRORS.items() if status != "404"},
    "413": {"description": "The file is over the upload limit (INPUT_TOO_LARGE)."},
    "422": {
        "description": "A file whose rows cannot become updates (SYNC_FILE_MISSING, SYNC_FILE_EMPTY, "
        "SYNC_FILE_UNREADABLE, SYNC_FILE_COLUMN_UNKNOWN, SYNC_FILE_COLUMNS_MISSING, SYNC_FILE_MAPPING_INVALID) "
        "or a bad option (SYNC_FILE_OPTION_INVALID)."
    },
    "429": {"description": "Daily quota or rate reached (QUOTA_EXHAUSTED, RATE_LIMITED): a file costs one per row."},
}


def _gate(request: Request) -> PartnerGate:
    gate: PartnerGate = request.app.state.partner_gate
    return gate


def _runner(request: Request) -> file_jobs.FileJobRunner:
    runner: file_jobs.FileJobRunner = request.app.state.sync_file_runner
    return runner


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


def _text(form: Any, name: str, *, default: str = "", limit: int) -> str:
    value = form.get(name, default)
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"{name} is text.", code="SYNC_FILE_OPTION_INVALID", details={"field": name})
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(
            f"{name} takes at most {limit} characters.", code="SYNC_FILE_OPTION_INVALID", details={"field": name}
        )
    return value


def _source_name(upload: UploadFile) -> str:
    """The file's name as the agency sent it, without its folders or characters that cannot be stored."""
    name = "".join(character for character in (upload.filename or "") if character.isprintable())
    return Path(name.replace("\\", "/")).name[:300] or "upload"


def _log_refusal(database: Database, *, transaction_id: str, principal: tuple[str, str], code: str) -> None:
    with database.unit_of_work() as session:
        append_entries(
            session,
            [
                PendingEntry(
                    principal_kind=principal[0],
                    principal_id=principal[1][:120],
                    action=file_jobs.FILE_ACTION,
                    person_pin=None,
                    purpose="sync",
                    result=code[:40],
                    transaction_id=transaction_id,
                )
            ],
        )


def _accept(
    database: Database,
    gate: PartnerGate,
    context: PartnerContext,
    *,
    job_id: str,
    directory: Path,
    upload: UploadFile,
    request: file_jobs.FileJobRequest,
) -> FileJobRead:
    """Store, check, authorise and record an upload (in a worker thread: it reads the whole file)."""
    target = file_jobs.source_path(directory, job_id)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        upload.file.seek(0)
        with target.open("wb") as handle:
            shutil.copyfileobj(upload.file, handle, 1 << 22)
        layout = bulk_import.inspect_file(
            target, mapping=request.mapping, defaults=request.defaults, name=request.source_name
        )
        gate.authorise(context, operation="sync", fields=layout.fields, purpose=None, cost=layout.rows)
        with database.unit_of_work() as session:
            summary = file_jobs.job_summary(
                file_jobs.create_job(session, job_id=job_id, request=request, layout=layout)
            )
    except BaseException:
        file_jobs.remove_job_files(directory, job_id)
        raise
    return summary


@files_router.post(
    "/files",
    operation_id="sync_file_submit",
    status_code=202,
    response_model=FileJobRead,
    openapi_extra=_UPLOAD_FORM,
    responses=_UPLOAD_ERRORS,
    dependencies=[Depends(_partner_token)],
)
async def submit_sync_file(request: Request) -> Response:
    """Upload a file of updates (CSV or Parquet, one update per row) and have it applied as a job;
    answers 202 with the job at once, its URL in `Location`.

    Send `Authorization: Bearer <access token>` and a multipart form: `file`; `mapping` from your
    column names to targets (`so_dinh_danh=pin,ma_so_bhxh=social_insurance_number,ghi_chu=-`);
    `legal_basis` and `observed_at` for the rows without such columns; `result_format` (`csv` or
    `parquet`). The file is checked whole before it is accepted, and refused with a code if its rows
    cannot become updates (`SYNC_FILE_UNREADABLE`, `SYNC_FILE_COLUMNS_MISSING`, ...). Each row costs one
    request of your daily quota and rate, as one update does.

    A row's idempotency key is its `key` column or `<file name>:<row>`: uploading the same file again
    answers every row from its key and changes nothing more. Follow the job at
    `GET /api/v1/sync/files/{job_id}` and download the outcomes from `.../results`. See docs/sync.md.
    """
    database: Database = request.app.state.database
    gate = _gate(request)
    job_id = file_jobs.new_job_id()
    principal = ("anonymous", "-")
    form: Any = None
    try:
        context = gate.authenticate(request.headers.get("authorization"))
        principal = ("partner", context.partner_id)
        form = await request.form(max_files=1, max_fields=20)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Send the file as the form field 'file'.", code="SYNC_FILE_MISSING")
        pairs = _text(form, "mapping", limit=4000).replace("\n", ",").split(",")
        job = file_jobs.FileJobRequest(
            partner_id=context.partner_id,
            source_name=_source_name(upload),
            mapping=bulk_import.parse_mapping([pair for pair in pairs if pair.strip()]),
            defaults={
                "legal_basis": _text(form, "legal_basis", limit=300),
                "observed_at": _text(form, "observed_at", limit=40),
            },
            result_format=file_jobs.check_result_format(_text(form, "result_format", default="csv", limit=10)),
        )
        runner = _runner(request)
        summary = await run_in_threadpool(
            _accept, database, gate, context, job_id=job_id, directory=runner.directory, upload=upload, request=job
        )
    except DomainError as error:
        await run_in_threadpool(_log_refusal, database, transaction_id=job_id, principal=principal, code=error.code)
        return _refused(error, job_id)
    finally:
        if form is not None:
            await form.close()
    runner.notify()
    return Response(
        summary.model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers={**NO_STORE, "Location": summary.status_url, "X-Transaction-Id": job_id},
    )


def _own_job(request: Request, job_id: str) -> FileJobRead:
    context = _gate(request).authenticate(request.headers.get("authorization"))
    database: Database = request.app.state.database
    with database.unit_of_work() as session:
        return file_jobs.job_summary(file_jobs.get_job(session, job_id=job_id, partner_id=context.partner_id))


@files_router.get(
    "/files/{job_id}",
    operation_id="sync_file_status",
    response_model=FileJobRead,
    responses=_ERRORS,
    dependencies=[Depends(_partner_token)],
)
def sync_file_status(job_id: str, request: Request) -> Response:
    """Where your sync file job stands: `status` (`queued`, `running`, `completed`, `failed`),
    `rows_done` of `rows_total` and `progress`, `counts` of rows `applied`, `queued` (for an official)
    and `rejected` so far, `replayed` (rows answered from an earlier update with the same key), and
    `error` (`code`, `message`) if it failed."""
    try:
        summary = _own_job(request, job_id)
    except DomainError as error:
        return _refused(error)
    return Response(summary.model_dump_json(), media_type="application/json", headers=NO_STORE)


@files_router.get(
    "/files/{job_id}/results",
    operation_id="sync_file_results",
    response_class=Response,
    responses={
        **_ERRORS,
        "200": {
            "description": "One line per row of your file: row, idempotency_key, outcome, code, message, "
            "update_id, replayed.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "409": {"description": "The job has not completed (SYNC_FILE_RESULTS_NOT_READY)."},
    },
    dependencies=[Depends(_partner_token)],
)
def sync_file_results(job_id: str, request: Request) -> Response:
    """The outcome of every row of a completed job, in file order, as CSV (or Parquet if you asked for
    it): `row` (from 1, the first after the header), `idempotency_key`, `outcome` (`applied`, `queued`,
    `rejected`), `code` and `message` (why it was queued or rejected), `update_id`, `replayed`."""
    try:
        summary = _own_job(request, job_id)
        if summary.status is not FileJobStatus.COMPLETED:
            raise Conflict(
                f"The job is {summary.status.value}; its results can be downloaded once it has completed.",
                code="SYNC_FILE_RESULTS_NOT_READY",
                details={"status": summary.status.value, "rows_done": summary.rows_done},
            )
    except DomainError as error:
        return _refused(error)
    path = file_jobs.result_path(_runner(request).directory, job_id, summary.result_format)
    stem = Path(summary.source_name).stem or "sync"
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[summary.result_format],
        filename=f"{stem}-outcomes.{summary.result_format}",
        headers=NO_STORE,
    )
