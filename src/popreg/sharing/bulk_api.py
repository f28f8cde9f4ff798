"""HTTP API of bulk verification: submit a file as a job, follow its progress, download its results.

``bulk_router``; a partner authenticates with its access token on every call and sees only its own
jobs. See :mod:`popreg.sharing.bulk` for how a job runs.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.kit.errors import DomainError, InvalidInput
from popreg.kit.http import NO_STORE
from popreg.kit.job_http import accept_upload, form_text, require_completed, result_file, uploaded_file
from popreg.sharing import bulk
from popreg.sharing.gate import PartnerContext, PartnerGate
from popreg.sharing.partner_http import (
    authenticated_partner,
    logged_partner_refusal,
    partner_gate,
    partner_refusal,
    partner_token,
)

bulk_router = APIRouter(prefix="/api/v1", tags=["verification"])
BULK_PATH = "/api/v1/verify/bulk"
MAX_UPLOAD_BYTES = 4 << 30
"""The largest file a partner can upload (about 40 million rows of CSV): the body-size limit of
:data:`BULK_PATH` (``BodySizeLimit(path_limits={BULK_PATH: MAX_UPLOAD_BYTES})``)."""

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
        settings = app.state.settings
        runner = bulk.BulkRunner(
            app.state.database,
            directory=Path(settings.bulk_directory),
            result_retention=timedelta(hours=settings.job_result_retention_hours),
        )
        app.state.bulk_runner = runner
    runner.start()
    return runner


def _text(form: FormData, name: str, *, default: str, limit: int) -> str:
    return form_text(form, name, default=default, limit=limit, code="BULK_OPTION_INVALID")


def _accept(
    database: Database,
    gate: PartnerGate,
    context: PartnerContext,
    source: Path,
    *,
    job_id: str,
    request: bulk.JobRequest,
    retention: timedelta,
) -> dict[str, Any]:
    """Check, authorise and record a stored submission (in a worker thread: it reads the whole file)."""
    layout = bulk.inspect_source(source, request.mapping)
    gate.authorise(
        context, operation="verify", fields=layout.fields, purpose=request.purpose, cost=max(1, layout.rows_total)
    )
    with database.unit_of_work() as session:
        job = bulk.create_job(session, job_id=job_id, request=request, layout=layout)
        return bulk.job_summary(job, retention=retention, now=utc_now())


@bulk_router.post(
    "/verify/bulk",
    operation_id="verify_bulk_submit",
    status_code=202,
    openapi_extra=_SUBMIT_FORM,
    responses=_ERRORS,
    dependencies=[Depends(partner_token)],
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
    gate = partner_gate(request)
    job_id = bulk.new_job_id()
    principal, purpose = ("anonymous", "-"), ""
    form: FormData | None = None
    try:
        context = gate.authenticate(request.headers.get("authorization"))
        principal = ("partner", context.partner_id)
        form = await request.form(max_files=1, max_fields=20)
        upload = uploaded_file(form, missing_code="BULK_FILE_MISSING")
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
            database, error, transaction_id=job_id, principal=principal, action=bulk.BULK_ACTION, purpose=purpose
        )
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
    context = authenticated_partner(request)
    database: Database = request.app.state.database
    retention = bulk_runner(request.app).result_retention
    with database.read_session() as session:
        job = bulk.get_job(session, job_id=job_id, partner_id=context.partner_id)
        return bulk.job_summary(job, retention=retention, now=utc_now())


@bulk_router.get(
    "/verify/bulk/{job_id}",
    operation_id="verify_bulk_status",
    responses=_ERRORS,
    dependencies=[Depends(partner_token)],
)
def bulk_verification_status(job_id: str, request: Request) -> Response:
    """Where your bulk verification job stands: `status` (`queued`, `running`, `completed`,
    `failed`, or `expired` once its results were deleted), `rows_done` of `rows_total` (for a CSV, the
    line count until the job completes), `counts` of `match`, `no_match` and `invalid` so far, `error`
    (`code`, `message`) if it failed, and for a completed job `results_available_until` (UTC): the
    results are kept for a retention period after the job completed (7 days unless the operator set
    another), then deleted."""
    try:
        summary = _own_job(request, job_id)
    except DomainError as error:
        return partner_refusal(error)
    return JSONResponse(summary, headers=NO_STORE)


@bulk_router.get(
    "/verify/bulk/{job_id}/result",
    operation_id="verify_bulk_result",
    responses={
        **_ERRORS,
        "409": {"description": "The job has not completed (BULK_RESULT_NOT_READY)."},
        "410": {
            "description": "The results were deleted at the end of the retention period (JOB_RESULT_EXPIRED): "
            "submit the file again."
        },
    },
    dependencies=[Depends(partner_token)],
)
def bulk_verification_result(job_id: str, request: Request) -> Response:
    """The results of a completed job, one row per input row, as Parquet (or CSV if you asked for it),
    until the job's `results_available_until`; after that they are deleted and this answers 410
    `JOB_RESULT_EXPIRED`."""
    runner = bulk_runner(request.app)
    try:
        summary = _own_job(request, job_id)
        require_completed(
            summary["status"],
            rows_done=summary["rows_done"],
            code="BULK_RESULT_NOT_READY",
            retention=runner.result_retention,
        )
        result_format = summary["result_format"]
        stem = Path(summary["source_name"]).stem or "bulk"
        return result_file(
            bulk.result_path(runner.directory, job_id, result_format),
            result_format=result_format,
            filename=f"{stem}-verified.{result_format}",
            retention=runner.result_retention,
        )
    except DomainError as error:
        return partner_refusal(error)
