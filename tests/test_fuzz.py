"""Issue 12: property-based fuzzing of the loaders, the config and prepare (hypothesis).

Properties, over random bytes and over valid inputs mutated byte by byte:
- `records.load_records` returns or raises a TunesmithError, never anything else, and every record it returns can
  be written as UTF-8 JSON (a lone surrogate once reached dedup and crashed there);
- `config.load_config` returns or raises a TunesmithError;
- `prepare_dataset` (pii off) writes nothing outside its out dir: the inputs and their folder are as they were,
  no temporary sibling or key file is left, and a failed run leaves no out dir.

Seeded (`derandomize=True`, no example database) and bounded (`max_examples`), so the file runs the same cases in
well under a minute on two cores.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunesmith.config import DataConfig, load_config
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import TunesmithError
from tunesmith.records import load_records

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- inputs ------------------------------------------------------------------------------------------------------

JSONL_SEED = "\n".join(
    json.dumps(r, ensure_ascii=False)
    for r in [
        {"messages": [{"role": "user", "content": "Wo ist mein Paket?"}, {"role": "assistant", "content": "Da."}]},
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi, I'm Jane (jane@example.com)"},
                {"role": "assistant", "content": "Hello.", "weight": 1},
            ],
            "meta": {"id": "x1", "tags": ["greeting"]},
        },
        {"prompt": "2+2?", "completion": "4"},
        {"instruction": "Translate", "input": "chat", "output": "cat"},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
        {
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "c", "content": "4 C"},
                {"role": "assistant", "content": "4 C in Oslo."},
            ],
            "tools": [{"type": "function", "function": {"name": "w", "parameters": {}}}],
        },
    ]
).encode()
CSV_SEED = b'prompt,completion,tags\nq1,a1,"[""x""]"\n"multi\nline",a2,\n"quoted ""q""",a3,[]\n'
# Bytes that matter to the parsers: JSON structure, CSV quoting, line ends, BOMs, escapes of lone surrogates,
# invalid UTF-8, NUL, and big numbers.
INTERESTING = [
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b",",
    b":",
    b"\\",
    b"\n",
    b"\r\n",
    b"\x00",
    b"\xff",
    b"\xe9",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b'\\ud83d"',
    b"\\u0000",
    b"null",
    b"NaN",
    b"1e999",
    b"9" * 5000,
    b"[" * 200,
    b"\xe2\x80\xa8",
]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """`seed` with a few random edits: delete, insert (random or interesting bytes), replace, duplicate a slice."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["delete", "insert", "interesting", "replace", "duplicate"]))
        if op == "delete":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "interesting":
            data[i:i] = draw(st.sampled_from(INTERESTING))
        elif op == "replace" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "duplicate":
            data[i:i] = data[i : i + draw(st.integers(1, 60))]
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ROLES = st.sampled_from(["system", "user", "assistant", "tool", "function", "bot", "", None])
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES, "content": st.text(max_size=40) | JSON_VALUES},
    optional={
        "tool_calls": JSON_VALUES,
        "function_call": JSON_VALUES,
        "tool_call_id": JSON_VALUES,
        "name": JSON_VALUES,
        "weight": JSON_VALUES,
    },
)
# Objects shaped like conversations, with every field of any type: this reaches deep into to_record.
RECORD = st.fixed_dictionaries(
    {"messages": st.lists(MESSAGE, max_size=5) | JSON_VALUES},
    optional={"meta": JSON_VALUES, "tags": JSON_VALUES, "tools": JSON_VALUES, "functions": JSON_VALUES},
) | st.dictionaries(
    st.sampled_from(["prompt", "completion", "instruction", "input", "output", "system", "conversations"]),
    JSON_VALUES | st.lists(st.fixed_dictionaries({"from": JSON_VALUES, "value": JSON_VALUES}), max_size=3),
)


def _jsonl(objs: list) -> bytes:
    return ("\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n").encode("utf-8", "surrogatepass")


SUFFIXES = [".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt"]
FILE_BYTES = st.one_of(
    st.binary(max_size=600),
    mutated(JSONL_SEED),
    mutated(CSV_SEED),
    st.lists(RECORD, min_size=1, max_size=4).map(_jsonl),
    st.lists(RECORD, min_size=1, max_size=3).map(lambda objs: json.dumps(objs, indent=1).encode()),
)


_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fresh(scratch: Path) -> Path:
    """A new empty folder per example (hypothesis runs many examples in one test call)."""
    d = scratch / f"case{next(_counter)}"
    d.mkdir()
    return d


# ---- (a) the loaders ---------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=250)
@given(data=FILE_BYTES, suffix=st.sampled_from(SUFFIXES))
def test_load_records_raises_only_tunesmith_errors(scratch, data, suffix):
    path = _fresh(scratch) / f"input{suffix}"
    path.write_bytes(data)
    try:
        loaded = load_records([path])
    except TunesmithError as e:
        assert e.message and len(e.message) < 2000
        return
    for r in loaded.records:
        json.dumps(r, ensure_ascii=False).encode("utf-8")  # every later stage writes it
        assert isinstance(r["messages"], list) and all(isinstance(m["content"], str) for m in r["messages"])
    for f in loaded.findings:
        assert f.file == str(path) and all(isinstance(n, int) and n >= 1 for n in f.lines)


@settings(FUZZ, max_examples=60)
@given(data=mutated(JSONL_SEED), forced=st.sampled_from(["messages", "prompt_completion", "alpaca", "sharegpt"]))
def test_load_records_with_a_forced_format_raises_only_tunesmith_errors(scratch, data, forced):
    path = _fresh(scratch) / "input.jsonl"
    path.write_bytes(data)
    try:
        load_records([path], format=forced)
    except TunesmithError:
        pass


# ---- (b) the YAML config -----------------------------------------------------------------------------------------

YAML_SEED = b"""project:
  name: fuzz
  artifacts: artifacts
  seed: 0
