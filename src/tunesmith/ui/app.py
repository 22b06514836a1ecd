"""`tunesmith ui`: a local, read-only dashboard over a project's registry, artifacts and request log.

FastAPI (as `serve` uses) with server-rendered Jinja2 templates, plots drawn on the server with matplotlib like the
report's (ui/plots.py: PNGs inlined as data: URIs) and one small script for the test-case filter. Every asset is
served by the app itself: no CDN, works offline.
Autoescaping is on for every template, so text from the data (a training example holding `<script>`) is shown as
text. Without `--review` the app has no action that changes anything, so it needs no login; it binds to loopback by
default. `tunesmith ui --review` adds the review pages and their JSON API behind a login (ui/review.py, ui/auth.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tunesmith.config import Config
from tunesmith.errors import TunesmithError
from tunesmith.monitor.run import parse_since
from tunesmith.registry import Registry
from tunesmith.review import ReviewStore
from tunesmith.ui import loaders, plots
from tunesmith.ui.auth import Sessions, Users, users_path
from tunesmith.ui.review import REVIEW_PAGES, Review, review_router
from tunesmith.ui.traffic import TrafficStore

HERE = Path(__file__).parent
PAGES = [
    ("/", "Overview"),
    ("/datasets", "Datasets"),
    ("/runs", "Runs"),
    ("/evals", "Evaluations"),
    ("/traffic", "Traffic"),
]


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _when(v: Any) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(v, str) and len(v) >= 16:
        return v[:16].replace("T", " ")
    return "–" if v is None else str(v)


@dataclass
class _Site:
    """What every page reads: the project, its registry and its traffic, and the templates that render them."""

    cfg: Config
    reg: Registry
    store: TrafficStore
    env: Environment
    pages: list[tuple[str, str]] = field(default_factory=lambda: list(PAGES))
    review: bool = False  # `tunesmith ui --review`: the review pages and their API, behind a login

    def page(self, request: Request, template: str, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            request=request,
            pages=self.pages,
            path=request.url.path,
            project=self.cfg.project.name,
            review_mode=self.review,
            **ctx,
        )
        return HTMLResponse(html)


def create_app(cfg: Config, *, review: bool = False) -> FastAPI:
    """The dashboard; with `review`, also the review pages and their JSON API behind a login (ui/review.py)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["num"] = _num
    env.filters["when"] = _when
    pages = PAGES + (REVIEW_PAGES if review else [])
    site = _Site(cfg, Registry(cfg), TrafficStore(cfg.monitor.database_url, cfg.root), env, pages, review)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        site.store.close()

    app = FastAPI(title="tunesmith ui", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (_overview(site), _datasets(site), _runs(site), _evals(site), _traffic(site)):
        app.include_router(router)
    if review:
        state = Review(Users(users_path(cfg)), Sessions(cfg.ui.session_hours), ReviewStore(cfg.stage_dir("review")))
        app.include_router(review_router(state, cfg, site.page))
    return app


def _overview(site: _Site) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        runs = loaders.runs(site.reg)
        served = next((r for r in runs if r.served), None)
        return site.page(
            request,
            "overview.html",
            lineage=loaders.lineage(site.reg),
            served=served,
            served_eval=served.info.evaluation if served else None,
            pointer=loaders.served_pointer(site.reg),
            datasets=loaders.datasets(site.reg),
            changed=_what_changed(site.reg, runs, served),
        )

    return router


def _what_changed(reg: Registry, runs: list[loaders.RunView], served: loaders.RunView | None) -> dict[str, Any] | None:
    """The newest run against the served one (or the one before it): how their config and data differ."""
    newest = max(runs, key=lambda r: r.info.created_at or "", default=None)
    previous = served if served is not None and newest is not None and served.id != newest.id else None
    if previous is None and len(runs) >= 2:
        previous = sorted(runs, key=lambda r: r.info.created_at or "")[-2]
    if newest is None or previous is None or previous.id == newest.id:
        return None
    data = None
    dsets = {d.hash: d for d in loaders.datasets(reg)}
    a, b = dsets.get(previous.info.dataset_hash or ""), dsets.get(newest.info.dataset_hash or "")
    if a is not None and b is not None and a.hash != b.hash:
        data = loaders.dataset_diff(a, b)
    return {
        "from": previous,
        "to": newest,
        "config": loaders.config_diff(previous.train_config, newest.train_config),
        "data": data,
    }


def _datasets(site: _Site) -> APIRouter:
    router = APIRouter()

    @router.get("/datasets", response_class=HTMLResponse)
    def datasets(
        request: Request, a: str | None = None, b: str | None = None, split: str = "train", q: str = ""
    ) -> HTMLResponse:
        views = loaders.datasets(site.reg)
        by_hash = {d.short: d for d in views}
        report, groups = loaders.findings(site.cfg)
        current = next((d for d in views if d.label == "current"), views[0] if views else None)
        previews = loaders.prepared_by_source(current.info.path) if current else {}
        diff = None
        da, db = by_hash.get((a or "")[:12]), by_hash.get((b or "")[:12])
        if da is None and db is None and len(views) >= 2:
            da, db = views[1], views[0]  # the served (older) version against the current one
        if da is not None and db is not None:
            diff = loaders.dataset_diff(da, db)
        if split not in loaders.SPLITS:
            raise HTTPException(400, f"split must be one of {', '.join(loaders.SPLITS)}")
        n_match, rows = loaders.examples(current.info.path, split, q) if current else (0, [])
        return site.page(
            request,
            "datasets.html",
            views=views,
            report=report,
            groups=groups,
            previews=previews,
            diff=diff,
            da=da,
            db=db,
            split=split,
            q=q,
            n_match=n_match,
            rows=rows,
            current=current,
        )

    return router


def _runs(site: _Site) -> APIRouter:
    router = APIRouter()

    @router.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, a: str | None = None, b: str | None = None) -> HTMLResponse:
        views = loaders.runs(site.reg)
        by_id = {r.id: r for r in views}
        for ref in (a, b):
            if ref is not None and ref not in by_id:
                raise HTTPException(404, f"no run {ref}")
        curves = {r.id: plots.run_plots(r) for r in views}
        pair = None
        if len(views) >= 2:
            ra = by_id[a] if a else views[0]
            rb = by_id[b] if b else next(r for r in views if r.id != ra.id)
            pair = _run_pair(ra, rb)
        return site.page(
            request, "runs.html", runs=views, plots=curves, pair=pair, check=loaders.check_estimate(site.cfg)
        )

    return router


