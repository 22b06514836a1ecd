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

from tunesmith.errors import TunesmithError

IGNORE_INDEX = -100


class LabelError(TunesmithError):
    """The tokenized data would train the wrong tokens; training refuses to start."""


@dataclass
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]
    # Tokens per role, and how many of them carry loss.
    role_tokens: Counter = field(default_factory=Counter)
    role_trained: Counter = field(default_factory=Counter)
    # Whether each trained assistant turn ends with an end-of-turn token.
    turns_ending_in_eot: int = 0
    trained_turns: int = 0


def _template_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    # Only role and content reach the template: `weight` and other extras are ours.
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def render(tokenizer: Any, messages: list[dict[str, Any]], *, add_generation_prompt: bool = False) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(
        _template_messages(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )


def message_spans(tokenizer: Any, messages: list[dict[str, Any]], *, where: str = "") -> tuple[str, list[tuple]]:
    """Render `messages` and return the text with one (role, start, end, trained_start, trained_end) per message.

    Raises LabelError when the template is not prefix-preserving.
    """
    full = render(tokenizer, messages)
    spans: list[tuple] = []
    previous = 0
    for i, message in enumerate(messages):
        upto = render(tokenizer, messages[: i + 1])
        if not full.startswith(upto):
            raise LabelError(
                f"the chat template is not prefix-preserving{where}: rendering the first {i + 1} messages is not a "
                "prefix of rendering the whole conversation, so assistant turns cannot be located reliably",
                hint="use a template that renders earlier turns unchanged (most templates do), or set a fixed one",
            )
        start, end = previous, len(upto)
        t_start = t_end = end
        if message["role"] == "assistant":
            before = render(tokenizer, messages[:i], add_generation_prompt=True)
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
    max_len: int | None = None,
    where: str = "",
) -> TokenizedExample:
    """Token ids and labels for one conversation: every assistant turn trained, unless its `weight` is 0."""
    text, spans = message_spans(tokenizer, messages, where=where)
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

    if max_len is not None and len(ids) > max_len:
        ex.input_ids, ex.labels = ids[:max_len], labels[:max_len]
    return ex


def end_of_turn_ids(tokenizer: Any, model_eos: int | list[int] | None = None) -> set[int]:
    """The tokens that end an assistant turn: the tokenizer's eos and the model's generation eos ids."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    if isinstance(model_eos, int):
        ids.add(model_eos)
    elif model_eos:
        ids.update(model_eos)
    return ids


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
