"""OpenAI's tool-calling format in training: the call is trained, the tool result is not, and a chat template that
cannot render tools stops training before it starts (issue 12, "Formats")."""

import copy
import json
import shutil

import pytest

from tunesmith.config import Config
from tunesmith.errors import ModelError
from tunesmith.models.chat import end_of_turn_ids, record_tools
from tunesmith.train.masking import (
    IGNORE_INDEX,
    ToolTemplateError,
    check_tool_support,
    tokenize_conversation,
)

CALL = {"id": "c1", "type": "function", "function": {"name": "find_order", "arguments": '{"order": "LH-1042"}'}}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "find_order",
            "description": "Look an order up.",
            "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
        },
    }
]
RECORD = {
    "messages": [
        {"role": "system", "content": "You are Juno."},
        {"role": "user", "content": "Where is order LH-1042?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "It shipped today."},
    ],
    "tools": TOOLS,
    "meta": {"id": "t1"},
}


def trained_text(tok, ex) -> str:
    return tok.decode([i for i, lb in zip(ex.input_ids, ex.labels, strict=True) if lb != IGNORE_INDEX])


def untrained_text(tok, ex) -> str:
    return tok.decode([i for i, lb in zip(ex.input_ids, ex.labels, strict=True) if lb == IGNORE_INDEX])


def test_the_tool_call_turn_is_trained_and_the_tool_result_is_not(tool_tokenizer):
    ex = tokenize_conversation(
        tool_tokenizer,
        RECORD["messages"],
        eot_ids=end_of_turn_ids(tool_tokenizer),
        tools=record_tools(RECORD),
    )
    text = tool_tokenizer.decode(ex.input_ids)
    assert '"name": "find_order"' in text.split("<|im_start|>user")[0]  # the definitions reach the template
    assert trained_text(tool_tokenizer, ex) == (
        '<tool_call>find_order {"order": "LH-1042"}</tool_call><|im_end|>It shipped today.<|im_end|>'
    )
    rest = untrained_text(tool_tokenizer, ex)
    assert '{"status": "shipped"}' in rest and "Where is order" in rest
    assert ex.role_trained == {"assistant": ex.role_trained["assistant"]} and ex.role_tokens["tool"] > 0
    assert ex.trained_turns == 2 and ex.turns_ending_in_eot == 2


def test_parallel_calls_and_a_run_of_results_rendered_as_one_turn(tool_tokenizer):
    """Qwen-style templates open one turn for a run of results: the prefix that stops inside the run is no prefix
    of the whole, so the run is located as a block."""
    msgs = copy.deepcopy(RECORD["messages"])
    second = {"id": "c2", "type": "function", "function": {"name": "find_order", "arguments": '{"order": "LH-7"}'}}
    msgs[2]["tool_calls"].append(second)
    msgs.insert(4, {"role": "tool", "tool_call_id": "c2", "content": "not found"})
    ex = tokenize_conversation(tool_tokenizer, msgs, eot_ids=end_of_turn_ids(tool_tokenizer))
    assert "<|im_start|>tool\n" + '{"status": "shipped"}\nnot found<|im_end|>' in tool_tokenizer.decode(ex.input_ids)
    trained = trained_text(tool_tokenizer, ex)
    assert trained.count("<tool_call>") == 2 and "not found" not in trained and 'shipped"' not in trained


def test_a_template_without_tools_is_refused_with_the_count(tiny_tokenizer):
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    assert check_tool_support(tiny_tokenizer, [plain, plain]) == 0  # no tools: nothing to say
    with pytest.raises(ToolTemplateError) as e:
        check_tool_support(tiny_tokenizer, [plain, RECORD, RECORD], model="models/tiny")
    assert isinstance(e.value, ModelError) and e.value.exit_code == 2
    assert "2 of 3 train examples use tool calling" in e.value.message and "train.jsonl:2" in e.value.message
    assert "does not support tools" in e.value.message and "'models/tiny'" in e.value.message
    assert "chat template" in e.value.hint and "Qwen" in e.value.hint


def test_a_template_that_mentions_tools_but_drops_the_calls_is_refused(tiny_tokenizer):
    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = "{# tools are not supported #}" + tiny_tokenizer.chat_template
    with pytest.raises(ToolTemplateError, match="drops tool calls or definitions in 1 of 1 train examples"):
        check_tool_support(tok, [RECORD])


def _write_dataset(d, rows):
    d.mkdir()
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_training_refuses_tool_data_on_a_template_without_tools(tiny_model_dir, tmp_path):
    from tunesmith.train.recipe import prepare

    _write_dataset(tmp_path / "ds", [RECORD] * 3)
    with pytest.raises(ToolTemplateError, match="3 of 3 train examples use tool calling"):
        prepare(Config(model={"base": str(tiny_model_dir)}), tmp_path / "ds")


def test_training_prepares_tool_data_on_a_template_with_tools(tiny_model_dir, tool_tokenizer, tmp_path):
    from tunesmith.train.recipe import prepare

    model = tmp_path / "tiny-tools"
    shutil.copytree(tiny_model_dir, model)
    tool_tokenizer.save_pretrained(str(model))
    _write_dataset(tmp_path / "ds", [RECORD] * 2)
    p = prepare(Config(model={"base": str(model)}), tmp_path / "ds")
    assert p.labels.trained_turns == 4 and p.labels.role_trained == {"assistant": p.labels.role_trained["assistant"]}
    assert "<tool_call>find_order" in trained_text(p.tokenizer, p.train_tok[0])
