"""`tunesmith data generate`: ask the teacher, filter what it wrote, and write drafts for people to review.

Order: every input is read and every output path checked before anything is sent; the estimate is shown and
confirmed; the teacher is asked (through the cache, so a killed run resumes); the answers become records, which are
filtered (filters.py) and written atomically. Nothing is written when a step fails, but the cache keeps what the
teacher answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from tunesmith.artifacts import dumps, read_jsonl, write_file_checked
from tunesmith.config import Config, TeacherConfig
from tunesmith.config.generate import SOURCES, Source
from tunesmith.data.near_domain import Voice, project_voice
from tunesmith.errors import ConfigError, DataError, OutputError
from tunesmith.generate import documents, prompts
from tunesmith.generate.filters import Filtered, is_refusal_example, quality_filter
from tunesmith.generate.spend import Estimate, confirm_spend, estimate
from tunesmith.generate.teacher import Request, Teacher
from tunesmith.records import load_records


@dataclass
class GenerateResult:
    out: Path
    test_out: Path | None
    source: str
    teacher: dict[str, str]
    estimate: Estimate
    spend: dict[str, Any]
    written: int
    test_written: int
    refusals: int
    dropped: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0  # requests whose answer gave no usable example (unparsable, empty)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "test_out": str(self.test_out) if self.test_out else None,
            "source": self.source,
            "teacher": self.teacher,
            "estimate": self.estimate.to_json(),
            "spend": self.spend,
            "written": self.written,
            "test_written": self.test_written,
            "refusals": self.refusals,
            "dropped": dict(self.dropped),
            "unanswered": self.unanswered,
        }


def _teacher_config(cfg: Config) -> TeacherConfig:
    if cfg.generate.teacher is None:
        raise ConfigError(
            "no teacher: data generate asks an OpenAI-compatible model, and generate.teacher is not set",
            hint="set generate.teacher: {base_url: http://HOST/v1, model: NAME, api_key_env: KEY_VAR} in "
            "tunesmith.yaml, or pass --teacher-url URL --teacher-model NAME",
        )
    return cfg.generate.teacher


def _check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Before any request: an existing output is replaced only with --overwrite (a file cannot say who wrote it)."""
    for path in paths:
        if path.is_dir():
            raise OutputError(f"the output {path} is a directory", hint="pass the path of a file", file=path)
        if path.exists() and not overwrite:
            raise OutputError(
                f"the output {path} exists", hint="choose another path, or pass --overwrite to replace it", file=path
            )


def _data_records(cfg: Config) -> list[dict[str, Any]]:
    paths = [cfg.path(p) for p in cfg.data.paths]
    return load_records(paths, format=cfg.data.format, columns=cfg.data.columns).records if paths else []


def _test_questions(cfg: Config) -> list[str]:
    """User turns of the test split as it is or will be: data.test_paths, and the prepared dataset's test.jsonl."""
    rows: list[dict[str, Any]] = []
    if cfg.data.test_paths:
        rows += load_records([cfg.path(p) for p in cfg.data.test_paths], format=cfg.data.format).records
    prepared = cfg.stage_dir("dataset") / "test.jsonl"
    if prepared.is_file():
        rows += [r for r in read_jsonl(prepared) if isinstance(r.get("messages"), list)]
    return [_user(r) for r in rows]


def _user(record: dict[str, Any]) -> str:
    return " ".join(m.get("content") or "" for m in record["messages"] if m.get("role") == "user")


def _ask(teacher: Teacher, requests: list[Request], yes: bool, console: Console) -> tuple[Estimate, list[Any]]:
    est = estimate(teacher, requests)
    console.print(est.line(), soft_wrap=True)
    confirm_spend(teacher.cfg, est, yes, console)
    with console.status(f"asking the teacher ({est.requests} request(s))..."):
        answers = teacher.ask(requests)
    return est, answers


