"""The console's data-quality dashboard (/console/quality) over HTTP, on both backends."""

from __future__ import annotations

import re

from builders import PASSWORD, add_official
from popreg.officials.rules import Role
from popreg.quality import service
from quality_builders import AS_OF, HA_NOI, HO_CHI_MINH, build_known_register

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_sign_in(client, database, *, username: str, role: Role, jurisdiction_code: str | None) -> None:
    add_official(database, username=username, role=role, jurisdiction_code=jurisdiction_code)
    login = client.get("/console/login")
    token = CSRF.search(login.text)
    assert token
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def _snapshots(database, times: int) -> None:
    for _ in range(times):
        with database.unit_of_work() as session:
            service.take_snapshot(session, taken_by="test", as_of=AS_OF)


def test_a_minister_reads_the_national_summary_provinces_and_trend(client, database):
    build_known_register(database)
    _snapshots(database, 2)
    console_sign_in(client, database, username="minister", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    page = client.get("/console/quality", params={"lang": "en"})
    assert page.status_code == 200
    html = page.text
    assert 'href="/console/quality" aria-current="page"' in html
    assert "Figures of snapshot 2" in html
    # The national headline of "complete": 5 of 9 persons alive.
    assert "55.6 %" in html
    assert "5 of 9" in html
    # A row per province, each a link to its own detail.
    assert 'href="/console/quality?province=01"' in html
    assert 'href="/console/quality?province=79"' in html
    assert "<polyline" in html  # two snapshots make a trend line
    assert "not measured" not in html.split('data-measure="clean.duplicate_candidates"')[1].split("</tr>")[0]
    # Confirmed by a partner in the year: 3 of the 9 persons alive; with the records updated, all 9.
    verified = html.split('<tr data-measure="live.verified_recently">')[1].split("</tr>")[0]
    assert "Records confirmed by a partner in the last year" in verified
    assert "33.3 %" in verified
    assert ">3<" in verified
    assert (
        'data-measure="live.touched_or_verified"' in html.split('class="cards quality-headlines"')[1].split("</ul>")[0]
    )


def test_the_dashboard_speaks_vietnamese_by_default(client, database):
    build_known_register(database)
    console_sign_in(client, database, username="minister", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    html = client.get("/console/quality").text
    assert "Chất lượng dữ liệu" in html
    assert "Đúng, đủ, sạch, sống" in html
    assert "5 trên 9" in html


def test_a_province_officer_sees_their_province_and_no_other(client, database):
    build_known_register(database)
    _snapshots(database, 1)
    console_sign_in(client, database, username="hcm", role=Role.PROVINCE_OFFICER, jurisdiction_code=HO_CHI_MINH)
    html = client.get("/console/quality", params={"lang": "en"}).text
    assert "Thành phố Hồ Chí Minh" in html
    assert 'href="/console/quality?province=01"' not in html
    refused = client.get("/console/quality", params={"province": HA_NOI, "lang": "en"})
    assert refused.status_code == 403
    assert "Traceback" not in refused.text


def test_an_unknown_province_is_a_clear_error_page(client, database):
    console_sign_in(client, database, username="minister", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    response = client.get("/console/quality", params={"province": "99"})
    assert response.status_code == 422
    assert "Traceback" not in response.text


def test_signing_in_is_required(client, database):
    response = client.get("/console/quality", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
