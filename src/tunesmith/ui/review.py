"""Review mode of the dashboard (`tunesmith ui --review`): login, the review queue, decisions and the audit log.

The JSON API, which the pages use and scripts can too:
- `POST /api/login` {name, password}: sets the session cookie (HttpOnly, SameSite=Strict), returns {csrf_token, name,
  role}; 401 for a wrong name or password, 429 after too many wrong ones.
- `POST /api/logout`, `GET /api/me`.
- `GET /api/review/queue`: {items: [{id, kind, messages, tags, source, meta, ...}], errors}; any logged-in user.
- `POST /api/review/{item_id}` {decision: approve|edit|reject, content, note}: a reviewer or an admin.
- `GET /api/review/audit` (JSON, newest first) and `GET /api/review/audit.jsonl` (the log as it is on disk).
- `GET /api/ab/next`, `POST /api/ab/{item_id}`: blind A/B of two arms' answers (ui/ab.py).

Every request without a session gets 401; every write without the session's `X-CSRF-Token` header, or from a
viewer, gets 403. Without `--review` none of this exists and the dashboard stays read-only.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' Annotated[..., Depends(review.x)] at
# definition time, and `review` is local to the router factories.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from tunesmith.review import ReviewError, ReviewStore, load_queue
from tunesmith.ui.ab import AB_PAGE, ab_router
from tunesmith.ui.auth import COOKIE, WRITERS, Session, Sessions, Users, csrf_ok

REVIEW_PAGES = [("/review", "Review"), ("/review/audit", "Audit"), AB_PAGE]
# The review pages are the only ones that take input: no framing, and scripts only from the app itself.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Login(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class DecisionIn(BaseModel):
    decision: str
    content: str | list[dict[str, Any]] | None = None
    note: str | None = Field(None, max_length=4000)


class Review:
    """What review mode holds: the users, the live sessions, the decisions' store."""

    def __init__(self, users: Users, sessions: Sessions, store: ReviewStore) -> None:
        self.users = users
        self.sessions = sessions
        self.store = store

    def session(self, request: Request) -> Session:
        """The caller's session: 401 without one."""
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise HTTPException(401, "log in first: POST /api/login", headers={"WWW-Authenticate": "Cookie"})
        if session.user not in self.users.list():  # removed, or given another role, since the login
            self.sessions.end(request.cookies.get(COOKIE))
            raise HTTPException(401, "your account changed: log in again", headers={"WWW-Authenticate": "Cookie"})
        return session

    def posting(self, request: Request) -> Session:
        """A session that sent its CSRF token: 401 without a session, 403 without the token."""
        session = self.session(request)
        if not csrf_ok(session, request.headers.get("X-CSRF-Token")):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header (the csrf_token that login returned)")
        return session

    def writer(self, request: Request) -> Session:
        """A session that may decide: 401 without one, 403 without its CSRF token or for a viewer."""
        session = self.posting(request)
        if session.user.role not in WRITERS:
            raise HTTPException(403, f"{session.user.name} is a {session.user.role}: only reviewers and admins decide")
        return session


def _answer(record: dict[str, Any] | None) -> str | None:
    """The answer a decision was about: a conversation's last assistant message, a pair's chosen one."""
    if record is None:
        return None
    turns = record.get("chosen") or record.get("messages") or []
    return next((m.get("content") or "" for m in reversed(turns) if m.get("role") == "assistant"), "")


def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def review_router(review: Review, cfg: Any, page: Callable[..., HTMLResponse]) -> APIRouter:
    router = APIRouter()
    router.include_router(_auth_routes(review))
    router.include_router(_queue_routes(review, cfg))
    router.include_router(ab_router(review, cfg, page, _secure))  # blind A/B (ui/ab.py)

    @router.get("/review", response_class=HTMLResponse)
    def review_page(request: Request) -> Response:
        return _secure(page(request, "review.html"))

    @router.get("/review/audit", response_class=HTMLResponse)
    def audit_page(request: Request) -> Response:
        session = review.sessions.get(request.cookies.get(COOKIE))
        log = list(reversed(review.store.decisions())) if session is not None else []
        rows = [{**d, "before_answer": _answer(d["before"]), "after_answer": _answer(d["after"])} for d in log]
        return _secure(page(request, "audit.html", session=session, log=rows))

    return router


def _auth_routes(review: Review) -> APIRouter:
    router = APIRouter()

    @router.post("/api/login")
    def login(body: Login, request: Request) -> JSONResponse:
        if review.sessions.locked_out(body.name):
            raise HTTPException(429, "too many wrong passwords for this name: wait a few minutes")
        user = review.users.verify(body.name, body.password)
        if user is None:
            review.sessions.failed(body.name)
            raise HTTPException(401, "wrong name or password")
        token, session = review.sessions.start(user)
        response = JSONResponse({"csrf_token": session.csrf, "name": user.name, "role": user.role})
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(review.sessions.lifetime),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/api/logout")
    def logout(request: Request, _session: Annotated[Session, Depends(review.posting)]) -> JSONResponse:
        review.sessions.end(request.cookies.get(COOKIE))
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/api/me")
    def me(session: Annotated[Session, Depends(review.session)]) -> dict[str, Any]:
        return {"name": session.user.name, "role": session.user.role, "csrf_token": session.csrf}

    return router


def _queue_routes(review: Review, cfg: Any) -> APIRouter:
    router = APIRouter()

    @router.get("/api/review/queue")
    def queue(_session: Annotated[Session, Depends(review.session)]) -> dict[str, Any]:
        q = load_queue(cfg, review.store.decided())
        return {"items": [i.to_json() for i in q.items], "errors": q.errors}

    @router.post("/api/review/{item_id}")
    def decide(item_id: str, body: DecisionIn, session: Annotated[Session, Depends(review.writer)]) -> dict[str, Any]:
        item = load_queue(cfg, review.store.decided()).get(item_id)
        if item is None:
            raise HTTPException(404, f"no undecided item {item_id} in the queue")
        try:
            entry = review.store.decide(
                item,
                body.decision,
                user=session.user.name,
                role=session.user.role,
                content=body.content,
                note=body.note,
            )
        except ReviewError as e:
            raise HTTPException(409 if "decided already" in e.message else 422, e.message) from None
        return {"decision": entry}

    @router.get("/api/review/audit")
    def audit(_session: Annotated[Session, Depends(review.session)]) -> dict[str, Any]:
        return {"decisions": list(reversed(review.store.decisions()))}

    @router.get("/api/review/audit.jsonl")
    def audit_file(_session: Annotated[Session, Depends(review.session)]) -> Response:
        if not review.store.decisions_path.is_file():
            return Response("", media_type="application/x-ndjson")
        return FileResponse(review.store.decisions_path, media_type="application/x-ndjson", filename="decisions.jsonl")

    return router
