"""`data export`: a prepared split in a vendor's fine-tuning format, checked against that vendor's limits.

The limits are the documented ones at the time of writing (OpenAI's chat fine-tuning guide and data-preparation
cookbook, Amazon Nova's "prepare data for fine-tuning understanding models", Vertex AI's "prepare supervised
fine-tuning data for Gemini"). Vendors change them: check the model's page before a costly job.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.artifacts import dumps, iter_jsonl, write_file_checked
from tunesmith.data import stats
from tunesmith.errors import DataError
from tunesmith.models.chat import uses_tools
from tunesmith.records import TOOL_RECORD_KEYS, has_tool_call, role_order_problem


@dataclass(frozen=True)
class Limits:
    min_examples: int
    max_tokens: int
    recommended: int = 100


LIMITS = {
    # Minimum 10 examples, 50-100 recommended to see gains:
    #   https://developers.openai.com/docs/guides/distillation ("The minimum number of examples ... is 10")
    # 65,536 tokens per training example for gpt-4o / gpt-4o-mini (2024-07-18, 2024-08-06), as listed in
    #   https://github.com/MicrosoftDocs/azure-ai-docs/pull/544/files ("Training example context length: 65,536");
    #   older models were lower (gpt-3.5-turbo: 16,385, see the cookbook's check
    #   https://cookbook.openai.com/examples/chat_finetuning_data_prep). Longer examples are truncated, not rejected.
    "openai": Limits(min_examples=10, max_tokens=65_536, recommended=50),
    # "we recommend that you have at least 100 samples for each task":
    #   https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html
    # The hard minimum (8 records) and the 32k-token context of Nova Micro/Lite fine-tuning were NOT found in the
    # docs corpus when these limits were checked: unverified, kept from the colleague's notes; check the quotas page.
    "bedrock": Limits(min_examples=8, max_tokens=32_000, recommended=100),
    # "Maximum input and output training tokens: 131,072" (Gemini 2.0/2.5 Flash, Flash-Lite, Pro) and "we recommend
    # that you start with 100 examples"; no documented minimum:
    #   https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning
    #   https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare
    "vertex": Limits(min_examples=1, max_tokens=131_072, recommended=100),
}
# Amazon Nova fails the training job when a user or system prompt starts with or contains any of these (item 12 of
# https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html), which also says:
# roles are user and assistant, the first turn is the user's and the last the assistant's, `system` is optional.
NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")


@dataclass
class ExportResult:
    written: int
    training_tokens: int
    dropped: list[dict[str, str]] = field(default_factory=list)
    truncated: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def openai_format_errors(rows: list[Any]) -> dict[str, int]:
    """The format checks of OpenAI's chat fine-tuning data-preparation cookbook, with its error names.

    The seven kinds of https://cookbook.openai.com/examples/chat_finetuning_data_prep: data_type,
    missing_messages_list, message_missing_key, message_unrecognized_key, unrecognized_role, missing_content,
    example_missing_assistant_message. Extended to the tool-calling format OpenAI's fine-tuning accepts
    (https://platform.openai.com/docs/guides/fine-tuning, "fine-tuning with tool calling"): `tool_calls`,
    `tool_call_id`, the `tool` role, and an assistant call with no content.
    """
    errors: dict[str, int] = defaultdict(int)
    for ex in rows:
        if not isinstance(ex, dict):
            errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            errors["missing_messages_list"] += 1
            continue
        for message in messages:
            calls = message.get("function_call", None) or message.get("tool_calls", None)
            if "role" not in message or ("content" not in message and not calls):
                errors["message_missing_key"] += 1
            if any(k not in OPENAI_MESSAGE_KEYS for k in message):
                errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function", "tool"):
                errors["unrecognized_role"] += 1
            content = message.get("content", None)
            if calls:
                if content is not None and not isinstance(content, str):
                    errors["missing_content"] += 1
            elif not content or not isinstance(content, str):
                errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            errors["example_missing_assistant_message"] += 1
    return dict(errors)


OPENAI_MESSAGE_KEYS = ("role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id")


def _openai(r: dict[str, Any]) -> dict[str, Any]:
    messages = []
    for m in r["messages"]:
        out = {k: m[k] for k in OPENAI_MESSAGE_KEYS if k in m}
        if has_tool_call(m) and not m.get("content"):
            del out["content"]  # a call with no text, as OpenAI's tool-calling examples write it
        messages.append(out)
    return {"messages": messages, **{k: r[k] for k in TOOL_RECORD_KEYS if k in r}}


def _bedrock(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    system = [m["content"] for m in r["messages"] if m["role"] == "system"]
    if system:
        out["system"] = [{"text": s} for s in system]
    out["messages"] = [
        {"role": m["role"], "content": [{"text": m["content"]}]} for m in r["messages"] if m["role"] != "system"
    ]
    return out


def _vertex(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    system = [m["content"] for m in r["messages"] if m["role"] == "system"]
    if system:
        out["systemInstruction"] = {"role": "system", "parts": [{"text": s} for s in system]}
    out["contents"] = [
        {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
        for m in r["messages"]
        if m["role"] != "system"
    ]
    return out


CONVERTERS = {"openai": _openai, "bedrock": _bedrock, "vertex": _vertex}
# The targets whose converter keeps tool calls, tool results and tool definitions. The others would silently turn
# a call into an empty answer: their tool examples are dropped, each named, and the export reports an error.
KEEPS_TOOLS = frozenset({"openai"})


def _conversations(rows_in: list[tuple[int, Any]], src: Path) -> list[dict[str, Any]]:
    """The rows of a prepared split as conversations; the first row that is not one stops the export."""
    records = []
    for n, r in rows_in:
        messages = r.get("messages") if isinstance(r, dict) else None
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
        ):
            raise DataError(
                "not a prepared record: it needs a list of messages, each with a role",
                hint="pass a directory made by `tunesmith data prepare`, or prepare it again",
                file=src,
                line=n,
            )
        records.append(r)
    return records


def _problem(r: dict[str, Any], to: str) -> tuple[str | None, bool]:
    """Why `to` would reject or mangle `r` (None: it would not), and whether the reason is its tool calling."""
    problem = role_order_problem([m["role"] for m in r["messages"]], [has_tool_call(m) for m in r["messages"]])
    if problem is None and to not in KEEPS_TOOLS and uses_tools(r):
        return (
            f"uses tool calling (tool calls, tool results or tool definitions), which the {to} export does not "
            "convert; export it --to openai"
        ), True
    if to == "bedrock" and problem is None:
        text = " ".join(m["content"] for m in r["messages"] if m["role"] != "assistant")
        hit = next((w for w in NOVA_RESERVED if w in text), None)
        problem = f"contains the reserved keyword {hit!r}" if hit else None
    return problem, False


def export_dataset(
    dataset_dir: str | Path,
    to: str,
    out: str | Path,
    *,
    split: str = "train",
    tokenizer: Any = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write `split` of a prepared dataset in `to`'s format; drop what the vendor would reject and say why.

    `out` is written atomically (its folder is created); an existing file is replaced only with `overwrite`, and
    never inside the dataset being read.
    """
    if to not in CONVERTERS:
        raise DataError(f"unknown export target '{to}'", hint=f"use one of: {', '.join(CONVERTERS)}")
    src = Path(dataset_dir) / f"{split}.jsonl"
    if not src.is_file():
        raise DataError(f"no {split}.jsonl in {dataset_dir}", hint="pass a directory made by `tunesmith data prepare`")
    rows_in = list(iter_jsonl(src))
    if rows_in and isinstance(rows_in[0][1], dict) and "chosen" in rows_in[0][1] and "messages" not in rows_in[0][1]:
        if to != "openai":
            raise DataError(
                f"{dataset_dir} holds preference pairs; only --to openai (its DPO format) exports them",
                hint="export pairs with --to openai, or export a dataset of conversations",
            )
        return export_openai_dpo(rows_in, src, dataset_dir, out, tokenizer=tokenizer, overwrite=overwrite)
    records = _conversations(rows_in, src)
    if Path(out).exists() and not overwrite:
        write_file_checked(out, [], overwrite=False, inputs=[dataset_dir])  # refuses now, before the work
    limits = LIMITS[to]
    counter = stats.TokenCounter(tokenizer)
    result = ExportResult(written=0, training_tokens=0)
    rows = []
    tool_dropped: list[str] = []
    for r, t in zip(records, counter.records(records), strict=True):
        rid = str(r.get("meta", {}).get("id", "?"))
        problem, tools = _problem(r, to)
        if tools:
            tool_dropped.append(rid)
        if problem:
            result.dropped.append({"id": rid, "reason": problem})
            continue
        if t["total"] > limits.max_tokens:
            result.truncated.append(
                {
                    "id": rid,
                    "reason": f"{t['total']} tokens > {limits.max_tokens}; the vendor "
                    "truncates it (run prepare with --too-long truncate to control how)",
                }
            )
        result.training_tokens += min(t["total"], limits.max_tokens)
        rows.append(CONVERTERS[to](r))
    if tool_dropped:
        shown = ", ".join(tool_dropped[:5]) + (f" and {len(tool_dropped) - 5} more" if len(tool_dropped) > 5 else "")
        result.errors.append(
            f"{len(tool_dropped)} example(s) use tool calling, which the {to} format written here cannot hold; "
            f"they were left out: {shown}. Export them --to openai, or prepare the data without them"
        )
    if to == "openai":
        bad = openai_format_errors(rows)
        if bad:
            result.errors.append(f"OpenAI format checks failed: {json.dumps(bad)}")
    _write(result, out, rows, "example(s)", to, limits, overwrite=overwrite, inputs=[dataset_dir])
    result.warnings.append(f"token counts: {counter.method}")
    return result


def _write(
    result: ExportResult,
    out: str | Path,
    rows: list[dict[str, Any]],
    unit: str,
    to: str,
    limits: Limits,
    **checked: Any,
) -> None:
    """The vendor's example-count limits, then the JSONL through the output-safety layer."""
    if len(rows) < limits.min_examples:
        result.errors.append(f"{len(rows)} {unit}; {to} needs at least {limits.min_examples}")
    elif len(rows) < limits.recommended:
        result.warnings.append(f"{len(rows)} {unit}; {to} recommends starting with {limits.recommended}")
    write_file_checked(out, (dumps(row) + "\n" for row in rows), **checked)
    result.written = len(rows)


def _dpo_problem(pair: dict[str, Any]) -> str | None:
    """Why OpenAI's DPO fine-tuning would reject a pair, or None. Its guide: `input.messages` is the prompt (text,
    ending with the user's turn), and `preferred_output` / `non_preferred_output` each hold the one final assistant
    message, text only (DPO "is currently only supported for text inputs and outputs"):
    https://developers.openai.com/api/docs/guides/direct-preference-optimization"""
    prompt = pair.get("prompt")
    if not isinstance(prompt, list) or not prompt or not all(isinstance(m, dict) for m in prompt):
        return "no prompt messages"
    if any(m.get("role") not in ("system", "user", "assistant") for m in prompt):
        return "the prompt holds a tool step; OpenAI's DPO format takes text conversations"
    if prompt[-1].get("role") != "user":
        return "the prompt does not end with the user's turn"
    for side, key in (("chosen", "preferred_output"), ("rejected", "non_preferred_output")):
        msgs = pair.get(side)
        if not isinstance(msgs, list) or len(msgs) != 1 or not isinstance(msgs[0], dict):
            return f"{key} must be exactly one assistant message"
        m = msgs[0]
        if m.get("tool_calls") or m.get("function_call"):
            return f"{key} calls a tool; OpenAI's DPO format takes text outputs"
        if m.get("role") != "assistant" or not isinstance(m.get("content"), str) or not m["content"].strip():
            return f"{key} must be one assistant message with text"
    return None


def export_openai_dpo(
    rows: list[tuple[int, Any]],
    src: Path,
    dataset_dir: str | Path,
    out: str | Path,
    *,
    tokenizer: Any = None,
    overwrite: bool = False,
) -> ExportResult:
    """Preference pairs in OpenAI's DPO JSONL: `{"input": {"messages", "tools"?, "parallel_tool_calls"?},
    "preferred_output": [...], "non_preferred_output": [...]}`, with the same example and token limits as SFT."""
    if Path(out).exists() and not overwrite:
        write_file_checked(out, [], overwrite=False, inputs=[dataset_dir])
    limits = LIMITS["openai"]
    counter = stats.TokenCounter(tokenizer)
    result = ExportResult(written=0, training_tokens=0)
    written = []
    for n, pair in rows:
        if not isinstance(pair, dict):
            raise DataError("not a prepared pair", file=src, line=n, hint="prepare it again")
        rid = str(pair.get("meta", {}).get("id", f"line {n}"))
        problem = _dpo_problem(pair)
        if problem:
            result.dropped.append({"id": rid, "reason": problem})
            continue
        sides = counter.records([{"messages": [*pair["prompt"], *pair[s]], "meta": {}} for s in ("chosen", "rejected")])
        longest = max(t["total"] for t in sides)
        if longest > limits.max_tokens:
            result.truncated.append({"id": rid, "reason": f"{longest} tokens > {limits.max_tokens}"})
        result.training_tokens += sum(min(t["total"], limits.max_tokens) for t in sides)
        clean = [{"role": m["role"], "content": m["content"]} for m in pair["prompt"]]
        inp: dict[str, Any] = {"messages": clean}
        for key in ("tools", "parallel_tool_calls"):
            if key in pair:
                inp[key] = pair[key]
        written.append(
            {
                "input": inp,
                "preferred_output": [{"role": "assistant", "content": pair["chosen"][0]["content"]}],
                "non_preferred_output": [{"role": "assistant", "content": pair["rejected"][0]["content"]}],
            }
        )
    _write(result, out, written, "pair(s)", "openai", limits, overwrite=overwrite, inputs=[dataset_dir])
    result.warnings.append(f"token counts: {counter.method}; create the OpenAI job with method type dpo")
    return result
