"""Where an evaluation's figures come from: the base model, the dataset and the run, by path and manifest hash.

Written into results.json and the eval manifest; the registry links an evaluation to its run by the train
manifest's sha256, and a vendor run is named by its job and model ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunesmith.artifacts import sha256_file
from tunesmith.evals.results import Lineage

ENGINES = {"hf": "transformers", "llamacpp": "llama.cpp, an f16 GGUF of each model (tunesmith export's writer)"}


def device(engine: str) -> str:
    """Where the local models answered, for the latency and cost figures a reader compares: the GPU by name, or the
    CPU with its thread count (llama.cpp here is a CPU build)."""
    import torch

    from tunesmith.models.llamacpp import default_threads
    from tunesmith.models.loading import inference_placement

    where = inference_placement(gpu=engine == "hf")
    if where.device == "cuda":
        return f"cuda: {torch.cuda.get_device_name(0)}, {str(where.dtype).removeprefix('torch.')}"
    threads = torch.get_num_threads() if engine == "hf" else default_threads()
    return f"cpu: {threads} threads, {'float32' if engine == 'hf' else 'f16 GGUF'}"


def lineage(dataset_dir: Path, train_dir: Path, base: str | None, engine: str | None = None) -> Lineage:
    out: dict[str, Any] = {
        "base_model": base,
        "dataset_dir": str(dataset_dir),
        "train_dir": str(train_dir),
    }
    if engine is not None:
        out["engine"] = ENGINES.get(engine, engine)
        out["device"] = device(engine)
    for name, d in (("dataset", dataset_dir), ("train", train_dir)):
        manifest = d / "manifest.json"
        if manifest.exists():
            out[f"{name}_manifest_sha256"] = sha256_file(manifest)
            if name == "dataset":
                out["dataset_hash"] = json.loads(manifest.read_text()).get("dataset_hash")
            vendor = json.loads(manifest.read_text()).get("vendor") if name == "train" else None
            if isinstance(vendor, dict):  # a vendor run: the fine_tuned arm is the vendor's model
                out["vendor"] = {k: vendor.get(k) for k in ("backend", "job_id", "model_id")}
    return Lineage(**out)
