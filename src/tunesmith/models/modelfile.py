"""An Ollama Modelfile for an exported GGUF: the chat template in Ollama's Go template language, the stop tokens,
the project's system prompt and the evaluation's greedy sampling.

Ollama does not run Jinja chat templates, and no library translates one into Go templates, so this is our own: the
chat template is rendered on a conversation whose contents are markers, and the text around the markers gives the
pieces every turn is made of (what opens a turn before and after the role name, what closes it, and the generation
prompt). A template made of such turns (ChatML: SmolLM2, Qwen; Llama 3) becomes Ollama's `range .Messages` loop,
written the way Ollama's own templates are; any other shape (a system block with extra text, as Llama 3.1 adds
dates) gets no TEMPLATE line, and the reason, rather than a template that would answer differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.models.chat import render

_MARK = "\u2063{}\u2063"  # invisible separator around a marker: never in a real template's own text


@dataclass(frozen=True)
class Turn:
    """The pieces of one message in a template made of uniform turns: open + role + after_role + content + close."""

    open: str
    after_role: str
    close: str
    generation: str  # what add_generation_prompt appends
    bos: str  # text the template puts before the first turn (a BOS token llama.cpp adds itself)


def _split(text: str, marks: list[str]) -> list[str]:
    """The text between consecutive markers: before the first, between each pair, after the last."""
    parts, rest = [], text
    for mark in marks:
        if mark not in rest:
            raise ValueError(f"the template dropped a message ({mark!r})")
        head, rest = rest.split(mark, 1)
        parts.append(head)
    return parts + [rest]


def template_turns(tokenizer: object) -> Turn:
    """The turn pieces of the tokenizer's chat template; ValueError when it is not made of uniform turns."""
    marks = [_MARK.format(c) for c in "SUAV"]
    roles = ["system", "user", "assistant", "user"]
    conv = [{"role": r, "content": m} for r, m in zip(roles, marks, strict=True)]
    lead, sys_user, user_asst, asst_user, tail = _split(render(tokenizer, conv, add_generation_prompt=True), marks)
    if sys_user != asst_user:
        raise ValueError("the system turn ends differently from the others")
    if "user" not in sys_user or "assistant" not in user_asst:
        raise ValueError("the role names are not written in the turns")
    close_open, after_role = sys_user.rsplit("user", 1)
    close_open_a, after_role_a = user_asst.rsplit("assistant", 1)
    if (close_open, after_role) != (close_open_a, after_role_a):
        raise ValueError("user and assistant turns open differently")
    # The closing text is what follows a message's content up to the next turn's opening; the single-message render
    # tells where one ends: it is the text after the content when nothing follows.
    alone = render(tokenizer, [{"role": "system", "content": marks[0]}])
    close = _split(alone, [marks[0]])[1]
    if not close_open.startswith(close):
        raise ValueError("a turn's end is not followed by the next turn's start")
    opening = close_open[len(close) :]
    if not lead.endswith(opening + "system" + after_role):
        raise ValueError("the system turn opens differently from the others")
    bos = lead[: len(lead) - len(opening + "system" + after_role)]
    if not tail.startswith(close):
        raise ValueError("the last turn does not end like the others")
    return Turn(opening, after_role, close, tail[len(close) :], bos)


def ollama_template(turn: Turn) -> str:
    """The Go template of Ollama for these turns, in the form of Ollama's own files (template/*.gotmpl): a closing
    text that ends without a newline is followed by `\\n{{- end }}`, which trims to the same output."""
    close = turn.close if turn.close.endswith("\n") else turn.close + "\n{{- "
    end = "end }}" if close.endswith("{{- ") else "{{ end }}"
    return (
        "{{- range .Messages }}"
        f"{turn.open}{{{{ .Role }}}}{turn.after_role}{{{{ .Content }}}}{close}{end}"
        f"{turn.generation}"
    )


def _quoted(text: str) -> str:
    if '"""' in text:
        raise ValueError('a Modelfile string cannot hold """')
    return f'"""{text}"""'


def modelfile(
    gguf_name: str,
    *,
    template: str | None,
    template_note: str | None,
    system: str | None,
    stops: list[str],
    max_new_tokens: int,
    header: str,
    adapter: str | None = None,
) -> str:
    """The Modelfile text (`adapter`: a GGUF LoRA adapter over `gguf_name`). Greedy as the evaluation decodes:
    temperature 0 and no repeat penalty (Ollama's default 1.1 changes greedy answers), and its token budget."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines.append(f"FROM ./{gguf_name}")
    if adapter is not None:
        lines.append(f"ADAPTER ./{adapter}")
    if template is not None:
        lines.append(f"TEMPLATE {_quoted(template)}")
    else:
        lines.append(f"# no TEMPLATE: {template_note}; Ollama falls back on the template in the GGUF's metadata")
    if system:
        lines.append(f"SYSTEM {_quoted(system)}")
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    lines += ["PARAMETER temperature 0", "PARAMETER repeat_penalty 1", f"PARAMETER num_predict {max_new_tokens}"]
    return "\n".join(lines) + "\n"
