"""Chat templates, shared by every stage: what a template is given, how a conversation is rendered, and which
tokens end an assistant turn.

Training (the label mask), evaluation and serving (the generation prompt and the stop tokens), `data check` (token
counts) and `data inspect` all go through these functions, so that they agree on what the model sees and on where a
turn ends.
"""

from __future__ import annotations

import json
from typing import Any, cast

from tunesmith.records import TOOL_ROLES, has_tool_call


def _arguments(arguments: Any) -> Any:
    """A call's arguments as chat templates expect them: OpenAI's format holds a JSON string, while Hugging Face
    templates (Qwen2.5, Llama 3.1, ...) render `arguments | tojson` and so expect the object; a string that is not a
    JSON object is passed as it is."""
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return arguments
        return parsed if isinstance(parsed, dict) else arguments
    return arguments


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as a chat template takes them: role and content, and the tool-calling keys.

    `weight` and other extras are ours and stay out. OpenAI's older `function_call` / `role: function` become the
    `tool_calls` / `role: tool` that templates know; tool-call arguments become objects (see `_arguments`).
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        content = m.get("content")
        msg: dict[str, Any] = {"role": m["role"], "content": "" if content is None else content}
        calls = [c for c in m.get("tool_calls") or [] if isinstance(c, dict)]
        if isinstance(m.get("function_call"), dict):
            calls.append({"type": "function", "function": m["function_call"]})
        if calls:
            msg["tool_calls"] = [
                {
                    **c,
                    "type": c.get("type", "function"),
                    "function": {**c["function"], "arguments": _arguments(c["function"].get("arguments", ""))},
                }
                if isinstance(c.get("function"), dict)
                else c
                for c in calls
            ]
        if m["role"] == "function":
            msg["role"] = "tool"
        for key in ("tool_call_id", "name"):
            if m.get(key) is not None and m["role"] in TOOL_ROLES:
                msg[key] = m[key]
        out.append(msg)
    return out


def record_tools(record: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The tool definitions of a record, in the `tools` shape (the older `functions` wrapped), or None."""
    tools = record.get("tools")
    if tools:
        return list(tools)
    functions = record.get("functions")
    if functions:
        return [{"type": "function", "function": f} for f in functions]
    return None


def uses_tools(record: dict[str, Any]) -> bool:
    """Whether a record holds tool calls, tool results or tool definitions."""
    return bool(record_tools(record)) or any(
        m.get("role") in TOOL_ROLES or has_tool_call(m) for m in record.get("messages") or []
    )


def render(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    *,
    add_generation_prompt: bool = False,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    """The text the chat template makes of `messages` (with the assistant's generation prompt when asked)."""
    if not messages:
        return ""
    return cast(
        str,
        tokenizer.apply_chat_template(
            template_messages(messages), tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt
        ),
    )


def render_ids(tokenizer: Any, record: dict[str, Any]) -> list[int]:
    """The token ids of a record rendered by the chat template, tool calls and definitions included."""
    ids = tokenizer.apply_chat_template(
        template_messages(record["messages"]), tools=record_tools(record), tokenize=True, return_dict=True
    )["input_ids"]
    return list(ids)


def end_of_turn_ids(tokenizer: Any, model_eos: int | list[int] | None = None) -> set[int]:
    """The tokens that end an assistant turn: the tokenizer's eos and the model's generation eos ids.

    Pass the model's own ids (`models.loading.generation_eos(model)`, or `saved_generation_eos(base)` without
    loading the weights): on Llama 3 style models the token that ends a turn is an EOS id of the generation config
    only, and training, generation and `data inspect` must all stop on it.
    """
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    if isinstance(model_eos, int):
        ids.add(model_eos)
    elif model_eos:
        ids.update(model_eos)
    return ids


def ready_for_chat(tokenizer: Any, missing_template: Exception) -> None:
    """Pad with the end-of-sequence token when the tokenizer has none (batched generation and training need a
    pad token), and raise `missing_template` when it has no chat template: tunesmith trains chat models, and
    without the template the roles and the end of turn would be lost."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise missing_template
