"""HTTP API of sync files: an agency uploads a file of updates as a job, follows it, downloads the outcomes.

``files_router``; the agency authenticates with its access token on every call (the one of
``POST /api/v1/sync/updates``) and sees only its own jobs. See :mod:`popreg.sync.file_jobs` for how a
job runs and :mod:`popreg.sync.bulk_import` for the file's columns and checks.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.http import NO_STORE
from popreg.kit.job_http import accept_upload, form_text, require_completed, result_file, uploaded_file
from popreg.sharing.gate import PartnerContext, PartnerGate
from popreg.sharing.partner_http import (
    authenticated_partner,
    logged_partner_refusal,
    partner_gate,
    partner_refusal,
    partner_token,
)
from popreg.sync import bulk_import, file_jobs
from popreg.sync.schemas import FileJobRead

files_router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

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


def _runner(request: Request) -> file_jobs.FileJobRunner:
    runner: file_jobs.FileJobRunner = request.app.state.sync_file_runner
    return runner


def _text(form: FormData, name: str, *, default: str = "", limit: int) -> str:
    return form_text(form, name, default=default, limit=limit, code="SYNC_FILE_OPTION_INVALID")


def _source_name(upload: UploadFile) -> str:
    """The file's name as the agency sent it, without its folders or characters that cannot be stored."""
    name = "".join(character for character in (upload.filename or "") if character.isprintable())
    return Path(name.replace("\\", "/")).name[:300] or "upload"


def _accept(
    database: Database,
    gate: PartnerGate,
    context: PartnerContext,
    source: Path,
    *,
    job_id: str,
    request: file_jobs.FileJobRequest,
    retention: timedelta,
) -> FileJobRead:
    """Check, authorise and record a stored upload (in a worker thread: it reads the whole file)."""
    layout = bulk_import.inspect_file(
        source, mapping=request.mapping, defaults=request.defaults, name=request.source_name
    )
    gate.authorise(context, operation="sync", fields=layout.fields, purpose=None, cost=layout.rows)
    with database.unit_of_work() as session:
        job = file_jobs.create_job(session, job_id=job_id, request=request, layout=layout)
        return file_jobs.job_summary(job, retention=retention, now=utc_now())


@files_router.post(
    "/files",
    operation_id="sync_file_submit",
    status_code=202,
    response_model=FileJobRead,
    openapi_extra=_UPLOAD_FORM,
    responses=_UPLOAD_ERRORS,
    dependencies=[Depends(partner_token)],
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
    gate = partner_gate(request)
    job_id = file_jobs.new_job_id()
    principal = ("anonymous", "-")
    form: FormData | None = None
    try:
        context = gate.authenticate(request.headers.get("authorization"))
        principal = ("partner", context.partner_id)
        form = await request.form(max_files=1, max_fields=20)
        upload = uploaded_file(form, missing_code="SYNC_FILE_MISSING")
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
            accept_upload,
            upload,
            directory=runner.directory,
            job_id=job_id,
            accept=partial(
                _accept, database, gate, context, job_id=job_id, request=job, retention=runner.result_retention
            ),
        )
    except DomainError as error:
        return await logged_partner_refusal(
            database, error, transaction_id=job_id, principal=principal, action=file_jobs.FILE_ACTION, purpose="sync"
        )
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
    context = authenticated_partner(request)
    database: Database = request.app.state.database
    retention = _runner(request).result_retention
    with database.unit_of_work() as session:
        job = file_jobs.get_job(session, job_id=job_id, partner_id=context.partner_id)
        return file_jobs.job_summary(job, retention=retention, now=utc_now())


@files_router.get(
    "/files/{job_id}",
    operation_id="sync_file_status",
    response_model=FileJobRead,
    responses=_ERRORS,
    dependencies=[Depends(partner_token)],
)
def sync_file_status(job_id: str, request: Request) -> Response:
    """Where your sync file job stands: `status` (`queued`, `running`, `completed`, `failed`, or
    `expired` once its outcomes were deleted), `rows_done` of `rows_total` and `progress`, `counts` of
    rows `applied`, `queued` (for an official) and `rejected` so far, `replayed` (rows answered from an
    earlier update with the same key), `error` (`code`, `message`) if it failed, and for a completed job
    `results_available_until` (UTC): the outcomes are kept for a retention period after the job
    completed (7 days unless the operator set another), then deleted."""
    try:
        summary = _own_job(request, job_id)
    except DomainError as error:
        return partner_refusal(error)
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
        "410": {
            "description": "The outcomes were deleted at the end of the retention period (JOB_RESULT_EXPIRED); "
            "upload the file again (its rows are answered from their keys)."
        },
    },
    dependencies=[Depends(partner_token)],
)
def sync_file_results(job_id: str, request: Request) -> Response:
    """The outcome of every row of a completed job, in file order, as CSV (or Parquet if you asked for
    it): `row` (from 1, the first after the header), `idempotency_key`, `outcome` (`applied`, `queued`,
    `rejected`), `code` and `message` (why it was queued or rejected), `update_id`, `replayed`. Until the
    job's `results_available_until`; after that the outcomes are deleted and this answers 410
    `JOB_RESULT_EXPIRED`."""
    runner = _runner(request)
    try:
        summary = _own_job(request, job_id)
        require_completed(
            summary.status.value,
            rows_done=summary.rows_done,
            code="SYNC_FILE_RESULTS_NOT_READY",
            retention=runner.result_retention,
        )
        stem = Path(summary.source_name).stem or "sync"
        return result_file(
            file_jobs.result_path(runner.directory, job_id, summary.result_format),
            result_format=summary.result_format,
            filename=f"{stem}-outcomes.{summary.result_format}",
            retention=runner.result_retention,
        )
    except DomainError as error:
        return partner_refusal(error)
