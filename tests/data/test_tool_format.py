"""OpenAI's tool-calling chat format kept through the whole pipeline (issue 12, "Formats").

Loading accepted it; these pin what came after: token counts, dedup, prepare (fields and truncation), export and
the tokenized labels: the assistant's call is trained, the tool's output is not.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tunesmith.config import DataConfig
from tunesmith.data import dedup, stats
from tunesmith.data.check import check_files
from tunesmith.data.conversation_prep import truncate as _truncate
from tunesmith.data.export import export_dataset, openai_format_errors
from tunesmith.data.prepare import prepare_dataset
from tunesmith.models.chat import end_of_turn_ids, record_tools, render_ids
from tunesmith.train.masking import IGNORE_INDEX, tokenize_conversation

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "find_order",
            "description": "Look an order up by its number.",
            "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
        },
    }
]


def call(order: str, cid: str = "call_1") -> dict:
    return {
        "id": cid,
        "type": "function",
        "function": {"name": "find_order", "arguments": json.dumps({"order": order})},
    }


def conversation(order: str = "LH-1042", status: str = "shipped", cid: str = "call_1") -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You are Juno, the support assistant of Lumen Home."},
            {"role": "user", "content": f"Where is my order {order}?"},
            {"role": "assistant", "tool_calls": [call(order, cid)]},  # no content, as OpenAI writes a call
            {"role": "tool", "tool_call_id": cid, "content": json.dumps({"status": status})},
            {"role": "assistant", "content": f"Your order {order} has {status}."},
        ],
        "tools": TOOLS,
        "parallel_tool_calls": False,
    }


LEGACY = {
    "messages": [
        {"role": "user", "content": "What is the weather in Oslo?"},
        {"role": "assistant", "content": None, "function_call": {"name": "weather", "arguments": '{"city": "Oslo"}'}},
        {"role": "function", "name": "weather", "content": "4 C, light rain"},
        {"role": "assistant", "content": "It is 4 C with light rain in Oslo."},
    ],
    "functions": [{"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
}
PLAIN = [
    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for q, a in [
        ("Can I return a smart plug after two weeks?", "Yes, returns are accepted within 30 days of delivery."),
        ("How do I reset the hub?", "Hold the button on the back for ten seconds until the light blinks."),
    ]
]
ALL_SPLIT_TO_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def record(obj: dict) -> dict:
    """The canonical record, as loading makes it (a tool call gets content "")."""
    from tunesmith.records import to_record

    r, findings = to_record(obj, "messages", file="x.jsonl", line=1)
    assert not findings
    return r


# ----------------------------------------------------------------------------------------------------------------
# check and token counts


def test_check_finds_no_error_in_tool_conversations(tmp_path):
    src = write(tmp_path / "tools.jsonl", [conversation(), LEGACY, *PLAIN])
    report = check_files([src], diversity=False)
    assert [f.to_json() for f in report.findings if f.severity == "error"] == []
    assert report.examples == 4
    tokens = report.stats["tokens_per_example"]
    assert set(tokens) == {"total", "system", "user", "assistant", "tool"} and tokens["tool"]["max"] > 0


def test_token_counter_counts_tool_results_definitions_and_call_arguments():
    counter = stats.TokenCounter()
    with_tools, without = counter.records([record(conversation()), record(PLAIN[0])])
    assert with_tools["tool"] > 0 and "tool" not in without  # plain data keeps its keys
    bare = record(conversation())
    del bare["tools"]
    bare["messages"][2]["tool_calls"] = []
    [no_call] = counter.records([bare])
    assert with_tools["assistant"] > no_call["assistant"]  # the call's name and arguments are the assistant's
    assert with_tools["tool"] > no_call["tool"]  # and the definitions count as tool context
    expected = sum(v for k, v in with_tools.items() if k != "total") + stats.APPROX_MESSAGE_OVERHEAD * 5
    assert with_tools["total"] == expected


def test_token_counter_renders_tools_through_the_chat_template(tool_tokenizer, tiny_tokenizer):
    r = record(conversation())
    [row] = stats.TokenCounter(tool_tokenizer).records([r])
    rendered = tool_tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], tools=record_tools(r), tokenize=False
    )
    assert "find_order" in rendered
    assert row["total"] == len(render_ids(tool_tokenizer, r)) > row["tool"] > 0
    [plain] = stats.TokenCounter(tiny_tokenizer).records([r])  # a template without tools still counts
    assert 0 < plain["total"] < row["total"]


def test_refusal_share_reads_a_final_tool_call_as_an_action():
    ends_in_call = record(
        {
            "messages": [
                {"role": "user", "content": "Cancel order LH-1042."},
                {"role": "assistant", "content": "", "tool_calls": [call("LH-1042")]},
            ]
        }
    )
    assert stats.is_refusal(ends_in_call) is False
    refusing = record(conversation())
    refusing["messages"][-1]["content"] = "I'm sorry, but I can't share that."
    assert stats.is_refusal(refusing) is True


# ----------------------------------------------------------------------------------------------------------------
# dedup


def test_conversations_that_differ_only_in_the_tool_call_are_not_duplicates():
    a, b = record(conversation("LH-1042")), record(conversation("LH-1042"))
    b["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"order": "LH-2077"}'
    assert dedup.exact_key(a) != dedup.exact_key(b)
    assert dedup.exact_groups([a, b]) == [] and dedup.clusters([a, b], 0.8) == []


def test_call_ids_and_argument_spacing_do_not_make_a_duplicate_distinct():
    a, b = record(conversation(cid="call_1")), record(conversation(cid="call_zz9"))
    b["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{ "order" :  "LH-1042" }'
    assert dedup.exact_groups([a, b]) == [[0, 1]]


def test_a_different_tool_result_explains_a_different_answer_and_is_no_conflict():
    shipped, lost = record(conversation(status="shipped")), record(conversation(status="lost in transit"))
    assert dedup.clusters([shipped, lost], 0.8) == []
    # The same question, call and result with two different answers is still a conflict.
    other = record(conversation(status="shipped"))
    other["messages"][-1]["content"] = "Order 7 was never placed, no record exists."
    [c] = dedup.clusters([shipped, other], 0.8)
    assert c.conflict


def test_tool_definitions_are_part_of_the_exact_key():
    a, b = record(conversation()), record(conversation())
    b["tools"] = [*TOOLS, {"type": "function", "function": {"name": "cancel_order"}}]
    assert dedup.exact_key(a) != dedup.exact_key(b)


# ----------------------------------------------------------------------------------------------------------------
# prepare


def prepare(tmp_path: Path, rows: list[dict], max_seq_len: int | None = None, **cfg) -> list[dict]:
    src = write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "ds"
    prepare_dataset([src], out, DataConfig(pii="off", split=ALL_SPLIT_TO_TRAIN, **cfg), max_seq_len=max_seq_len)
    return [json.loads(line) for line in (out / "train.jsonl").open(encoding="utf-8")]


def test_prepare_keeps_every_tool_field(tmp_path):
    rows = prepare(tmp_path, [conversation(), LEGACY, *PLAIN])
    by_first_user = {r["messages"][1 if r["messages"][0]["role"] == "system" else 0]["content"]: r for r in rows}
    new = by_first_user["Where is my order LH-1042?"]
    assert new["tools"] == TOOLS and new["parallel_tool_calls"] is False
    assert new["messages"][2] == {"role": "assistant", "content": "", "tool_calls": [call("LH-1042")]}
    assert new["messages"][3] == {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_1"}
    old = by_first_user["What is the weather in Oslo?"]
    assert old["functions"] == LEGACY["functions"]
    assert old["messages"][1]["function_call"] == LEGACY["messages"][1]["function_call"]
    assert old["messages"][2] == {"role": "function", "content": "4 C, light rain", "name": "weather"}
    plain = by_first_user[PLAIN[0]["messages"][0]["content"]]
    assert set(plain) == {"messages", "meta"}  # nothing added to the records without tools


def two_turns() -> dict:
    first = conversation("LH-1042")
    second = conversation("LH-2077", status="been delivered", cid="call_2")["messages"][1:]
    second[2]["content"] = json.dumps({"status": "delivered", "log": ["scan"] * 40})  # a long tool output
    return record({"messages": first["messages"] + second, "tools": TOOLS})


def test_truncate_cuts_whole_turns_never_a_tool_result_from_its_call():
    r = two_turns()
    counter = stats.TokenCounter()
    one_turn = copy.deepcopy(r)
    del one_turn["messages"][5:]
    fits = counter.records([one_turn])[0]["total"]
    assert counter.records([r])[0]["total"] > fits + 20
    assert _truncate(r, counter, fits)
    assert r["messages"] == one_turn["messages"]  # the second turn went whole: question, call, result, answer


def test_truncate_shortens_the_answer_after_a_tool_step_but_never_a_call():
    r = record(conversation())
    r["messages"][-1]["content"] = "Your order has shipped. " * 20
    counter = stats.TokenCounter()
    total = counter.records([r])[0]["total"]
    assert _truncate(r, counter, total - 30)
    assert r["messages"][2]["tool_calls"] == [call("LH-1042")] and r["messages"][3]["role"] == "tool"
    assert len(r["messages"][-1]["content"]) < len("Your order has shipped. " * 20)
    ends_in_call = record({"messages": [{"role": "user", "content": "Cancel it."}, r["messages"][2]], "tools": TOOLS})
    assert not _truncate(ends_in_call, counter, 5)  # a call cannot be shortened: dropped, not broken


def test_prepare_truncates_tool_conversations_by_whole_turns(tmp_path):
    r = two_turns()
    one = copy.deepcopy(r)
    del one["messages"][5:]
    limit = stats.TokenCounter().records([one])[0]["total"]
    [row] = prepare(tmp_path, [r], max_seq_len=limit, too_long="truncate")
    assert row["meta"]["truncated"] is True and len(row["messages"]) == 5 and row["tools"] == TOOLS
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]


# ----------------------------------------------------------------------------------------------------------------
# export


@pytest.fixture
def dataset(tmp_path):
    rows = [conversation(f"LH-{1000 + i}", cid=f"call_{i}") for i in range(10)] + [LEGACY, *PLAIN]
    src = write(tmp_path / "in.jsonl", rows)
    prepare_dataset([src], tmp_path / "ds", DataConfig(pii="off", split=ALL_SPLIT_TO_TRAIN))
    return tmp_path / "ds"


def test_openai_export_keeps_the_tool_fields(dataset, tmp_path):
    out = tmp_path / "openai.jsonl"
    result = export_dataset(dataset, "openai", out)
    rows = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert result.errors == [] and result.dropped == [] and result.written == 13
    assert openai_format_errors(rows) == {}
    new = next(r for r in rows if "tools" in r and r["messages"][1]["content"] == "Where is my order LH-1000?")
    assert new["tools"] == TOOLS and new["parallel_tool_calls"] is False
    assert new["messages"][2] == {"role": "assistant", "tool_calls": [call("LH-1000", "call_0")]}
    assert new["messages"][3] == {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_0"}
    old = next(r for r in rows if "functions" in r)
    assert old["messages"][1] == {"role": "assistant", "function_call": LEGACY["messages"][1]["function_call"]}
    assert old["messages"][2]["name"] == "weather"


def test_openai_checks_accept_tool_calls_and_still_catch_a_missing_content():
    ok = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [call("1")]}]}
    assert openai_format_errors([ok]) == {}
    bad = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant"}]}
    assert openai_format_errors([bad]) == {"message_missing_key": 1, "missing_content": 1}


@pytest.mark.parametrize("to", ["bedrock", "vertex"])
def test_exports_that_cannot_hold_tools_name_each_example_they_leave_out(to, dataset, tmp_path):
    out = tmp_path / f"{to}.jsonl"
    result = export_dataset(dataset, to, out)
    assert result.written == 2  # the two plain conversations
    assert len(result.dropped) == 11 and all("tool calling" in d["reason"] for d in result.dropped)
    assert all(d["id"].startswith("in.jsonl:") for d in result.dropped)
    [error] = [e for e in result.errors if "tool calling" in e]
    assert "11 example(s) use tool calling" in error and "--to openai" in error
    assert result.dropped[0]["id"] in error


# ----------------------------------------------------------------------------------------------------------------
# the whole way: check -> prepare -> export -> tokenized with the mask


def test_a_tool_conversation_goes_check_prepare_export_and_trains_the_call_only(tmp_path, tool_tokenizer):
    src = write(tmp_path / "in.jsonl", [conversation()])
    report = check_files([src], diversity=False)
    assert not report.has_errors
    prepare_dataset([src], tmp_path / "ds", DataConfig(pii="redact", split=ALL_SPLIT_TO_TRAIN))
    [row] = [json.loads(line) for line in (tmp_path / "ds" / "train.jsonl").open(encoding="utf-8")]
    assert row["tools"] == TOOLS and row["messages"][2]["tool_calls"] == [call("LH-1042")]
    export_dataset(tmp_path / "ds", "openai", tmp_path / "openai.jsonl")
    [exported] = [json.loads(line) for line in (tmp_path / "openai.jsonl").open(encoding="utf-8")]
    assert exported["tools"] == TOOLS and exported["messages"][2]["tool_calls"] == [call("LH-1042")]
    assert exported["messages"][3]["tool_call_id"] == "call_1"

    ex = tokenize_conversation(
        tool_tokenizer, row["messages"], eot_ids=end_of_turn_ids(tool_tokenizer), tools=record_tools(row)
    )
    trained = tool_tokenizer.decode([i for i, lb in zip(ex.input_ids, ex.labels, strict=True) if lb != IGNORE_INDEX])
    untrained = tool_tokenizer.decode([i for i, lb in zip(ex.input_ids, ex.labels, strict=True) if lb == IGNORE_INDEX])
    assert '<tool_call>find_order {"order": "LH-1042"}</tool_call><|im_end|>' in trained
    assert '{"status": "shipped"}' in untrained and 'shipped"' not in trained
    assert "find_order" in untrained  # the definition, in the context
