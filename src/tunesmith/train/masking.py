"""Assistant-only labels, computed from rendered prefixes, and the guards that refuse to train the wrong tokens.

Why not rely on `{% generation %}` markers: many real chat templates (Qwen3, Llama 3, Mistral) ship without them, and
TRL then cannot mask at all. Instead we render the conversation one message at a time: the characters that an
assistant message adds to the rendering are that turn, and its trained span runs from the end of the generation
prompt (`<|im_start|>assistant\\n`) to the end of its turn, end-of-turn token included, trailing whitespace
excluded. Tokens whose characters overlap a trained span keep their id as label; every other token gets -100.

This works for any template that is prefix-preserving (rendering the first k messages gives a prefix of rendering
them all), and we check that, because a template that rewrites earlier turns (e.g. drops reasoning from history)
would make the spans lie.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tunesmith.errors import ModelError, TunesmithError
from tunesmith.models.chat import record_tools, render, template_messages, uses_tools
from tunesmith.records import TOOL_ROLES

IGNORE_INDEX = -100


class LabelError(TunesmithError):
    """The tokenized data would train the wrong tokens; training refuses to start."""


class ToolTemplateError(ModelError):
    """The data calls tools but the chat template cannot render them; training refuses to start."""


@dataclass
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]
    # Tokens per role, and how many of them carry loss.
    role_tokens: Counter[str] = field(default_factory=Counter)
    role_trained: Counter[str] = field(default_factory=Counter)
    # Whether each trained assistant turn ends with an end-of-turn token.
    turns_ending_in_eot: int = 0
    trained_turns: int = 0


def pad_right(examples: list[TokenizedExample], pad_id: int) -> dict[str, Any]:
    """`input_ids`, `labels` and `attention_mask` tensors of `examples`, padded on the right to the longest: what
    the estimate and the benchmarks feed the model (the trainer's collator does the same for training)."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
        mask[i, : len(e.input_ids)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def message_spans(
    tokenizer: Any, messages: list[dict[str, Any]], *, where: str = "", tools: list[dict[str, Any]] | None = None
) -> tuple[str, list[tuple[str, int, int, int, int]]]:
    """Render `messages` and return the text with one (role, start, end, trained_start, trained_end) per message.

    Consecutive tool results are located as one block (the span of the block is given to its last message, the
    others get an empty one): templates such as Qwen's wrap a run of results in one turn, so a prefix that stops
    inside the run is not a prefix of the whole. Raises LabelError when the template is not prefix-preserving.
    """
    full = render(tokenizer, messages, tools=tools)
    spans: list[tuple[str, int, int, int, int]] = []
    previous = 0
    for i, message in enumerate(messages):
        if message["role"] in TOOL_ROLES and i + 1 < len(messages) and messages[i + 1]["role"] in TOOL_ROLES:
            spans.append((message["role"], previous, previous, previous, previous))
            continue
        upto = render(tokenizer, messages[: i + 1], tools=tools)
        if not full.startswith(upto):
            raise LabelError(
                f"the chat template is not prefix-preserving{where}: rendering the first {i + 1} messages is not a "
                "prefix of rendering the whole conversation, so assistant turns cannot be located reliably",
                hint="use a template that renders earlier turns unchanged (most templates do), or set a fixed one",
            )
        start, end = previous, len(upto)
        t_start = t_end = end
        if message["role"] == "assistant":
            before = render(tokenizer, messages[:i], add_generation_prompt=True, tools=tools)
            if not upto.startswith(before):
                raise LabelError(
                    f"the chat template is not prefix-preserving{where}: the generation prompt before assistant "
                    f"message {i + 1} is not a prefix of the rendered turn",
                    hint="the template's add_generation_prompt output must match how it renders assistant turns",
                )
            t_start = max(len(before), start)
            t_end = len(upto.rstrip())
        spans.append((message["role"], start, end, t_start, t_end))
        previous = end
    return full, spans


def tokenize_conversation(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    *,
    eot_ids: set[int],
    where: str = "",
    tools: list[dict[str, Any]] | None = None,
) -> TokenizedExample:
    """Token ids and labels for one conversation: every assistant turn trained, unless its `weight` is 0.

    An assistant message that calls a tool is trained like any answer (the call is what the model must learn to
    write); the tool results are context and never trained. `tools` (the record's definitions) reach the template.
    """
    text, spans = message_spans(tokenizer, messages, where=where, tools=tools)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    labels = [IGNORE_INDEX] * len(ids)
    ex = TokenizedExample(input_ids=ids, labels=labels)

    for message, (role, start, end, t_start, t_end) in zip(messages, spans, strict=True):
        trained = role == "assistant" and message.get("weight", 1) != 0 and t_end > t_start
        last_trained = None
        for k, (a, b) in enumerate(offsets):
            if b <= start or a >= end or (a == b):  # outside this message (or a zero-width token)
                continue
            ex.role_tokens[role] += 1
            if trained and b > t_start and a < t_end:
                labels[k] = ids[k]
                ex.role_trained[role] += 1
                last_trained = k
        if trained:
            ex.trained_turns += 1
            ex.turns_ending_in_eot += int(last_trained is not None and ids[last_trained] in eot_ids)
    return ex


def _template_text(tokenizer: Any) -> str:
    template = getattr(tokenizer, "chat_template", None) or ""
    if isinstance(template, dict):  # named templates ("default", "tool_use")
        return "\n".join(str(t) for t in template.values())
    if isinstance(template, list):
        return "\n".join(str(t.get("template", "")) for t in template if isinstance(t, dict))
    return str(template)


def _names(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The names of the functions a record calls, and of the tools it defines."""
    called = []
    for m in template_messages(record.get("messages") or []):
        for c in m.get("tool_calls") or []:
            fn = c.get("function") if isinstance(c, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                called.append(fn["name"])
    defined = []
    for t in record_tools(record) or []:
        fn = t.get("function", t) if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            defined.append(fn["name"])
    return called, defined


def check_tool_support(tokenizer: Any, rows: list[dict[str, Any]], *, model: str = "", split: str = "train") -> int:
    """Refuse, before any work, data that calls tools when the chat template cannot render them; return how many
    examples use tools.

    A template that never mentions tools renders a tool-call turn as its (empty) content and drops the
    definitions: the model would learn to answer with nothing. A template that does mention them is also
    rendered on every tool example, and must show the name of each function called and each tool defined.
    """
    using = [i for i, r in enumerate(rows) if uses_tools(r)]
    if not using:
        return 0
    of = f"'{model}'" if model else "this tokenizer"
    first = f"{split}.jsonl:{using[0] + 1}"
    hint = (
        "train on a model whose chat template renders tools and tool_calls (Qwen2.5 or Qwen3 instruct, Llama 3.1+ "
        "instruct, ...), or give the model directory a chat_template that does; or drop the tool examples"
    )
    if "tool" not in _template_text(tokenizer):
        raise ToolTemplateError(
            f"{len(using)} of {len(rows)} {split} examples use tool calling (tool calls, tool results or tool "
            f"definitions; the first at {first}), but the chat template of {of} does not support tools: it never "
            "mentions them, so the calls would be dropped and the model would learn to answer with nothing",
            hint=hint,
        )
    missing = []
    for i in using:
        called, defined = _names(rows[i])
        text = render(tokenizer, rows[i]["messages"], tools=record_tools(rows[i]))
        lost = [n for n in called + defined if n not in text]
        if lost:
            missing.append((i, lost))
    if missing:
        i, lost = missing[0]
        raise ToolTemplateError(
            f"the chat template of {of} drops tool calls or definitions in {len(missing)} of {len(using)} {split} "
            f"examples that use tools: at {split}.jsonl:{i + 1}, {', '.join(repr(n) for n in lost[:3])} is not in "
            "the rendered text",
            hint=hint,
        )
    return len(using)


@dataclass
class LabelReport:
    examples: int
    tokens: int
    trained_tokens: int
    role_tokens: dict[str, int]
    role_trained: dict[str, int]
    trained_turns: int
    turns_ending_in_eot: int
    truncated: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def check_labels(tokenized: list[TokenizedExample], sources: list[str], *, truncated: int = 0) -> LabelReport:
    """Refuse data that would silently train the wrong thing; report what will be trained."""
    empty = [src for ex, src in zip(tokenized, sources, strict=True) if not any(lb != IGNORE_INDEX for lb in ex.labels)]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        raise LabelError(
            f"{len(empty)} example(s) have no trained token: {shown}",
            hint="each example needs an assistant turn with weight != 0 that fits in train.max_seq_len",
        )
    report = LabelReport(
        examples=len(tokenized),
        tokens=sum(len(ex.input_ids) for ex in tokenized),
        trained_tokens=sum(sum(lb != IGNORE_INDEX for lb in ex.labels) for ex in tokenized),
        role_tokens=dict(sum((ex.role_tokens for ex in tokenized), Counter())),
        role_trained=dict(sum((ex.role_trained for ex in tokenized), Counter())),
        trained_turns=sum(ex.trained_turns for ex in tokenized),
        turns_ending_in_eot=sum(ex.turns_ending_in_eot for ex in tokenized),
        truncated=truncated,
    )
    if report.turns_ending_in_eot == 0:
        raise LabelError(
            "the end-of-turn token is never trained: the model would never learn to stop answering",
            hint="the chat template must end each assistant turn with the tokenizer's eos token "
            "(or the model's generation eos); check tokenizer.eos_token and the template",
        )
    return report
