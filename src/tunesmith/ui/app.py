"""`tunesmith ui`: a local, read-only dashboard over a project's registry, artifacts and request log.

FastAPI (as `serve` uses) with server-rendered Jinja2 templates, plots as inline SVG built on the server (ui/svg.py)
and one small script for the test-case filter. Every asset is served by the app itself: no CDN, works offline.
Autoescaping is on for every template, so text from the data (a training example holding `<script>`) is shown as
text. The app has no action that changes anything, so it needs no API key; it binds to loopback by default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tunesmith.config import Config
from tunesmith.errors import TunesmithError
from tunesmith.registry import Registry
from tunesmith.ui import loaders, svg
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


def create_app(cfg: Config) -> FastAPI:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["num"] = _num
    env.filters["when"] = _when
    reg = Registry(cfg)
    store = TrafficStore(cfg.monitor.database_url, cfg.root)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="tunesmith ui", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, template: str, **ctx: Any) -> HTMLResponse:
        html = env.get_template(template).render(
            request=request, pages=PAGES, path=request.url.path, project=cfg.project.name, **ctx
        )
        return HTMLResponse(html)

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        runs = loaders.runs(reg)
        served = next((r for r in runs if r.served), None)
        served_eval = served.info.evaluation if served else None
        newest = max(runs, key=lambda r: r.info.created_at or "", default=None)
        previous = served if served is not None and newest is not None and served.id != newest.id else None
        if previous is None and len(runs) >= 2:
            previous = sorted(runs, key=lambda r: r.info.created_at or "")[-2]
        changed = None
        if newest is not None and previous is not None and previous.id != newest.id:
            data = None
            dsets = {d.hash: d for d in loaders.datasets(reg)}
            a, b = dsets.get(previous.info.dataset_hash or ""), dsets.get(newest.info.dataset_hash or "")
            if a is not None and b is not None and a.hash != b.hash:
                data = loaders.dataset_diff(a, b)
            changed = {
                "from": previous,
                "to": newest,
                "config": loaders.config_diff(previous.train_config, newest.train_config),
                "data": data,
            }
        return page(
            request,
            "overview.html",
            lineage=loaders.lineage(reg),
            served=served,
            served_eval=served_eval,
            pointer=loaders.served_pointer(reg),
            datasets=loaders.datasets(reg),
            changed=changed,
        )

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets(
        request: Request, a: str | None = None, b: str | None = None, split: str = "train", q: str = ""
    ) -> HTMLResponse:
        views = loaders.datasets(reg)
        by_hash = {d.short: d for d in views}
        report, groups = loaders.findings(cfg)
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
        return page(
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

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, a: str | None = None, b: str | None = None) -> HTMLResponse:
        views = loaders.runs(reg)
        by_id = {r.id: r for r in views}
        for ref in (a, b):
            if ref is not None and ref not in by_id:
                raise HTTPException(404, f"no run {ref}")
        plots = {
            r.id: {
                "loss": svg.line_chart(
                    f"loss of run {r.id}",
                    {"train": r.curve("loss"), "val": r.curve("eval_loss")},
                    xlabel="step",
                    ylabel="loss",
                ),
                "lr": svg.line_chart(
                    f"learning rate of run {r.id}", {"lr": r.curve("learning_rate")}, xlabel="step", ylabel="lr"
                ),
            }
            for r in views
        }
        pair = None
        if len(views) >= 2:
            ra = by_id[a] if a else views[0]
            rb = by_id[b] if b else next(r for r in views if r.id != ra.id)
            pair = {
                "a": ra,
                "b": rb,
                "config": loaders.config_diff(ra.train_config, rb.train_config),
                "loss": svg.line_chart(
                    "loss, both runs",
                    {
                        f"{ra.id} train": ra.curve("loss"),
                        f"{ra.id} val": ra.curve("eval_loss"),
                        f"{rb.id} train": rb.curve("loss"),
                        f"{rb.id} val": rb.curve("eval_loss"),
                    },
                    xlabel="step",
                    ylabel="loss",
                ),
            }
        return page(request, "runs.html", runs=views, plots=plots, pair=pair, check=loaders.check_estimate(cfg))

    @app.get("/evals", response_class=HTMLResponse)
    def evals(request: Request) -> HTMLResponse:
        views = loaders.evaluations(reg)
        plots = {}
        for ev in views:
            points = []
            for name, arm in ev.results.arms.items():
                if arm.tokens is None or arm.latency_ms is None:
                    continue
                cost = "" if arm.cost_per_1k_requests is None else f", ${arm.cost_per_1k_requests:.4f} per 1k requests"
                points.append(
                    (
                        name,
                        arm.tokens.per_request,
                        arm.latency_ms.p50,
                        f"{name}: {arm.tokens.per_request:.0f} tokens/request, p50 {arm.latency_ms.p50:.0f} ms{cost}",
                    )
                )
            plots[ev.id] = svg.scatter(
                "tokens per request against latency", points, xlabel="tokens per request", ylabel="p50 latency (ms)"
            )
        return page(request, "evals.html", evals=views, plots=plots)

    @app.get("/evals/{ref}/report.html")
    def report(ref: str) -> FileResponse:
        """The report.html of a listed evaluation (looked up by id, never used as a path)."""
        ev = next((e for e in loaders.evaluations(reg) if e.id == ref), None)
        if ev is None or not (ev.path / "report.html").is_file():
            raise HTTPException(404, f"no report for evaluation {ref}")
        return FileResponse(ev.path / "report.html", media_type="text/html")

    from tunesmith.monitor.run import parse_since  # imported once, not on the first traffic page

    @app.get("/traffic", response_class=HTMLResponse)
    def traffic(request: Request, since: str | None = None) -> HTMLResponse:

        window = since if since is not None else cfg.monitor.since
        try:
            start = None if window == "all" else parse_since(window)
        except TunesmithError as e:
            raise HTTPException(400, e.message) from None
        t = store.summary(start)
        plots = {
            "requests": svg.bars(f"requests per {t.bucket}", [(k, n) for k, n, _ in t.buckets], ylabel="requests"),
            "latency": svg.line_chart(
                f"mean latency per {t.bucket}",
                {"mean latency": [(float(i), lat) for i, (_, _, lat) in enumerate(t.buckets)]},
                xlabel=f"{t.bucket} (index)",
                ylabel="ms",
            ),
            "ratings": svg.bars("feedback ratings", [(_num(k, 1), n) for k, n in t.ratings], ylabel="count"),
        }
        return page(
            request, "traffic.html", t=t, window=window, plots=plots, drift=loaders.drift(cfg), monitor=cfg.monitor
        )

    return app


def serve_ui(cfg: Config, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    uvicorn.run(create_app(cfg), host=host or cfg.ui.host, port=port or cfg.ui.port, log_level="warning")


@contextmanager
def running(cfg: Config, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The app served by uvicorn in a background thread, for browser tests and screenshots; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), log_level="warning", lifespan="on"))
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
