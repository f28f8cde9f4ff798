from sqlalchemy import select

from builders import PASSWORD, add_official, sign_in
from popreg.officials.models import Official, OfficialSession


def test_a_wrong_password_is_refused_without_saying_whether_the_user_exists(client, database):
    add_official(database)
    wrong = client.post("/api/v1/auth/token", json={"username": "officer", "password": "nope-nope-nope"})
    unknown = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "AUTH_INVALID_CREDENTIALS"


def test_five_failed_logins_lock_the_account_even_for_the_right_password(client, database):
    add_official(database)
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "officer", "password": "wrong-password"})
    locked = client.post("/api/v1/auth/token", json={"username": "officer", "password": PASSWORD})
    assert locked.status_code == 401
    assert locked.json()["error"]["code"] == "AUTH_ACCOUNT_LOCKED"


def test_passwords_are_stored_as_argon2id_hashes_and_tokens_only_as_digests(client, database):
    headers = sign_in(client, database)
    token = headers["Authorization"].split()[1]
    with database.read_session() as session:
        official = session.execute(select(Official)).scalar_one()
        stored = session.execute(select(OfficialSession)).scalar_one()
    assert official.password_hash.startswith("$argon2id$")
    assert PASSWORD not in official.password_hash
    assert stored.token_hash != token and len(stored.token_hash) == 64


def test_the_api_requires_a_valid_session_and_logout_ends_it(client, database):
    assert client.get("/api/v1/persons/001090000001").json()["error"]["code"] == "AUTH_REQUIRED"
    bogus = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert bogus.json()["error"]["code"] == "AUTH_SESSION_INVALID"
    headers = sign_in(client, database)
    assert client.get("/api/v1/auth/me", headers=headers).json()["role"] == "commune_officer"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).json()["error"]["code"] == "AUTH_SESSION_EXPIRED"
