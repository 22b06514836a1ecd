"""Export a training run: the adapter merged into its base, or the adapter alone with its base pinned.

A run directory (what `tunesmith.train.recipe.train` writes) holds `adapter/` (LoRA/DoRA, with the tokenizer) or
`model/` (full fine-tune), and a `manifest.json` whose `base_model` names the base by id, resolved path and
revision. Export reads them and writes one directory, atomically, with its own manifest that names the run and
the base:
- `export_merged`: the base with the adapter folded into its weights (`merge_and_unload`), saved as safetensors
  with the tokenizer and generation config. It loads with plain `AutoModelForCausalLM`, no peft. A full fine-tune
  is copied as is.
- `export_adapter`: the adapter files alone, with `base_model_name_or_path` and `revision` in adapter_config.json
  set to the base the run was trained on, so `PeftModel.from_pretrained` (or a server) finds the right base.

Both take `files`: text files written into the export before its manifest (so hashed among its outputs). The CLI
passes the model card there (evals/model_card.py, `export_card`), which this layer cannot render itself.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunesmith.artifacts import atomic_dir, sha256_file, write_json_atomic, write_manifest
from tunesmith.errors import ModelError, TunesmithError

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class Run:
    """What export needs to know about a training run directory."""

    path: Path
    method: str  # lora | dora | qlora | full (or "unknown" without a manifest)
    adapter_dir: Path | None  # adapter/ for LoRA/DoRA/QLoRA runs
    model_dir: Path | None  # model/ for full fine-tunes
    base_id: str | None  # model.base as the user wrote it (a Hub id or a path)
    base_resolved: str | None  # what the run actually loaded: an absolute local path or the Hub id
    revision: str | None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def base_ref(self) -> str | None:
        """The base to record and to load: a local directory when the run used one, else the Hub id."""
        return self.base_resolved or self.base_id


@dataclass
class ExportResult:
    out_dir: Path
    kind: str  # "merged" | "adapter"
    run: Run
    base: str | None  # the base model recorded (Hub id or path); None for a full fine-tune copied as is
    files: list[str]


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory and say clearly what is missing when it is not one."""
    path = Path(run_dir)
    hint = "pass the directory `tunesmith train` wrote (artifacts/train by default), which holds adapter/ or model/"
    if not path.exists():
        raise TunesmithError(f"no training run at {path}: the directory does not exist", hint=hint, file=path)
    if not path.is_dir():
        raise TunesmithError(f"{path} is a file, not a training run directory", hint=hint, file=path)
    adapter_dir, model_dir = path / "adapter", path / "model"
    manifest_path = path / "manifest.json"
    manifest: dict[str, Any] = {}
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise TunesmithError(
                f"the run manifest is not valid JSON: {e.msg}", file=manifest_path, line=e.lineno, hint=hint
            ) from None
    has_adapter = (adapter_dir / "adapter_config.json").exists()
    has_model = (model_dir / "config.json").exists()
    if not has_adapter and not has_model:
        raise TunesmithError(
            f"{path} holds no trained model: neither adapter/adapter_config.json nor model/config.json",
            hint=hint + "; did training finish?",
            file=path,
        )
    base = manifest.get("base_model") or {}
    base_id, base_resolved, revision = base.get("id"), base.get("resolved"), base.get("revision")
    if has_adapter and not (base_id or base_resolved):
        # A run without our manifest (peft's own output, say): fall back on what peft recorded.
        cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        base_id = base_resolved = cfg.get("base_model_name_or_path")
        revision = revision or cfg.get("revision")
    return Run(
        path=path,
        method=manifest.get("method") or ("full" if has_model and not has_adapter else "unknown"),
        adapter_dir=adapter_dir if has_adapter else None,
        model_dir=model_dir if has_model and not has_adapter else None,
        base_id=base_id,
        base_resolved=base_resolved,
        revision=revision,
        manifest=manifest,
    )


