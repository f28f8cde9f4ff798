"""Behind a proxy that terminates TLS, a client assertion may name the public token endpoint."""

from __future__ import annotations

from fastapi.testclient import TestClient

from popreg.app import create_app
from popreg.sharing.credentials import client_assertion
from sharing_builders import add_partner, token_form

PUBLIC = "https://popreg.example"


def test_an_assertion_for_the_public_url_is_accepted_only_when_that_url_is_configured(settings, database):
    keys = add_partner(database)
    assertion = client_assertion(keys.private_jwk, partner_id=keys.partner_id, token_url=f"{PUBLIC}/api/v1/oauth/token")
    other = client_assertion(keys.private_jwk, partner_id=keys.partner_id, token_url=f"{PUBLIC}/api/v1/oauth/token")

    with TestClient(create_app(settings, database), raise_server_exceptions=False) as plain:
        refused = plain.post("/api/v1/oauth/token", data=token_form(other))
    proxied = settings.model_copy(update={"public_url": PUBLIC + "/"})
    with TestClient(create_app(proxied, database), raise_server_exceptions=False) as behind_proxy:
        granted = behind_proxy.post("/api/v1/oauth/token", data=token_form(assertion))

    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    assert granted.status_code == 200, granted.text
    assert granted.json()["token_type"] == "Bearer"
