"""Blind A/B in review mode (`tunesmith ui --review`): two arms' answers to one test question, names hidden.

- `GET /api/ab/next`: the reviewer's next unjudged item, {item_id, question, reference, answers: [{label: "A",
  text}, {label: "B", text}], remaining, judged}; `item_id` null when none is left. Any logged-in user.
- `POST /api/ab/{item_id}` {choice: A|B|tie, note}: a reviewer or an admin; {item_id, choice, judged}.

Neither says which arm wrote which answer, before or after the judgment: the side each arm is shown on is seeded by
the reviewer and the item (review/ab.py), recomputed here when the choice arrives and stored with it as arm names,
so the browser never holds them. Items come from the latest evaluation's results.json (evals/ab.py).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' Annotated[..., Depends(review.x)] at
# definition time (as ui/review.py).

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from tunesmith.config import Config
from tunesmith.errors import DataError
from tunesmith.evals.ab import AbItem, latest_items
from tunesmith.review import ReviewError
from tunesmith.review.ab import AbStore, Choice, queue_rank, shown_order
from tunesmith.ui.auth import Session

AB_PAGE = ("/review/ab", "Blind A/B")


class ChoiceIn(BaseModel):
    choice: Choice
    note: str | None = Field(None, max_length=4000)


class _Items:
    """The latest evaluation's items, read again only when its results.json changes."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._key: tuple[float, int] | None = None
        self._items: dict[str, AbItem] = {}

    def get(self) -> dict[str, AbItem]:
        path = Path(self.cfg.stage_dir("eval")) / "results.json"
        try:
            stat = path.stat()
        except OSError:
            raise HTTPException(404, "no evaluation yet: run `tunesmith eval` first") from None
        key = (stat.st_mtime, stat.st_size)
        if key != self._key:
            try:
                self._items = {i.id: i for i in latest_items(self.cfg)}
            except DataError as e:
                raise HTTPException(404, e.message) from None
            self._key = key
        return self._items


def _shown(item: AbItem, reviewer: str) -> dict[str, Any]:
    a, b = shown_order(reviewer, item.id, item.arms)
    return {
        "item_id": item.id,
        "question": item.question,
        "reference": item.reference,
        "answers": [{"label": "A", "text": item.answers[a]}, {"label": "B", "text": item.answers[b]}],
    }


def ab_router(
    review: Any, cfg: Config, page: Callable[..., HTMLResponse], secure: Callable[[Response], Response]
) -> APIRouter:
    router = APIRouter()
    store = AbStore(cfg.stage_dir("review"))
    items = _Items(cfg)

    @router.get(AB_PAGE[0], response_class=HTMLResponse)
    def ab_page(request: Request) -> Response:
        return secure(page(request, "ab.html"))

    @router.get("/api/ab/next")
    def next_item(session: Annotated[Session, Depends(review.session)]) -> dict[str, Any]:
        name = session.user.name
        judged = store.judged_by(name)
        todo = sorted((i for i in items.get().values() if i.id not in judged), key=lambda i: queue_rank(name, i.id))
        if not todo:
            return {"item_id": None, "remaining": 0, "judged": len(judged)}
        return {**_shown(todo[0], name), "remaining": len(todo), "judged": len(judged)}

    @router.post("/api/ab/{item_id}")
    def judge(item_id: str, body: ChoiceIn, session: Annotated[Session, Depends(review.writer)]) -> dict[str, Any]:
        item = items.get().get(item_id)
        if item is None:
            raise HTTPException(404, f"no A/B item {item_id} in the latest evaluation")
        try:
            store.record(item.to_record(), body.choice, user=session.user.name, role=session.user.role, note=body.note)
        except ReviewError as e:
            raise HTTPException(409, e.message) from None
        return {"item_id": item_id, "choice": body.choice, "judged": len(store.judged_by(session.user.name))}

    return router