def _base_to_load(run: Run, base: str | None) -> str:
    """The base model to load: an override, else the resolved path the run used, else its Hub id."""
    if base:
        return base
    resolved = run.base_resolved
    if resolved and Path(resolved).exists():
        return resolved
    if run.base_id and (resolved is None or resolved == run.base_id):
        return run.base_id  # a Hub id (or a relative path that load_model will report)
    if resolved:
        raise ModelError(
            f"the base model of the run is gone: {resolved} does not exist",
            hint="pass the base model with --base (a local directory or a Hub id); it must be the one the run "
            "was trained on",
            file=run.path / "manifest.json",
        )
    raise ModelError(
        f"the run at {run.path} does not say which base model it was trained on",
        hint="pass the base model with --base (a local directory or a Hub id)",
        file=run.path,
    )


def _torch_dtype(dtype: str) -> Any:
    import torch

    if dtype not in DTYPES:
        raise TunesmithError(f"unknown dtype '{dtype}'", hint=f"choose one of {', '.join(DTYPES)}")
    return "auto" if dtype == "auto" else getattr(torch, dtype)


def _run_link(run: Run) -> dict[str, Any]:
    link: dict[str, Any] = {"path": str(run.path.resolve()), "method": run.method}
    manifest = run.path / "manifest.json"
    if manifest.exists():
        link["manifest_sha256"] = sha256_file(manifest)
    if "dataset" in run.manifest:
        link["dataset"] = run.manifest["dataset"]
    return link


def _write_files(directory: Path, files: Mapping[str, str] | None) -> None:
    for name, text in (files or {}).items():
        (directory / name).write_text(text, encoding="utf-8")


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


@dataclass
class Trained:
    """A run's model in memory as training left it: the base with the adapter applied (a peft model, not merged), or
    the full fine-tune; the tokenizer the run trained with; the base it was loaded from (None for a full run)."""

    model: Any
    tokenizer: Any
    base: str | None
    revision: str | None


def load_trained(run: Run, *, base: str | None = None, dtype: str = "auto") -> Trained:
    """Load the run's model: its adapter applied to its base (`base` overrides the one in the manifest), or its full
    fine-tune. Export merges it; a parity check generates with it unmerged, as the trained model computes."""
    from peft import PeftModel

    from tunesmith.models.loading import load_model, load_tokenizer

    torch_dtype = _torch_dtype(dtype)
    if run.model_dir is not None:
        return Trained(
            load_model(str(run.model_dir), dtype=torch_dtype), load_tokenizer(str(run.model_dir)), None, None
        )
    assert run.adapter_dir is not None
    base_path = _base_to_load(run, base)
    revision = None if base else run.revision
    model = load_model(base_path, revision=revision, dtype=torch_dtype)
    try:
        model = PeftModel.from_pretrained(model, str(run.adapter_dir))
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise ModelError(
            f"cannot apply the adapter at {run.adapter_dir} to '{base_path}': {str(e).splitlines()[0]}",
            hint="the base must be the model the run was trained on (see base_model in the run manifest)",
            file=run.adapter_dir,
        ) from None
    # The tokenizer the run trained with (saved next to the adapter), else the base's.
    tok_source = str(run.adapter_dir) if (run.adapter_dir / "tokenizer_config.json").exists() else base_path
    tokenizer = load_tokenizer(tok_source, revision=None if tok_source != base_path else revision)
    return Trained(model, tokenizer, base_path, revision)