def _from_docs(
    cfg: Config, teacher: Teacher, voice: Voice, yes: bool, console: Console
) -> tuple[Estimate, list[dict[str, Any]], int]:
    from tunesmith.docs import ensure_index

    if not cfg.docs.paths:
        raise ConfigError(
            "--from docs reads the documents of docs.paths, and it names none",
            hint="set docs.paths to your documents (PDF, DOCX, HTML, Markdown, text) in tunesmith.yaml",
        )
    index = ensure_index(cfg, console=console)
    jobs = documents.passage_requests(index.passages, cfg.generate, voice)
    est, answers = _ask(teacher, [j.request for j in jobs], yes, console)
    who = teacher_name(teacher.cfg)
    records = [r for job, a in zip(jobs, answers, strict=True) for r in documents.passage_records(job, a, voice, who)]
    unanswered = sum(1 for a in answers if not documents.grounded(a.data) and not documents.unanswerable(a.data))
    return est, records, unanswered


def _prompts_for(cfg: Config, source: Source, file: Path | None, data: list[dict[str, Any]]) -> list[prompts.Prompt]:
    if source == "prompts":
        if file is None:
            raise ConfigError(
                "--from prompts needs the prompt file", hint="tunesmith data generate --from prompts FILE"
            )
        return prompts.prompts_from_file(file)
    if source == "data":
        if not data:
            raise ConfigError("--from data reads the user turns of data.paths, and it names no data")
        return prompts.prompts_from_records(data)
    from tunesmith.serve.log import RequestLog, resolve_url

    if file is not None:
        raise ConfigError(f"--from log reads monitor.database_url, and takes no file (got {file})")
    url = resolve_url(cfg.monitor.database_url, cfg.root)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise DataError(
            f"no request log at {url} (monitor.database_url)", hint="serve traffic first, or use --from prompts FILE"
        )
    log = RequestLog(url, redact=False)  # reading only: what it logged was redacted (or not) when it was written
    try:
        logged = [(r.id, r.messages) for r in log.fetch()]
    finally:
        log.close()
    if not logged:
        raise DataError("the request log holds no request", hint="serve traffic first, or use --from prompts FILE")
    return prompts.prompts_from_log(logged)


def _distill(
    cfg: Config,
    source: Source,
    file: Path | None,
    data: list[dict[str, Any]],
    teacher: Teacher,
    yes: bool,
    console: Console,
) -> tuple[Estimate, list[dict[str, Any]], int]:
    from tunesmith.docs.privacy import document_policy

    asked, redacted = prompts.redact_prompts(_prompts_for(cfg, source, file, data), document_policy(cfg))
    if redacted:
        found = ", ".join(f"{n} {entity}" for entity, n in sorted(redacted.items()))
        console.print(f"personal data replaced in the prompts before sending (data.pii): {found}", soft_wrap=True)
    requests = prompts.distill_requests(asked)
    est, answers = _ask(teacher, requests, yes, console)
    by_messages = {r.messages: a for r, a in zip(requests, answers, strict=True)}
    who = teacher_name(teacher.cfg)
    records = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for p in asked:
        if p.messages in seen:
            continue
        seen.add(p.messages)
        record = prompts.distill_record(p, by_messages[p.messages], who)
        if record is not None:
            records.append(record)
    return est, records, len(requests) - len(records)


def teacher_name(cfg: TeacherConfig) -> dict[str, str]:
    """How an example names its teacher (meta.teacher), and the dataset card after it: the model and the URL, without
    what a URL may carry that is not an address (user:password@, a ?key= of some gateways)."""
    url = urlsplit(cfg.base_url)
    host = url.hostname or ""
    address = f"{host}:{url.port}" if url.port else host
    return {"model": cfg.model, "base_url": urlunsplit((url.scheme, address, url.path, "", ""))}


