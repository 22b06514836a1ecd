"""Loading tunesmith.yaml, with errors that point at the line.

An unknown key is an error that names it, its line, and the closest valid key, because a silently ignored typo
(`lerning_rate`) is a silently wrong run. The YAML itself is read within bounds, so a hostile file is refused in
milliseconds.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tunesmith.config.base import RuleError
from tunesmith.config.fields import annotation_at, literal_choices, nearest, valid_keys
from tunesmith.config.project import Config
from tunesmith.errors import ConfigError

# A config is a few dozen keys: these bounds refuse a hostile file ("billion laughs", deep nesting) in milliseconds,
# long before its expansion could fill memory, and are far above what any real tunesmith.yaml needs.
MAX_CONFIG_BYTES = 4 << 20
MAX_ALIASES = 100
MAX_NODES = 100_000  # values after expanding aliases
MAX_DEPTH = 64
EXCERPT_CHARS = 80


class _Refused(yaml.YAMLError):
    """The YAML is well-formed but refused (duplicate key, too many aliases): a message, a hint and a line."""

    def __init__(self, message: str, hint: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.hint, self.line = message, hint, line


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, plus: duplicate keys are errors, and aliases and nesting are bounded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(
                    f"more than {MAX_ALIASES} YAML aliases (*name)",
                    "a tunesmith.yaml needs few anchors; write the values out",
                    self.peek_event().start_mark.line + 1,  # type: ignore[no-untyped-call]
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                f"values nested more than {MAX_DEPTH} levels deep",
                "a tunesmith.yaml is a few levels deep",
                self.peek_event().start_mark.line + 1,  # type: ignore[no-untyped-call]
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error says so
            if first is not None:
                raise _Refused(
                    f"duplicate key {_excerpt(key)} (first set at line {first})",
                    "keep one of them: YAML would silently use the last",
                    key_node.start_mark.line + 1,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once aliases are expanded, without expanding them (memoised)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise _Refused("a YAML alias refers to itself", "remove the recursive alias", node.start_mark.line + 1)
        active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        active.discard(id(node))
        sizes[id(node)] = n = min(n, MAX_NODES + 1)
        return n

    return size(root)


def parse_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The value and the node tree of a YAML document, within the bounds above; raises yaml.YAMLError."""
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _expanded_size(node) > MAX_NODES:
            raise _Refused(
                f"the YAML expands to more than {MAX_NODES:,} values (aliases of aliases)",
                "a tunesmith.yaml needs few anchors; write the values out",
                node.start_mark.line + 1,
            )
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _excerpt(value: Any) -> str:
    """A short repr for an error message: a value can be huge, and the message must stay one line."""
    r = reprlib.Repr()
    r.maxstring = r.maxother = EXCERPT_CHARS
    r.maxlevel = 3
    text = r.repr(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at `loc` (as deep as the path can be followed)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# Keys that moved: the error names the new place instead of the nearest name.
MOVED_KEYS = {
    ("data", "max_seq_len"): "train.max_seq_len: one sequence length for the data check, prepare and training",
    ("eval", "rag_documents"): "docs.paths: the rag arms retrieve from the document index (PDF, DOCX, HTML, "
    "Markdown, text; docs/documents.md)",
    ("eval", "rag_chunk_words"): "docs.chunk_tokens: passages are cut along headings within a token budget",
}


def _raise_for(err: ValidationError, *, file: str | None, root: yaml.Node | None) -> None:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    dotted = ".".join(str(x) for x in loc if x != "[key]")
    line = _line_of(root, loc) if root is not None else None
    rule = (first.get("ctx") or {}).get("error")
    if isinstance(rule, RuleError):
        line = _line_of(root, loc + rule.at) if root is not None else None
        raise ConfigError(rule.message, hint=rule.hint, file=file, line=line)
    if first["type"] == "extra_forbidden" and loc in MOVED_KEYS:
        raise ConfigError(f"'{dotted}' is now {MOVED_KEYS[loc]}", hint="move the key there", file=file, line=line)
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        valid = valid_keys(loc[:-1])
        close = nearest(key, valid)
        hint = f"did you mean '{close}'?" if close else None
        where = f" in section '{'.'.join(map(str, loc[:-1]))}'" if len(loc) > 1 else ""
        valid_txt = ", ".join(valid)
        raise ConfigError(
            f"unknown key '{key}'{where}",
            hint=(hint + " " if hint else "") + f"valid keys here: {valid_txt}",
            file=file,
            line=line,
        )
    choices = [str(c) for c in literal_choices(annotation_at(loc))] if first["type"] == "literal_error" else []
    if choices:
        what = "key" if loc and loc[-1] == "[key]" else "value"
        close = nearest(first.get("input"), choices)
        raise ConfigError(
            f"'{dotted}': unknown {what} {_excerpt(first.get('input'))}",
            hint=(f"did you mean '{close}'? " if close else "") + f"valid {what}s: {', '.join(choices)}",
            file=file,
            line=line,
        )
    raise ConfigError(
        f"'{dotted}': {first['msg']} (got {_excerpt(first.get('input'))})" if loc else first["msg"],
        hint="see the configuration reference in README.md",
        file=file,
        line=line,
    )


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read tunesmith.yaml, apply `section.key=value` overrides, validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="pass the path of a tunesmith.yaml")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the config: {e.strerror}", file=path) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"the config is over {MAX_CONFIG_BYTES >> 20} MB", hint="is this a tunesmith.yaml?", file=path
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x})",
            hint="save tunesmith.yaml as UTF-8",
            file=path,
            line=data.count(b"\n", 0, e.start) + 1,
        ) from None
    try:
        raw, root = parse_yaml(text)
        raw = raw or {}
    except _Refused as e:
        raise ConfigError(f"refused YAML: {e.message}", hint=e.hint, file=path, line=e.line) from None
    except (yaml.YAMLError, RecursionError) as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {_excerpt(getattr(e, 'problem', None) or str(e)).strip(chr(39))}",
            hint="check the indentation and quoting around this line",
            file=path,
            line=mark.line + 1 if mark else None,
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of sections", file=path, line=1)
    for item in overrides or []:
        apply_override(raw, item)
    try:
        cfg = Config.model_validate({**raw, "root": path.resolve().parent})
    except ValidationError as e:
        _raise_for(e, file=str(path), root=root)
        raise  # unreachable: _raise_for always raises
    _check_data_paths(cfg, file=path, root=root)
    return cfg


