"""Review: people approve what trains the model (DESIGN.md, "Review"; docs/review.md).

`queue` finds every example tagged `needs_review` in the files of data.paths and in the monitor's review exports
(ui.review_paths); `store` records each decision (approve, edit, reject) with who, when, before and after in
artifacts/review/decisions.jsonl, and writes the approved and edited examples, the tag replaced by `reviewed`, to
artifacts/review/reviewed.jsonl, the input of the next `data prepare --parent`. The user's files are never
rewritten. The dashboard (`tunesmith ui --review`) is one client of this API; scripts are others.
"""

from tunesmith.review.queue import Item, Queue, load_queue
from tunesmith.review.store import DECISIONS, REVIEWED, ReviewError, ReviewStore

__all__ = ["DECISIONS", "REVIEWED", "Item", "Queue", "ReviewError", "ReviewStore", "load_queue"]