def export_merged(
    run_dir: str | Path,
    out: str | Path,
    *,
    base: str | None = None,
    dtype: str = "auto",
    files: Mapping[str, str] | None = None,
) -> ExportResult:
    """Merge the run's adapter into its base and save a plain transformers model (safetensors) at `out`.

    `base` overrides the base model named in the run manifest (when it has moved); `dtype` is the dtype the base
    is loaded, merged and saved in ("auto": the base's own). A full fine-tune is copied as is.
    """
    run = load_run(run_dir)
    out = Path(out)
    started = datetime.now(UTC)
    if run.model_dir is not None:
        with atomic_dir(out) as tmp:
            shutil.copytree(run.model_dir, tmp, dirs_exist_ok=True)
            _write_files(tmp, files)
            write_manifest(
                tmp,
                stage="export",
                config={"kind": "merged", "dtype": "as trained"},
                inputs=[run.path / "manifest.json"] if (run.path / "manifest.json").exists() else [],
                started_at=started,
                extra=_extra(run, "merged", run.base_ref, run.revision, note="full fine-tune, copied as is"),
            )
        return ExportResult(out, "merged", run, None, _files(out))

    assert run.adapter_dir is not None
    trained = load_trained(run, base=base, dtype=dtype)
    merged, tokenizer = trained.model.merge_and_unload(), trained.tokenizer
    base_path, revision = trained.base, trained.revision

    with atomic_dir(out) as tmp:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        gen = getattr(merged, "generation_config", None)
        if gen is not None and not (tmp / "generation_config.json").exists():
            gen.save_pretrained(str(tmp))
        leftovers = [name for name in ADAPTER_FILES if (tmp / name).exists()]
        if leftovers:  # a merge that left peft files behind would not be a plain model
            raise ModelError(f"the merged model still has adapter files: {', '.join(leftovers)}")
        _write_files(tmp, files)
        write_manifest(
            tmp,
            stage="export",
            config={"kind": "merged", "dtype": dtype},
            inputs=[p for p in (run.path / "manifest.json", run.adapter_dir) if p.exists()],
            started_at=started,
            extra=_extra(run, "merged", base_path, revision),
        )
    return ExportResult(out, "merged", run, base_path, _files(out))


def export_adapter(
    run_dir: str | Path, out: str | Path, *, base: str | None = None, files: Mapping[str, str] | None = None
) -> ExportResult:
    """Copy the run's adapter to `out` with its base model pinned in adapter_config.json and a manifest.

    The base recorded is the Hub id the run used (with its revision), or the absolute path of a local base;
    `base` overrides it (for instance the Hub id a local copy was downloaded from).
    """
    run = load_run(run_dir)
    out = Path(out)
    started = datetime.now(UTC)
    if run.adapter_dir is None:
        raise TunesmithError(
            f"the run at {run.path} is a full fine-tune ({run.model_dir}): it has no adapter to export",
            hint=f"export the whole model with `tunesmith export {run.path} --merged OUT`",
            file=run.path,
        )
    base_ref = base or run.base_ref
    if not base_ref:
        raise ModelError(
            f"the run at {run.path} does not say which base model it was trained on",
            hint="pass the base model with --base (a Hub id or a local directory)",
            file=run.path,
        )
    revision = None if base else run.revision
    with atomic_dir(out) as tmp:
        shutil.copytree(run.adapter_dir, tmp, dirs_exist_ok=True)
        cfg_path = tmp / "adapter_config.json"
        adapter_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        adapter_cfg["base_model_name_or_path"] = base_ref
        adapter_cfg["revision"] = revision
        write_json_atomic(cfg_path, adapter_cfg)
        _write_files(tmp, files)
        write_manifest(
            tmp,
            stage="export",
            config={"kind": "adapter"},
            inputs=[p for p in (run.path / "manifest.json", run.adapter_dir) if p.exists()],
            started_at=started,
            extra=_extra(run, "adapter", base_ref, revision),
        )
    return ExportResult(out, "adapter", run, base_ref, _files(out))


def _extra(run: Run, kind: str, base: str | None, revision: str | None, note: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "export": kind,
        "run": _run_link(run),
        "base_model": {"id": run.base_id, "resolved": base, "revision": revision},
        "method": run.method,
    }
    if note:
        extra["note"] = note
    return extra
