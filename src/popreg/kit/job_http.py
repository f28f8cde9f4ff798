"""The HTTP side of jobs on an uploaded file (:mod:`popreg.kit.jobs`): what a bulk verification
(:mod:`popreg.sharing.bulk_api`) and a sync file (:mod:`popreg.sync.file_jobs_api`) do alike when a file
arrives and when its results are downloaded.

- An upload is a multipart form whose ``file`` field is the file; its other fields are short texts.
- An accepted upload is stored as the job's source file before it is checked; an upload that is
  refused (or fails) leaves no file behind.
- A job's results can be downloaded once it has completed, and no answer about a job is cached.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from fastapi.responses import FileResponse
from starlette.datastructures import FormData, UploadFile

from popreg.kit.errors import Conflict, InvalidInput
from popreg.kit.http import NO_STORE
from popreg.kit.jobs import JobStatus, remove_job_files, source_path

RESULT_MEDIA_TYPES: Final = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}
_COPY_CHUNK_BYTES: Final = 1 << 22

AcceptedT = TypeVar("AcceptedT")


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


def require_completed(status: str, *, rows_done: int, code: str) -> None:
    """Refuse (409 ``code``) to hand out the results of a job that has not completed."""
    if status != JobStatus.COMPLETED:
        raise Conflict(
            f"The job is {status}; its results can be downloaded once it has completed.",
            code=code,
            details={"status": status, "rows_done": rows_done},
        )


def result_file(path: Path, *, result_format: str, filename: str) -> FileResponse:
    """A completed job's result file (``parquet`` or ``csv``) as a download named ``filename``."""
    return FileResponse(path, media_type=RESULT_MEDIA_TYPES[result_format], filename=filename, headers=NO_STORE)