def _check_data_paths(cfg: Config, *, file: Path, root: yaml.Node | None) -> None:
    """data.paths must stay inside the project folder unless project.allow_outside_paths says otherwise.

    A config can be shared or downloaded: `paths: [../../../etc/passwd]` must not read a file the user never
    named. Symlinks are resolved, so a link out of the project counts as outside. Paths given on the command line
    (`data check FILE`) are the user's own choice and are not checked.
    """
    if cfg.project.allow_outside_paths:
        return
    project = cfg.root.resolve()
    for key in ("paths", "test_paths", "val_paths"):
        for i, p in enumerate(getattr(cfg.data, key)):
            resolved = cfg.path(p).resolve()
            if resolved != project and project not in resolved.parents:
                raise ConfigError(
                    f"data.{key}[{i}] {_excerpt(p)} is outside the project folder {project}",
                    hint="move the file into the project, or set project.allow_outside_paths: true",
                    file=file,
                    line=_line_of(root, ("data", key, i)) if root is not None else None,
                )


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one `--set section.key=value` to the raw mapping; the value is parsed as YAML (`3`, `true`, `[a]`)."""
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise ConfigError(f"bad override '{item}'", hint="write it as section.key=value, e.g. train.epochs=2")
    dotted, value = item.split("=", 1)
    keys = dotted.strip().split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"bad override '{item}': '{key}' is not a section")
    try:
        node[keys[-1]] = parse_yaml(value)[0]
    except (yaml.YAMLError, RecursionError):
        raise ConfigError(f"bad override '{_excerpt(item)}': the value is not valid YAML") from None