def _run_pair(ra: loaders.RunView, rb: loaders.RunView) -> dict[str, Any]:
    """Two runs side by side: their config diff and both loss curves on one chart."""
    return {
        "a": ra,
        "b": rb,
        "config": loaders.config_diff(ra.train_config, rb.train_config),
        "loss": plots.pair_loss(ra, rb),
    }


def _evals(site: _Site) -> APIRouter:
    router = APIRouter()

    @router.get("/evals", response_class=HTMLResponse)
    def evals(request: Request) -> HTMLResponse:
        views = loaders.evaluations(site.reg)
        return site.page(request, "evals.html", evals=views, plots={ev.id: plots.cost(ev) for ev in views})

    @router.get("/evals/{ref}/report.html")
    def report(ref: str) -> FileResponse:
        """The report.html of a listed evaluation (looked up by id, never used as a path)."""
        ev = next((e for e in loaders.evaluations(site.reg) if e.id == ref), None)
        if ev is None or not (ev.path / "report.html").is_file():
            raise HTTPException(404, f"no report for evaluation {ref}")
        return FileResponse(ev.path / "report.html", media_type="text/html")

    @router.get("/evals/{ref}/model_card", response_class=HTMLResponse)
    def model_card(request: Request, ref: str) -> HTMLResponse:
        """The model_card.md of a listed evaluation, rendered with raw HTML off: its text is shown as text."""
        ev = next((e for e in loaders.evaluations(site.reg) if e.id == ref), None)
        if ev is None or ev.model_card is None:
            raise HTTPException(404, f"no model card for evaluation {ref}")
        text = ev.model_card.read_text(encoding="utf-8", errors="replace")
        return site.page(request, "model_card.html", ev=ev, card=Markup(_markdown(text)))

    return router


def _markdown(text: str) -> str:
    """CommonMark with tables, raw HTML escaped (html off) and unsafe link schemes refused (markdown-it's default)."""
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return html


def _traffic(site: _Site) -> APIRouter:
    router = APIRouter()

    @router.get("/traffic", response_class=HTMLResponse)
    def traffic(request: Request, since: str | None = None) -> HTMLResponse:
        window = since if since is not None else site.cfg.monitor.since
        try:
            start = None if window == "all" else parse_since(window)
        except TunesmithError as e:
            raise HTTPException(400, e.message) from None
        t = site.store.summary(start)
        return site.page(
            request,
            "traffic.html",
            t=t,
            window=window,
            plots=plots.traffic_plots(t),
            drift=loaders.drift(site.cfg),
            monitor=site.cfg.monitor,
        )

    return router


def serve_ui(cfg: Config, host: str | None = None, port: int | None = None, *, review: bool = False) -> None:
    import uvicorn

    uvicorn.run(create_app(cfg, review=review), host=host or cfg.ui.host, port=port or cfg.ui.port, log_level="warning")


@contextmanager
def running(cfg: Config, host: str = "127.0.0.1", port: int = 0, *, review: bool = False) -> Iterator[str]:
    """The app served by uvicorn in a background thread, for browser tests and screenshots; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, review=review), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("tunesmith ui did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
