"""`tunesmith export RUN --gguf DIR`: the trained model as GGUF files, an Ollama Modelfile, and the proof that they
answer like the trained model.

The export lives in the evals stage, above train, because its last step is an evaluation: the test prompts are
replayed greedily through the trained model (transformers, the adapter applied, unmerged) and through each GGUF
(llama.cpp when llama-cpp-python is installed, else transformers reading the GGUF back), and compared
(`evals/parity.py`). The directory is written atomically; a parity below the thresholds still writes it, with the
figures in its manifest, and the command exits 1, as a failed gate does.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunesmith.artifacts import atomic_dir, check_output, write_manifest
from tunesmith.config.eval import EvalConfig
from tunesmith.config.export import ExportConfig
from tunesmith.errors import DataError
from tunesmith.evals.cases import TestCase, load_test_cases
from tunesmith.evals.parity import Parity, QuantParity, compare, run_on_suspects, trained_answers
from tunesmith.models import llamacpp
from tunesmith.models.answers import Answer, Engine, HfEngine, transformers_gguf_engine
from tunesmith.models.chat import end_of_turn_ids
from tunesmith.models.gguf_write import GgufInfo, Quant, write_gguf
from tunesmith.models.loading import generation_eos
from tunesmith.models.modelfile import modelfile, ollama_template, template_turns
from tunesmith.train.export import Run, Trained, load_run, load_trained

MODELFILE = "Modelfile"
ADAPTER = "adapter.gguf"


@dataclass
class GgufExport:
    out_dir: Path
    files: list[GgufInfo]
    modelfile_template: bool  # whether the Modelfile has a TEMPLATE (else the reason is in the manifest)
    parity: Parity | None

    @property
    def passed(self) -> bool:
        return self.parity is None or self.parity.passed


def _test_file(run: Run, test: Path | None) -> Path | None:
    """The test split of the run's dataset: beside the run in the same artifacts folder, else where its manifest
    says the dataset was; `test` overrides."""
    if test is not None:
        return test
    beside = run.path.parent / "dataset" / "test.jsonl"
    if beside.is_file():
        return beside
    recorded = (run.manifest.get("dataset") or {}).get("path")
    path = Path(recorded) / "test.jsonl" if recorded else None
    return path if path is not None and path.is_file() else None


def _budget(run: Run) -> int:
    """The evaluation's token budget as the run's recorded config has it, else the eval section's default."""
    recorded = ((run.manifest.get("config") or {}).get("eval") or {}).get("max_new_tokens")
    return int(recorded or EvalConfig.model_fields["max_new_tokens"].get_default())


def _system_prompt(cases: list[TestCase]) -> str | None:
    """The project's system prompt: the one most test conversations open with."""
    prompts = Counter(c.prompt[0]["content"] for c in cases if c.prompt and c.prompt[0]["role"] == "system")
    return prompts.most_common(1)[0][0] if prompts else None


def _gguf_engine(path: Path, say: Callable[[str], None]) -> Engine:
    if llamacpp.available():
        return llamacpp.LlamaCppEngine(path)
    say(
        "llama.cpp is not installed (make install-llamacpp): the parity check reads the GGUF back with "
        "transformers instead, which checks the file but not llama.cpp's kernels"
    )
    return transformers_gguf_engine(path)


def _write_modelfile(
    tmp: Path,
    info: GgufInfo,
    tokenizer: Any,
    system: str | None,
    budget: int,
    run: Run,
    name: str = MODELFILE,
    adapter: str | None = None,
) -> dict[str, Any]:
    try:
        template, note = ollama_template(template_turns(tokenizer)), None
    except ValueError as e:
        template, note = None, f"the chat template is not one Ollama's loop can express ({e})"
    text = modelfile(
        info.path.name,
        template=template,
        template_note=note,
        system=system,
        stops=info.end_of_turn,
        max_new_tokens=budget,
        header=f"Written by `tunesmith export {run.path} --gguf`: `ollama create NAME -f {name}`.\n"
        "Greedy, as the evaluation decoded; parity with the trained model is in manifest.json.",
        adapter=adapter,
    )
    (tmp / name).write_text(text, encoding="utf-8")
    return {"from": info.path.name, "template": template is not None, "note": note, "stops": info.end_of_turn}


def _write_adapter(tmp: Path, trained: Trained, quant: Quant, eos: set[int], say: Callable[[str], None]) -> GgufInfo:
    """adapter.gguf (the LoRA alone) and base-{quant}.gguf (the base it goes over, loaded afresh: the trained model's
    base layers are about to be merged)."""
    import torch

    from tunesmith.models.gguf_lora import write_lora_gguf
    from tunesmith.models.loading import load_model

    if trained.base is None or not hasattr(trained.model, "merge_and_unload"):
        raise DataError("export.lora_adapter: this run is a full fine-tune, it has no adapter to write alone")
    say("writing adapter.gguf and its base")
    write_lora_gguf(trained.model, tmp / ADAPTER)
    base = load_model(trained.base, revision=trained.revision, dtype=torch.float32)
    return write_gguf(base, trained.tokenizer, tmp / f"base-{quant}.gguf", quant=quant, eos_ids=eos)


