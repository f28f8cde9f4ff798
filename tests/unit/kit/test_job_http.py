"""A job's result download: served from a handle opened before the answer starts, named safely."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from popreg.kit.job_http import JobResultExpired, result_file

RETENTION = timedelta(hours=168)


async def _read(response: object) -> bytes:
    return b"".join([block async for block in response.body_iterator])  # type: ignore[attr-defined]


def test_a_result_deleted_after_the_answer_started_is_still_sent_whole(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    content = b"row,result\n" + b"1,match\n" * 200_000
    path.write_bytes(content)
    response = result_file(path, result_format="csv", filename="customers-verified.csv", retention=RETENTION)
    path.unlink()  # a sweep expires the job between the status check and the download
    assert asyncio.run(_read(response)) == content
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["content-disposition"] == 'attachment; filename="customers-verified.csv"'


def test_a_result_already_gone_is_refused_as_expired(tmp_path: Path) -> None:
    with pytest.raises(JobResultExpired) as refused:
        result_file(tmp_path / "missing.csv", result_format="csv", filename="x.csv", retention=RETENTION)
    assert refused.value.code == "JOB_RESULT_EXPIRED"
    assert refused.value.status_code == 410


def test_a_name_from_the_upload_cannot_break_the_header(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    path.write_bytes(b"x\n")
    response = result_file(
        path, result_format="csv", filename='khách "hàng"\r\nX-Evil: 1-verified.csv', retention=RETENTION
    )
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert "\r" not in disposition and "\n" not in disposition and '"' not in disposition.split("''", 1)[1]
    asyncio.run(_read(response))
