"""Logging in with the UI token: a session cookie, so the pages need not hold the token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orchestrator.web.security import SESSION_COOKIE, Guard

router = APIRouter(tags=["session"])


class Login(BaseModel):
    token: str = Field(min_length=1, max_length=4096, description="The server's ORCH_UI_TOKEN.")


def _guard(request: Request) -> Guard:
    return request.app.state.guard


@router.get("/session", summary="Whether this server needs a login, and whether this client has one")
def session(request: Request) -> dict[str, bool]:
    guard = _guard(request)
    how = guard.authenticated(request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))
    return {"token_required": guard.token is not None, "authenticated": how is not None}


@router.post("/login", summary="Check the token and set the session cookie (HttpOnly, SameSite=Strict)")
def login(body: Login, request: Request) -> JSONResponse:
    guard = _guard(request)
    if guard.token is None:
        return JSONResponse({"authenticated": True, "token_required": False})
    if not guard.token_matches(body.token):
        return JSONResponse({"detail": "Wrong token."}, status_code=401)
    response = JSONResponse({"authenticated": True, "token_required": True})
    response.set_cookie(SESSION_COOKIE, guard.session_value, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout", summary="Forget the session cookie")
def logout() -> JSONResponse:
    response = JSONResponse({"authenticated": False})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
