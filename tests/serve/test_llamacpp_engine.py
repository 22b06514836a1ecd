"""serve.engine llamacpp: the same app and request log, generation by llama.cpp from f16 GGUFs written at start."""

from __future__ import annotations

import pytest

from tests.serve.conftest import API_KEY, LiveServer, free_port
from tunesmith.config import ServeConfig

MESSAGES = [{"role": "user", "content": "how do i reset my thermostat"}]


@pytest.fixture(scope="module")
def cpp_engine(tiny_model_dir, adapters):
    pytest.importorskip("llama_cpp")
    from tunesmith.serve.llamacpp_engine import LlamaCppServeEngine

    engine = LlamaCppServeEngine(str(tiny_model_dir), adapters=adapters)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def cpp_server(cpp_engine, tmp_path_factory):
    from tunesmith.serve.app import ServeState, create_app
    from tunesmith.serve.log import RequestLog

    log = RequestLog(f"sqlite:///{tmp_path_factory.mktemp('db') / 'log.db'}", redact=False)
    state = ServeState(cpp_engine, log, ServeConfig(max_tokens=64, default_max_tokens=16), API_KEY)
    with LiveServer(create_app(state), free_port()) as live:
        live.log, live.app_state = log, state
        yield live
    log.close()


@pytest.fixture
def cpp_client(cpp_server):
    import openai

    return openai.OpenAI(base_url=cpp_server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


def test_without_llama_cpp_serving_is_a_config_error_with_the_install_hint(tiny_model_dir, tmp_path, monkeypatch):
    from tunesmith.config import Config
    from tunesmith.errors import ConfigError
    from tunesmith.models import llamacpp
    from tunesmith.serve.server import ServePlan, load_engine

    monkeypatch.setattr(llamacpp, "available", lambda: False)
    cfg = Config(root=tmp_path, serve=ServeConfig(engine="llamacpp"))
    with pytest.raises(ConfigError, match="serve.engine llamacpp needs llama.cpp") as e:
        load_engine(cfg, ServePlan(base=str(tiny_model_dir)))
    assert llamacpp.INSTALL_HINT in (e.value.hint or "")


def test_each_served_model_is_its_own_gguf_and_the_prompt_is_the_gguf_template(cpp_engine, engine):
    """Every adapter merged into its own f16 GGUF (they answer differently), and the chat template the GGUF carries
    renders and tokenises the prompt as the transformers engine does."""
    from tunesmith.serve.engine import Sampling

    assert cpp_engine.names == ["base", "support", "legal"]
    text = cpp_engine.render_chat(MESSAGES)
    assert text == engine.render_chat(MESSAGES)
    assert cpp_engine.count_tokens(text) == engine.count_tokens(text)
    greedy = Sampling(max_tokens=12, temperature=0)
    answers = {name: cpp_engine.generate(name, text, greedy).choices[0].text for name in cpp_engine.names}
    assert len(set(answers.values())) == 3, answers
    assert cpp_engine.generate("base", text, greedy).choices[0].text == answers["base"]  # greedy is repeatable


def test_chat_through_the_sdk_is_logged_like_the_hf_engine(cpp_client, cpp_server):
    r = cpp_client.chat.completions.create(model="support", messages=MESSAGES, max_tokens=6, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "length" and r.usage.completion_tokens == 6
    assert r.usage.prompt_tokens == cpp_server.app_state.engine.count_tokens(
        cpp_server.app_state.engine.render_chat(MESSAGES)
    )
    row = {row.id: row for row in cpp_server.log.fetch()}[r.id]
    assert row.model == "support" and row.responses == [choice.message.content] and row.messages == MESSAGES
    assert row.completion_tokens == 6 and row.finish_reason == "length"


def test_streaming_matches_the_plain_answer_and_is_logged(cpp_client, cpp_server):
    plain = cpp_client.chat.completions.create(model="legal", messages=MESSAGES, max_tokens=10, temperature=0)
    chunks = list(
        cpp_client.chat.completions.create(model="legal", messages=MESSAGES, max_tokens=10, temperature=0, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == plain.choices[0].finish_reason
    row = {row.id: row for row in cpp_server.log.fetch()}[chunks[0].id]
    assert row.responses == [text] and row.completion_tokens == plain.usage.completion_tokens


def test_seed_n_stop_and_completions(cpp_client, cpp_server):
    kw = dict(model="base", messages=MESSAGES, max_tokens=8, temperature=1.0, n=3)
    first = cpp_client.chat.completions.create(seed=7, **kw)
    again = cpp_client.chat.completions.create(seed=7, **kw)
    texts = [c.message.content for c in first.choices]
    assert texts == [c.message.content for c in again.choices]
    assert len(set(texts)) > 1  # each choice samples its own stream
    greedy = cpp_client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=12, temperature=0)
    answer = greedy.choices[0].message.content
    stop = answer[len(answer) // 2 :][:3]
    cut = cpp_client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=12, temperature=0, stop=stop)
    assert cut.choices[0].message.content == answer[: answer.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    raw = cpp_client.completions.create(model="legal", prompt="hello there", max_tokens=4, temperature=0)
    assert raw.usage.completion_tokens == 4
    assert {row.id for row in cpp_server.log.fetch()} >= {first.id, cut.id, raw.id}


def test_scope_guard_declines_and_suppressed_openings_change_the_first_token(cpp_client, cpp_server, cpp_engine):
    from tunesmith.data.scope_guard import CalibratedGuard, ScopeGuard
    from tunesmith.serve.engine import Sampling

    refusal = "Sorry, I can only help with Lumen Home devices."
    inside = ["how do i reset my thermostat", "my smart plug will not pair", "how do i update the hub firmware"]
    outside = ["what is the price of bitcoin", "recommend a diet for me", "which car should i buy"]
    cpp_server.app_state.guard = CalibratedGuard(ScopeGuard(inside, outside, refusal), 0.0)
    try:
        declined = cpp_client.chat.completions.create(
            model="support", messages=[{"role": "user", "content": "what is bitcoin worth today"}], max_tokens=8
        )
    finally:
        cpp_server.app_state.guard = None
    assert declined.choices[0].message.content == refusal
    assert {row.id: row for row in cpp_server.log.fetch()}[declined.id].guarded

    text = cpp_engine.render_chat(MESSAGES)
    first = cpp_engine.models["support"].answer(MESSAGES, max_new_tokens=1).ids[0]  # the greedy first token
    one = Sampling(max_tokens=1, temperature=0)
    plain = cpp_engine.generate("support", text, one).choices[0].text
    again = cpp_engine.generate("support", text, Sampling(max_tokens=1, temperature=0, suppress_first=(first,)))
    assert plain == cpp_engine.models["support"].token_text(first)
    assert again.choices[0].text != plain and cpp_engine.generate("support", text, one).choices[0].text == plain


def test_the_engine_flag_is_checked_against_serve_engine(tmp_path, capsys):
    from tunesmith.cli.main import main

    (tmp_path / "tunesmith.yaml").write_text("model:\n  base: models/tiny\n")
    assert main(["serve", str(tmp_path / "tunesmith.yaml"), "--engine", "llama.cpp"]) == 2
    err = capsys.readouterr().err
    assert "'serve.engine'" in err and "hf, llamacpp, vllm" in err
