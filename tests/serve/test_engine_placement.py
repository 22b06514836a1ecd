"""serve.engine hf places its models where the evaluation's hf arms answer (models.loading.inference_placement)."""

from __future__ import annotations

from typing import Any

import torch

from tunesmith.models import loading
from tunesmith.models.loading import Placement


def test_the_served_models_go_where_the_one_decision_says(tiny_model_dir, adapters, monkeypatch):
    """A simulated GPU for the decision only: the base and a full model are asked onto "cuda" in bf16 (loaded on the
    CPU here), and the adapters follow the base."""
    from tunesmith.serve.engine import Engine

    real_load, asked = loading.load_model, []

    def load_model(base: str, *, revision: str | None = None, dtype: Any = None, device: str | None = None) -> Any:
        asked.append((device, dtype))
        return real_load(base, revision=revision, dtype=dtype, device="cpu" if device == "cuda" else device)

    monkeypatch.setattr(loading, "inference_placement", lambda: Placement("cuda", torch.bfloat16))
    monkeypatch.setattr(loading, "load_model", load_model)
    engine = Engine(str(tiny_model_dir), adapters=adapters, full_models={"full": tiny_model_dir})
    assert asked == [("cuda", torch.bfloat16)] * 2
    assert engine.model.dtype == torch.bfloat16 and engine.full["full"].dtype == torch.bfloat16
    assert engine.names == ["base", "support", "legal", "full"]
