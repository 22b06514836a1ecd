"""The chat-template helpers every stage shares (models/chat.py): what a template is given, the rendering, and the
tokens that end a turn. How the label mask uses them is tested in tests/train/test_masking.py."""

from tunesmith.models.chat import end_of_turn_ids, record_tools, render, template_messages, uses_tools


def test_the_older_function_call_format_renders_as_tool_calls():
    msgs = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "function_call": {"name": "weather", "arguments": '{"city": "Oslo"}'}},
        {"role": "function", "name": "weather", "content": "4 C"},
        {"role": "assistant", "content": "4 C in Oslo.", "weight": 1},
    ]
    out = template_messages(msgs)
    assert out[1]["tool_calls"] == [
        {"type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}}
    ]
    assert out[2] == {"role": "tool", "content": "4 C", "name": "weather"}
    assert "weight" not in out[3]
    assert record_tools({"functions": [{"name": "weather"}]}) == [{"type": "function", "function": {"name": "weather"}}]


def test_uses_tools_sees_calls_results_and_definitions():
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}
    assert not uses_tools(plain)
    assert uses_tools({**plain, "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert uses_tools({**plain, "functions": [{"name": "f"}]})
    assert uses_tools({"messages": [*plain["messages"], {"role": "tool", "content": "4 C"}]})
    call = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}
    assert uses_tools({"messages": [plain["messages"][0], call]})


def test_render_adds_the_generation_prompt_only_when_asked(tiny_tokenizer):
    msgs = [{"role": "user", "content": "Where is my order?"}]
    assert render(tiny_tokenizer, []) == ""
    text, prompt = render(tiny_tokenizer, msgs), render(tiny_tokenizer, msgs, add_generation_prompt=True)
    assert prompt.startswith(text) and prompt[len(text) :] == "<|im_start|>assistant\n"


def test_end_of_turn_ids_add_the_models_own_eos_ids(tiny_tokenizer):
    eos = tiny_tokenizer.eos_token_id
    assert end_of_turn_ids(tiny_tokenizer) == {eos}
    assert end_of_turn_ids(tiny_tokenizer, 7) == {eos, 7}
    assert end_of_turn_ids(tiny_tokenizer, [7, 8]) == {eos, 7, 8}
    assert end_of_turn_ids(tiny_tokenizer, []) == {eos}