def export_gguf(
    run_dir: str | Path,
    out: str | Path,
    *,
    cfg: ExportConfig,
    base: str | None = None,
    test: Path | None = None,
    files: Mapping[str, str] | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> GgufExport:
    """Write `out/model-{quant}.gguf` for each of `cfg.quant`, a Modelfile for the first, `files` (the model card)
    and a manifest with the parity figures; see the module docstring."""
    run = load_run(run_dir)
    out = Path(out)
    check_output(out, inputs=[run.path])
    started = datetime.now(UTC)
    budget = _budget(run)
    test_path = _test_file(run, test)
    if cfg.parity and test_path is None:
        raise DataError(
            f"the parity check needs test prompts and none were found for the run at {run.path}",
            hint="pass --test FILE (a chat JSONL), or --no-parity to export without the check",
        )
    cases = load_test_cases(test_path, limit=cfg.probes) if test_path else []
    say(f"loading the trained model of {run.path}")
    trained = load_trained(run, base=base, dtype="float32")
    eos = end_of_turn_ids(trained.tokenizer, generation_eos(trained.model))
    reference: list[Answer] = []
    if cfg.parity:
        say(f"replaying {len(cases)} test prompts through the trained model (transformers, greedy)")
        engine = HfEngine(trained.model, trained.tokenizer, eos, name="transformers+peft")
        reference = trained_answers(engine, cases, budget, _ticker(len(cases), say))
    with atomic_dir(out, inputs=[run.path]) as tmp:
        adapter = _write_adapter(tmp, trained, cfg.quant[0], eos, say) if cfg.lora_adapter else None
        merged = trained.model.merge_and_unload() if hasattr(trained.model, "merge_and_unload") else trained.model
        infos = []
        for quant in cfg.quant:
            say(f"writing model-{quant}.gguf")
            infos.append(write_gguf(merged, trained.tokenizer, tmp / f"model-{quant}.gguf", quant=quant, eos_ids=eos))
        system = _system_prompt(cases)
        ollama = _write_modelfile(tmp, infos[0], trained.tokenizer, system, budget, run)
        if adapter is not None:
            _write_modelfile(tmp, adapter, trained.tokenizer, system, budget, run, f"{MODELFILE}.adapter", ADAPTER)
        parity = None
        if cfg.parity:
            results = [_parity(info, cases, reference, cfg, budget, say) for info in infos]
            parity = Parity(trained="transformers+peft", max_new_tokens=budget, results=results)
        for name, text in (files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        write_manifest(
            tmp,
            stage="export",
            config={"kind": "gguf", **json.loads(cfg.model_dump_json())},
            inputs=[p for p in (run.path / "manifest.json", run.adapter_dir or run.model_dir, test_path) if p],
            counts={"parity_prompts": len(cases)},
            started_at=started,
            extra={
                "export": "gguf",
                "run": {"path": str(run.path.resolve()), "method": run.method},
                "base_model": {"id": run.base_id, "resolved": trained.base, "revision": trained.revision},
                "gguf": [_info(i) for i in infos],
                "modelfile": ollama,
                "parity": parity.model_dump() | {"passed": parity.passed} if parity else None,
            },
        )
    final = [replace(i, path=out / i.path.name) for i in infos]
    return GgufExport(out, final, bool(ollama["template"]), parity)


def _ticker(total: int, say: Callable[[str], None], every: int = 10) -> Callable[[], None]:
    """A progress line every `every` answers: a replay on a CPU takes minutes."""
    done = [0]

    def tick() -> None:
        done[0] += 1
        if done[0] % every == 0 and done[0] < total:
            say(f"  {done[0]}/{total}")

    return tick


def _info(info: GgufInfo) -> dict[str, Any]:
    return {k: (v.name if isinstance(v, Path) else v) for k, v in info.__dict__.items()} | {
        "bytes": info.path.stat().st_size
    }


def _parity(
    info: GgufInfo,
    cases: list[TestCase],
    reference: list[Answer],
    cfg: ExportConfig,
    budget: int,
    say: Callable[[str], None],
) -> QuantParity:
    engine = _gguf_engine(info.path, say)
    say(f"replaying them through model-{info.quant}.gguf ({engine.name}, greedy)")
    answers = trained_answers(engine, cases, budget, _ticker(len(cases), say))
    suspects = run_on_suspects(cases, reference, answers)
    if suspects:
        say(f"  {len(suspects)} answers did not end within {budget} tokens: asking again with {cfg.run_on_budget}x")
    longer = {c.id: engine.answer(c.prompt, max_new_tokens=budget * cfg.run_on_budget) for c in suspects}
    result = compare(info.quant, engine.name, cases, reference, answers, engine.token_text, cfg, longer)
    del engine
    return result
