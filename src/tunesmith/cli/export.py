"""`tunesmith export RUN --merged OUT | --adapter OUT | --gguf DIR`: parse, call tunesmith.train.export (merged,
adapter) or tunesmith.evals.gguf_export (GGUF, Modelfile, parity), render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from tunesmith.config.export import ExportConfig
from tunesmith.errors import EXIT_FINDINGS

console = Console(highlight=False)


def _help(key: str) -> str:
    """The help of an export option: its field's description, declared once in the export section."""
    return f"{ExportConfig.model_fields[key].description} (export.{key})"


def export(
    run: Annotated[Path, typer.Argument(help="Training run directory (artifacts/train), with adapter/ or model/.")],
    merged: Annotated[
        Path | None,
        typer.Option("--merged", help="Write the adapter merged into its base: a plain transformers model."),
    ] = None,
    adapter: Annotated[
        Path | None,
        typer.Option("--adapter", help="Write the adapter alone, with its base model id and revision pinned."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option("--base", help="Override the base model named in the run manifest (Hub id or directory)."),
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto (the base's own), float32, bfloat16 or float16; --merged only.")
    ] = "auto",
    gguf: Annotated[
        Path | None,
        typer.Option("--gguf", help="Write the merged model as GGUF files with an Ollama Modelfile, and check parity."),
    ] = None,
    quant: Annotated[list[str] | None, typer.Option("--quant", help=_help("quant"), show_default=False)] = None,
    probes: Annotated[int | None, typer.Option("--probes", help=_help("probes"), show_default=False)] = None,
    parity: Annotated[
        bool | None, typer.Option("--parity/--no-parity", help=_help("parity"), show_default=False)
    ] = None,
    lora_adapter: Annotated[
        bool | None,
        typer.Option("--lora-adapter/--no-lora-adapter", help=_help("lora_adapter"), show_default=False),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="tunesmith.yaml whose export section (quantisations, thresholds) applies."),
    ] = None,
    test: Annotated[
        Path | None,
        typer.Option("--test", help="Chat JSONL of the parity prompts; default: the run's test split."),
    ] = None,
) -> None:
    """Export a training run: merged into its base (safetensors, no peft needed) or as an adapter.

    Outputs are written atomically, each with a manifest.json naming the run and the base model, and a
    model_card.md: the card of the run's latest evaluation, or one that says the run was never evaluated.

    Examples:
      tunesmith export artifacts/train --merged models/support-merged
      tunesmith export artifacts/train --adapter models/support-adapter
      tunesmith export artifacts/train --merged out/merged --base Qwen/Qwen3-0.6B --dtype bfloat16
      tunesmith export artifacts/train --gguf out/gguf --quant f16 --quant q8_0
    """
    from tunesmith.errors import TunesmithError
    from tunesmith.evals.model_card import CARD_NAME, export_card
    from tunesmith.train.export import export_adapter, export_merged, load_run

    if merged is None and adapter is None and gguf is None:
        raise TunesmithError(
            "nothing to export: pass --merged OUT, --adapter OUT, --gguf DIR, or several",
            hint=f"tunesmith export {run} --merged OUT",
        )
    load_run(run)  # a clear error for a directory that is not a run, before anything is looked up
    if merged is not None:
        card = export_card(run, kind="merged")
        result = export_merged(run, merged, base=base, dtype=dtype, files={CARD_NAME: card.text})
        what = "full fine-tune copied" if result.base is None else f"adapter merged into {result.base}"
        console.print(f"merged model ({what}) at [bold]{result.out_dir}[/]")
    if adapter is not None:
        card = export_card(run, kind="adapter")
        result = export_adapter(run, adapter, base=base, files={CARD_NAME: card.text})
        rev = f"@{result.run.revision}" if result.run.revision and not base else ""
        console.print(f"adapter (base {result.base}{rev}) at [bold]{result.out_dir}[/]")
    passed = True
    if gguf is not None:
        card = export_card(run, kind="gguf")
        cfg = _export_config(config, quant, probes, parity, lora_adapter)
        passed = _export_gguf(run, gguf, cfg, base, test, {CARD_NAME: card.text})
    source = f"the card of evaluation {card.evaluation}" if card.evaluation else "no evaluation names this run"
    console.print(f"{CARD_NAME} written with the export ({source})")
    if not passed:
        raise typer.Exit(EXIT_FINDINGS)


def _export_config(
    config: Path | None, quant: list[str] | None, probes: int | None, parity: bool | None, lora_adapter: bool | None
) -> Any:
    """The export section of `config` (else its defaults), with the flags given on the command line."""
    from tunesmith.config.loader import load_config
    from tunesmith.errors import ConfigError

    section = load_config(config).export if config is not None else ExportConfig()
    given = {"quant": quant or None, "probes": probes, "parity": parity, "lora_adapter": lora_adapter}
    try:
        return ExportConfig.model_validate(section.model_dump() | {k: v for k, v in given.items() if v is not None})
    except ValueError as e:
        what = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())  # type: ignore[attr-defined]
        raise ConfigError(f"export options: {what}", hint=_help("quant")) from None


def _export_gguf(run: Path, out: Path, cfg: Any, base: str | None, test: Path | None, files: dict[str, str]) -> bool:
    from tunesmith.evals.gguf_export import export_gguf

    result = export_gguf(run, out, cfg=cfg, base=base, test=test, files=files, say=lambda m: console.print(f"  {m}"))
    for info in result.files:
        size = info.path.stat().st_size / 1e6
        ends = ", ".join(info.end_of_turn)
        console.print(f"{info.path.name} ({info.architecture}, {size:.0f} MB, ends a turn on {ends}) at {out}")
    template = "with" if result.modelfile_template else "without (see manifest.json)"
    console.print(f"Modelfile {template} a TEMPLATE: ollama create NAME -f {out / 'Modelfile'}")
    if result.parity is None:
        console.print("[yellow]parity not checked (--no-parity)[/]")
        return True
    for r in result.parity.results:
        verdict = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        late = f" ({len(r.late_stops)} ended late, past the budget)" if r.late_stops else ""
        console.print(
            f"parity {r.quant} ({r.engine}) {verdict}: {r.identical:.0%} of {r.prompts} answers identical, "
            f"ROUGE-L {r.rouge_l:.3f} against the trained answers, {r.run_ons} run-ons{late}, "
            f"prompt tokens identical {r.prompt_tokens_identical:.0%}"
        )
        for failure in r.failures:
            console.print(f"  [red]{failure}[/]")
    return result.parity.passed
