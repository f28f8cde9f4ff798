"""The HTTP side of jobs on an uploaded file (:mod:`popreg.kit.jobs`): what a bulk verification
(:mod:`popreg.sharing.bulk_api`) and a sync file (:mod:`popreg.sync.file_jobs_api`) do alike when a file
arrives and when its results are downloaded.

- An upload is a multipart form whose ``file`` field is the file; its other fields are short texts.
- An accepted upload is stored as the job's source file before it is checked; an upload that is
  refused (or fails) leaves no file behind.
- A job's results can be downloaded once it has completed, and no answer about a job is cached.
- Results are kept for the runner's retention period after the job completed; after that the job is
  expired and asking for its results answers 410 ``JOB_RESULT_EXPIRED``: the file must be submitted again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import quote

from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData, UploadFile

from popreg.kit.errors import Conflict, DomainError, InvalidInput
from popreg.kit.http import NO_STORE
from popreg.kit.jobs import JobStatus, remove_job_files, source_path

RESULT_MEDIA_TYPES: Final = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}
_COPY_CHUNK_BYTES: Final = 1 << 22

AcceptedT = TypeVar("AcceptedT")


class JobResultExpired(DomainError):
    """The results of a job were deleted at the end of the retention period: they link PINs to outcomes
    and are kept no longer than needed. Only submitting the file again gives results."""

    status_code = 410
    code = "JOB_RESULT_EXPIRED"

    def __init__(self, *, retention: timedelta) -> None:
        hours = int(retention.total_seconds() // 3600)
        super().__init__(
            f"The results of this job were deleted: results are kept for {hours} hours after a job completes. "
            "Submit the file again to get new results.",
            details={"status": JobStatus.EXPIRED.value, "retention_hours": hours},
        )


def uploaded_file(form: FormData, *, missing_code: str) -> UploadFile:
    """The form's ``file`` field, or ``missing_code`` (422) if it is absent or not a file."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("Send the file as the form field 'file'.", code=missing_code)
    return upload


def form_text(form: FormData, name: str, *, default: str = "", limit: int, code: str) -> str:
    """A text field of the form without its surrounding spaces, or ``code`` (422, ``details.field``) if
    it is a file, holds a NUL character (which PostgreSQL cannot store: refused the same way on both
    databases) or is longer than ``limit`` characters."""
    value = form.get(name, default)
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"{name} is text.", code=code, details={"field": name})
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(f"{name} takes at most {limit} characters.", code=code, details={"field": name})
    return text


def accept_upload(
    upload: UploadFile, *, directory: Path, job_id: str, accept: Callable[[Path], AcceptedT]
) -> AcceptedT:
    """Store the upload as the job's source file, then let ``accept`` check, authorise and record it;
    if ``accept`` refuses it (or anything fails) the job's files are removed. Blocking: it copies the
    whole file, so run it in a worker thread."""
    target = source_path(directory, job_id)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        upload.file.seek(0)
        with target.open("wb") as handle:
            shutil.copyfileobj(upload.file, handle, _COPY_CHUNK_BYTES)
        return accept(target)
    except BaseException:
        remove_job_files(directory, job_id)
        raise


def require_completed(status: str, *, rows_done: int, code: str, retention: timedelta) -> None:
    """Refuse to hand out the results of a job that has not completed (409 ``code``) or whose results
    were deleted (410 ``JOB_RESULT_EXPIRED``, naming the ``retention`` period)."""
    if status == JobStatus.EXPIRED:
        raise JobResultExpired(retention=retention)
    if status != JobStatus.COMPLETED:
        raise Conflict(
            f"The job is {status}; its results can be downloaded once it has completed.",
            code=code,
            details={"status": status, "rows_done": rows_done},
        )


def _attachment(filename: str) -> str:
    """The Content-Disposition of a download; a name with anything but plain URL-safe characters (it
    comes from the partner's upload) is percent-encoded as RFC 6266 ``filename*``."""
    encoded = quote(filename)
    if encoded != filename:
        return f"attachment; filename*=utf-8''{encoded}"
    return f'attachment; filename="{filename}"'


def result_file(path: Path, *, result_format: str, filename: str, retention: timedelta) -> StreamingResponse:
    """A completed job's result file (``parquet`` or ``csv``) as a download named ``filename``.

    The file is opened before the answer starts and read through that handle, so a sweep that deletes it
    meanwhile (the job expired since its status was read) cannot cut the download short; a file already
    gone is refused as expired."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise JobResultExpired(retention=retention) from None
    size = os.fstat(handle.fileno()).st_size

    def blocks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(_COPY_CHUNK_BYTES):
                yield block

    return StreamingResponse(
        blocks(),
        media_type=RESULT_MEDIA_TYPES[result_format],
        headers={
            **NO_STORE,
            "content-length": str(size),
            "content-disposition": _attachment(filename),
        },
    )
