"""Whatever a client sends, the answer is a clear error with a stable code, never a 500."""

from sqlalchemy import func, select

from builders import person_payload, sign_in
from popreg.registry.models import Person


def test_malformed_json_is_an_input_error(client, database):
    headers = sign_in(client, database)
    response = client.post(
        "/api/v1/persons", content=b'{"full_name": "Nguy', headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INPUT_MALFORMED_JSON"


def test_an_oversized_body_is_refused_before_it_is_read(client, database):
    headers = sign_in(client, database)
    payload = person_payload(full_name="A" * 2_000_000)
    response = client.post("/api/v1/persons", json=payload, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "INPUT_TOO_LARGE"


def test_wrong_types_and_unknown_routes_have_stable_codes(client, database):
    headers = sign_in(client, database)
    wrong = client.post("/api/v1/persons", json=["not", "an", "object"], headers=headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "INPUT_INVALID"
    assert client.get("/api/v1/nowhere").json()["error"]["code"] == "NOT_FOUND"
    assert client.delete("/api/v1/persons").json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    bad_date = client.get("/api/v1/persons/001090000001/as-of", params={"date": "yesterday"}, headers=headers)
    assert bad_date.status_code == 422


def test_nothing_is_stored_by_any_refused_request(client, database):
    headers = sign_in(client, database)
    client.post("/api/v1/persons", json=person_payload(birth_date="2999-01-01"), headers=headers)
    client.post("/api/v1/persons", json=person_payload(unknown=1), headers=headers)
    with database.read_session() as session:
        assert session.execute(select(func.count()).select_from(Person)).scalar_one() == 0


def test_health_reports_the_backend(client, database):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] in ("sqlite", "postgresql")


def test_the_openapi_document_describes_every_operation_with_examples(client, database):
    document = client.get("/openapi.json").json()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {
        "register_person",
        "get_person",
        "search_persons",
        "change_person",
        "record_life_status",
        "register_residence",
        "person_history",
        "person_as_of",
        "create_household",
        "official_login",
    } <= operations
    create = document["components"]["schemas"]["PersonCreate"]
    assert create.get("examples")


def test_the_api_documentation_works_without_internet(client, database):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "openapi.json" in html
        assert "https://" not in html, f"{page} must not load assets from another host"
    assert client.get("/apidocs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/apidocs-assets/redoc.standalone.js").status_code == 200
