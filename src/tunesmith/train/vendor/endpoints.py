"""The vendor models as eval arms: the `base` and `fine_tuned` arms call them through the endpoint client."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tunesmith.config import Config, EndpointConfig
from tunesmith.errors import ConfigError, DataError


def vendor_model_id(train_dir: Path) -> tuple[str, str] | None:
    """(backend, model id) of a complete vendor run, from its manifest; None for a local run."""
    try:
        manifest = json.loads((Path(train_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    vendor = manifest.get("vendor")
    if not isinstance(vendor, dict) or not vendor.get("model_id"):
        return None
    return vendor["backend"], vendor["model_id"]


def eval_endpoints(cfg: Config, train_dir: Path, *, need_fine_tuned: bool) -> dict[str, EndpointConfig]:
    """The endpoint configs of the `base` (the vendor's base model) and `fine_tuned` (the vendor fine-tune) arms."""
    vc = cfg.train.vendor
    key_env: str | None
    if cfg.train.backend == "openai":
        base_url = vc.eval_base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key_env = vc.eval_api_key_env or "OPENAI_API_KEY"
    else:
        if not vc.eval_base_url:
            raise ConfigError(
                "the eval of a Bedrock fine-tune needs train.vendor.eval_base_url",
                hint="a custom Bedrock model answers only through provisioned throughput (or on-demand deployment), "
                "which tunesmith leaves to you: create it in the Bedrock console, then point eval_base_url at an "
                "OpenAI-compatible gateway to it",
            )
        base_url, key_env = vc.eval_base_url, vc.eval_api_key_env
    found = vendor_model_id(train_dir)
    if need_fine_tuned and found is None:
        raise DataError(
            f"no vendor model in {train_dir}",
            hint="run the train stage first (tunesmith run tunesmith.yaml --only train --yes)",
        )
    ec = cfg.eval
    common: dict[str, Any] = {"base_url": base_url, "api_key_env": key_env}
    if ec.endpoint is not None:
        common |= {"timeout_s": ec.endpoint.timeout_s, "concurrency": ec.endpoint.concurrency}
    out = {"base": EndpointConfig(model=cfg.model.base, **common)}
    if found is not None:
        out["fine_tuned"] = EndpointConfig(model=found[1], **common)
    return out
