"""Who may use the UI: loopback without a token; any other host only with the token.

- Without a token the server binds to loopback only, and requests must name a loopback Host
  (a page on another site cannot reach it through DNS rebinding).
- With a token (ORCH_UI_TOKEN or --token), every API call carries it: `Authorization: Bearer
  <token>`, or the session cookie that `POST /api/login` sets after checking it.
- State-changing requests (POST, PUT, PATCH, DELETE) that rely on a cookie (or on being local) also
  need the CSRF header: `X-CSRF-Token` equal to the `orch_csrf` cookie (double submit), and an
  `Origin`, when sent, that is this server. Another site can neither read the cookie nor send the
  header without a CORS preflight, which this server never grants.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from orchestrator.errors import OrchestratorError

SESSION_COOKIE = "orch_session"
CSRF_COOKIE = "orch_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = frozenset({"/api/login", "/api/logout", "/api/session"})


class InsecureBindError(OrchestratorError):
    """Serving to the network without a token."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise InsecureBindError(
            f"Serving on '{host}' exposes the UI beyond this machine: set ORCH_UI_TOKEN or pass --token "
            "(a long random string, e.g. `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`)."
        )


def host_name(host_header: str) -> str:
    """'127.0.0.1:3000' -> '127.0.0.1'; '[::1]:3000' -> '::1'."""
    return urlsplit(f"//{host_header}").hostname or ""


@dataclass(frozen=True)
class Guard:
    """The checks every request passes; `token` None means loopback-only, no login."""

    token: str | None = None

    @property
    def session_value(self) -> str:
        assert self.token
        return hmac.new(self.token.encode(), b"orch-ui-session", hashlib.sha256).hexdigest()

    def token_matches(self, given: str | None) -> bool:
        return bool(self.token and given) and hmac.compare_digest(given.encode(), self.token.encode())

    def host_allowed(self, host_header: str | None) -> bool:
        return self.token is not None or is_loopback(host_name(host_header or ""))

    def authenticated(self, authorization: str | None, session: str | None) -> str | None:
        """'bearer', 'cookie' or 'local' when the request may proceed; None when it may not."""
        if self.token is None:
            return "local"
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(value.strip()):
            return "bearer"
        if session and hmac.compare_digest(session.encode(), self.session_value.encode()):
            return "cookie"
        return None

    def csrf_error(self, how: str, method: str, host: str | None, origin: str | None,
                   header: str | None, cookie: str | None) -> str | None:
        """Why a state-changing request is refused, or None."""
        if method not in UNSAFE_METHODS or how == "bearer":
            return None
        if origin and origin != "null" and urlsplit(origin).netloc != (host or ""):
            return f"Cross-origin request from '{origin}' refused."
        if not header or not cookie or not hmac.compare_digest(header.encode(), cookie.encode()):
            return (f"Missing or wrong CSRF token: send the '{CSRF_COOKIE}' cookie's value in the "
                    f"'X-CSRF-Token' header (or authenticate with 'Authorization: Bearer <token>').")
        return None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