defaults: &d {train: 0.8, val: 0.1, test: 0.1}
data:
  paths: [data/train.jsonl]
  pii: redact
  pii_allow: ["1-800-555-0199"]
  split: *d
model:
  base: models/tiny
train:
  method: lora
  epochs: 2
  learning_rate: 0.002
eval:
  arms: [base, fine_tuned]
  max_new_tokens: 64
"""
YAML_INTERESTING = [b": ", b"- ", b"&a ", b"*a", b"<<: *d\n", b"!!python/object:os.system ", b"{", b"[", b"'", b'"']
YAML_TEXT = st.text(alphabet=st.sampled_from(list("abc01 :-[]{}&*!|>'\"#%@,.?\n\t")), max_size=200)


@settings(FUZZ, max_examples=200)
@given(
    data=st.one_of(
        mutated(YAML_SEED),
        st.builds(
            lambda base, extra, at: base[:at] + extra + base[at:],
            st.just(YAML_SEED),
            st.sampled_from(YAML_INTERESTING),
            st.integers(0, len(YAML_SEED)),
        ),
        YAML_TEXT.map(str.encode),
        st.binary(max_size=300),
    )
)
def test_load_config_raises_only_tunesmith_errors(scratch, data):
    path = _fresh(scratch) / "tunesmith.yaml"
    path.write_bytes(data)
    try:
        load_config(path)
    except TunesmithError as e:
        assert e.message and len(e.message) < 2000


# ---- (c) prepare writes only its out dir -------------------------------------------------------------------------


def _listing(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def _conversation(i: int) -> dict:
    topics = ["billing", "login", "shipping", "refunds", "privacy", "exports", "accounts", "the mobile app"]
    return {
        "messages": [
            {"role": "user", "content": f"Question {i}: how do {topics[i % len(topics)]} work for case {i * 7}?"},
            {"role": "assistant", "content": f"For case {i * 7}, {topics[i % len(topics)]} work like this."},
        ]
    }


PREPARE_INPUT = st.one_of(
    st.lists(st.integers(0, 40), min_size=1, max_size=8).map(lambda ns: _jsonl([_conversation(n) for n in ns])),
    st.lists(st.integers(0, 40), min_size=2, max_size=8)
    .map(lambda ns: _jsonl([_conversation(n) for n in ns]))
    .flatmap(mutated),
    mutated(JSONL_SEED),
    st.lists(RECORD, min_size=1, max_size=4).map(_jsonl),
)


@settings(FUZZ, max_examples=40)
@given(
    data=PREPARE_INPUT,
    suffix=st.sampled_from([".jsonl", ".json", ".csv"]),
    out_state=st.sampled_from(["absent", "absent", "empty", "foreign", "file"]),
    split=st.sampled_from([{"train": 0.8, "val": 0.1, "test": 0.1}, {"train": 1.0, "val": 0.0, "test": 0.0}]),
)
def test_prepare_writes_nothing_outside_its_out_dir(scratch, data, suffix, out_state, split):
    root = _fresh(scratch)
    (root / "in").mkdir()
    (root / "in" / f"data{suffix}").write_bytes(data)
    (root / "in" / "notes.txt").write_text("the user's own file")
    out = root / "out"
    if out_state == "empty":
        out.mkdir()
    elif out_state == "foreign":
        out.mkdir()
        (out / "mine.txt").write_text("not written by tunesmith")
    elif out_state == "file":
        out.write_text("a file where the dataset should go")
    before = _listing(root)
    try:
        prepare_dataset([root / "in" / f"data{suffix}"], out, DataConfig(pii="off", split=split))
        ok = True
    except TunesmithError:
        ok = False
    after = _listing(root)
    outside = {k: v for k, v in after.items() if k != "out" and not k.startswith("out/")}
    assert outside == {k: v for k, v in before.items() if k != "out" and not k.startswith("out/")}
    if ok:
        assert out_state in ("absent", "empty") and (out / "manifest.json").is_file()
    else:  # refused or failed: what was at --out is as it was (or still absent)
        assert {k: v for k, v in after.items() if k == "out" or k.startswith("out/")} == {
            k: v for k, v in before.items() if k == "out" or k.startswith("out/")
        }
    shutil.rmtree(root)
