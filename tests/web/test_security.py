"""Who may use the UI: loopback host names without a token; the token (bearer or a login cookie)
otherwise; CSRF on every state-changing request; no bind beyond loopback without a token."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from orchestrator.cli import main
from orchestrator.web.app import create_app
from orchestrator.web.security import InsecureBindError, check_bind
from orchestrator.web.server import serve
from tests.web.conftest import LOCAL, SHOP, Shop

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def guarded(memory_shop: Shop) -> TestClient:
    shop = memory_shop
    return TestClient(create_app(shop.defs, shop.store, home=shop.home, token=TOKEN), base_url="http://orch.example:3000")


@pytest.fixture
def client(memory_shop: Shop) -> TestClient:
    shop = memory_shop
    return TestClient(create_app(shop.defs, shop.store, home=shop.home, token=""), base_url=LOCAL)


def test_without_a_token_only_loopback_host_names_are_answered(client: TestClient) -> None:
    assert client.get("/api/assets").status_code == 200
    assert client.get("/api/assets", headers={"Host": "localhost:3000"}).status_code == 200
    rebound = client.get("/api/assets", headers={"Host": "attacker.example"})  # DNS rebinding
    assert rebound.status_code == 400 and "loopback" in rebound.json()["detail"]


def test_state_changing_requests_need_the_csrf_header_even_locally(client: TestClient) -> None:
    client.get("/assets")  # the first page sets the CSRF cookie
    csrf = client.cookies["orch_csrf"]
    refused = client.post("/api/logout")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert client.post("/api/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    cross = client.post("/api/logout", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert cross.status_code == 403 and "Cross-origin" in cross.json()["detail"]


def test_with_a_token_the_api_needs_it_as_bearer_or_session(guarded: TestClient) -> None:
    page = guarded.get("/assets")  # the page itself loads: it shows the login form
    assert page.status_code == 200 and "app.js" in page.text
    assert guarded.get("/api/assets").status_code == 401
    assert guarded.get("/openapi.json").status_code == 401
    assert guarded.get("/api/assets", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert guarded.get("/api/assets", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert guarded.get("/api/session").json() == {"token_required": True, "authenticated": False}

    csrf = guarded.cookies["orch_csrf"]
    wrong = guarded.post("/api/login", json={"token": "guess"}, headers={"X-CSRF-Token": csrf})
    assert wrong.status_code == 401 and "orch_session" not in guarded.cookies
    assert guarded.post("/api/login", json={"token": TOKEN}).status_code == 403  # no CSRF header
    ok = guarded.post("/api/login", json={"token": TOKEN}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and "httponly" in ok.headers["set-cookie"].lower()
    assert "samesite=strict" in ok.headers["set-cookie"].lower() and TOKEN not in ok.headers["set-cookie"]
    assert guarded.get("/api/assets").status_code == 200  # the session cookie
    assert guarded.get("/api/session").json()["authenticated"] is True
    # a bearer call needs no CSRF header: browsers never add that header on their own
    assert guarded.post("/api/logout", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert guarded.post("/api/login", json={}, headers={"X-CSRF-Token": csrf}).status_code == 422


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    headers = client.get("/assets").headers
    assert "script-src 'self';" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/swagger-ui-bundle.js" in docs.text  # served here, no CDN
    assert "'sha256-" in docs.headers["content-security-policy"]
    assert "/api/assets" in client.get("/openapi.json").json()["paths"]


def test_binding_beyond_loopback_needs_a_token(memory_shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCH_UI_TOKEN", raising=False)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    with pytest.raises(InsecureBindError, match="ORCH_UI_TOKEN"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(InsecureBindError):
        serve(lambda: None, host="192.168.1.20", port=1)
    result = CliRunner().invoke(main, ["--defs", str(SHOP), "--home", str(memory_shop.home), "ui", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "ORCH_UI_TOKEN" in result.output