def _split_held_out(
    cfg: Config, records: list[dict[str, Any]], test_out: Path | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    share = cfg.generate.holdout_docs
    if share <= 0:
        return records, []
    if test_out is None:
        raise ConfigError(
            "generate.holdout_docs sends the questions of whole documents to a test file, and --test-out is not set",
            hint="pass --test-out FILE, or set generate.holdout_docs: 0",
        )
    held = documents.held_out_documents([r["meta"]["source"] for r in records], share, cfg.project.seed)
    test = [r for r in records if r["meta"]["source"] in held]
    for r in test:  # reviewed with the rest, they stay findable as test questions in artifacts/review/reviewed.jsonl
        r["meta"]["tags"].append("held_out")
    return [r for r in records if r["meta"]["source"] not in held], test


def _filter(
    cfg: Config, records: list[dict[str, Any]], existing: list[str], test: list[str], judge: Any, cap: bool
) -> Filtered:
    threshold = cfg.data.near_dup_threshold if cfg.data.dedup == "near" else 1.0
    return quality_filter(
        records, cfg.generate, existing=existing, test=test, threshold=threshold, judge=judge, refusal_cap=cap
    )


def _write_all(outputs: list[tuple[Path, list[dict[str, Any]]]], overwrite: bool) -> None:
    """Each file atomically; when a later one fails, the earlier ones this call created are removed again, so a
    failed command leaves no half of its output behind."""
    created: list[Path] = []
    try:
        for path, rows in outputs:
            existed = path.exists()
            write_file_checked(path, (dumps(r) + "\n" for r in rows), overwrite=overwrite)
            if not existed:
                created.append(path)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise


def generate(
    cfg: Config,
    source: Source,
    out: Path,
    *,
    file: Path | None = None,
    test_out: Path | None = None,
    yes: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
) -> GenerateResult:
    """Draft training examples with the teacher (`source`: docs, prompts FILE, data, log) into `out` (JSONL of
    canonical records tagged generated and needs_review), and with generate.holdout_docs the held-out documents'
    questions into `test_out`. Returns what was asked, spent, written and dropped."""
    console = console or Console(stderr=True, highlight=False)
    if source not in SOURCES:
        raise ConfigError(f"--from must be one of {', '.join(SOURCES)}, not {source!r}")
    tcfg = _teacher_config(cfg)
    _check_outputs([out, *([test_out] if test_out else [])], overwrite)
    data = _data_records(cfg)
    voice = project_voice(data)
    test_questions = _test_questions(cfg)
    teacher = Teacher(tcfg, cfg.artifacts_dir / cfg.generate.cache)
    judge = None
    if cfg.generate.judge_min_score is not None:
        from tunesmith.generate.judging import judge_teacher, scorer

        judge = scorer(judge_teacher(cfg, cfg.artifacts_dir / cfg.generate.cache), yes, console)
    if source == "docs":
        est, records, unanswered = _from_docs(cfg, teacher, voice, yes, console)
    else:
        est, records, unanswered = _distill(cfg, source, file, data, teacher, yes, console)
    train, held = _split_held_out(cfg, records, test_out)
    existing = [_user(r) for r in data]
    # Distillation copies the teacher's behaviour, its refusals included: the refusal cap is for drafted data only.
    cap = source == "docs"
    test_kept = _filter(cfg, held, existing, test_questions, judge, cap) if held else Filtered(kept=[])
    kept = _filter(cfg, train, existing, [*test_questions, *(_user(r) for r in test_kept.kept)], judge, cap)
    if not kept.kept:
        raise DataError(
            f"the teacher's answers gave no example that passed the filters ({dict(kept.dropped) or 'none answered'})",
            hint=f"read the teacher's answers in {teacher.cache_dir} (one JSON file each), or loosen "
            "generate.min_chars, generate.language or generate.judge_min_score",
        )
    outputs = [(out, kept.kept), *([(test_out, test_kept.kept)] if test_out and held else [])]
    _write_all(outputs, overwrite)
    return GenerateResult(
        out=out,
        test_out=test_out if held else None,
        source=source,
        teacher=teacher_name(tcfg),
        estimate=est,
        spend=teacher.spend.to_json(tcfg),
        written=len(kept.kept),
        test_written=len(test_kept.kept),
        refusals=sum(1 for r in kept.kept if is_refusal_example(r)),
        dropped=kept.dropped + test_kept.dropped,
        unanswered=unanswered,
    )
