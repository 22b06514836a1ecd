"""The server through the official openai client, as applications will use it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.serve.conftest import API_KEY

MESSAGES = [{"role": "user", "content": "how do i reset my thermostat"}]


def test_models_lists_base_adapters_and_lineage(client):
    models = {m.id: m for m in client.models.list().data}
    assert {"base", "support", "legal", "served"} <= set(models)
    assert models["support"].model_extra["lineage"]["dataset_hash"] == "abc"
    assert models["served"].model_extra["alias_of"] == "support"


def test_chat_returns_text_usage_and_finish_reason(client):
    r = client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=8, temperature=0)
    choice = r.choices[0]
    assert r.id.startswith("chatcmpl-") and choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens >= 1
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert choice.finish_reason == "length" or r.usage.completion_tokens < 8


def test_max_tokens_is_honoured_and_bounded(client):
    r = client.chat.completions.create(model="base", messages=MESSAGES, max_completion_tokens=3, temperature=0)
    assert r.usage.completion_tokens <= 3
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=10_000)
    assert e.value.body["param"] == "max_tokens"


def test_adapter_choice_by_model_changes_the_answer(client):
    def answer(model: str) -> str:
        r = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=12, temperature=0)
        return r.choices[0].message.content

    base, support, legal = answer("base"), answer("support"), answer("legal")
    assert len({base, support, legal}) == 3, (base, support, legal)
    assert answer("served") == support  # the alias routes to the promoted adapter
    assert answer("base") == base  # switching back really disables the adapters


def test_n_choices_and_seed_reproducibility(client):
    kw = dict(model="support", messages=MESSAGES, max_tokens=10, temperature=1.0, n=3)
    first = client.chat.completions.create(seed=7, **kw)
    assert [c.index for c in first.choices] == [0, 1, 2]
    again = client.chat.completions.create(seed=7, **kw)
    assert [c.message.content for c in again.choices] == [c.message.content for c in first.choices]


def test_streaming_matches_the_plain_answer_and_ends_with_done(client, server):
    plain = client.chat.completions.create(model="legal", messages=MESSAGES, max_tokens=12, temperature=0)
    chunks = list(
        client.chat.completions.create(model="legal", messages=MESSAGES, max_tokens=12, temperature=0, stream=True)
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == plain.choices[0].finish_reason
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"model": "legal", "messages": MESSAGES, "max_tokens": 4, "stream": True},
    ) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"


def test_stop_sequence_cuts_the_answer(client):
    full = client.chat.completions.create(model="support", messages=MESSAGES, max_tokens=16, temperature=0)
    text = full.choices[0].message.content
    stop = text[len(text) // 2 :][:2]
    cut = client.chat.completions.create(model="support", messages=MESSAGES, max_tokens=16, temperature=0, stop=[stop])
    assert stop not in cut.choices[0].message.content
    assert cut.choices[0].finish_reason == "stop" and text.startswith(cut.choices[0].message.content)


def test_completions_endpoint(client):
    r = client.completions.create(model="base", prompt="Hello", max_tokens=5, temperature=0)
    assert r.object == "text_completion" and r.usage.completion_tokens <= 5


def test_missing_or_wrong_key_gets_401(server):
    for key in ("wrong", ""):
        c = openai.OpenAI(base_url=server.url + "/v1", api_key=key or "x", max_retries=0)
        if not key:
            c = c.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as e:
            c.chat.completions.create(model="base", messages=MESSAGES, max_tokens=2)
        assert e.value.body["code"] == "invalid_api_key"
    assert httpx.get(server.url + "/v1/models").status_code == 401


def test_unknown_model_is_an_openai_error_and_never_a_path(client):
    for name in ("nope", "../../etc/passwd", "/tmp"):
        with pytest.raises(openai.NotFoundError) as e:
            client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=2)
        assert e.value.body["code"] == "model_not_found" and e.value.body["type"] == "invalid_request_error"


def test_bad_requests_are_openai_errors(server):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    r = httpx.post(server.url + "/v1/chat/completions", headers=headers, json={"model": "base"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    big = {"model": "base", "messages": [{"role": "user", "content": "x" * 30_000}]}
    r = httpx.post(server.url + "/v1/chat/completions", headers=headers, json=big)
    assert r.status_code == 413 and "error" in r.json()
    r = httpx.post(
        server.url + "/v1/chat/completions",
        headers={**headers, "content-type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code in (400, 422) and "error" in r.json() and "Traceback" not in r.text


def test_planted_pii_never_reaches_the_log(client, server):
    pii = ["jane.doe@example.com", "+1 212 555 0147", "4111 1111 1111 1111"]
    content = f"I am writing from {pii[0]}, call me on {pii[1]}, card {pii[2]}"
    r = client.chat.completions.create(model="base", messages=[{"role": "user", "content": content}], max_tokens=4)
    client.post("/feedback", cast_to=object, body={"id": r.id, "rating": 0, "correction": f"mail {pii[0]}"})
    rows = {row.id: row for row in server.log.fetch()}
    row = rows[r.id]
    dumped = json.dumps([row.messages, row.prompt_text, row.responses, row.corrections])
    assert "<EMAIL_ADDRESS>" in row.prompt_text and row.ratings == [0]
    for value in pii:
        assert value not in dumped
    raw = Path(server.log.engine.url.database).read_bytes()  # the database file itself, not just the ORM view
    assert not any(v.encode() in raw for v in pii)


def test_feedback_for_unknown_id_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.post("/feedback", cast_to=object, body={"id": "chatcmpl-nope", "rating": 1})


def test_load_concurrent_clients_no_errors_each_logged_once(server):
    """A smaller version of benchmarks/serve_load.py (200 x 16): 40 requests from 16 clients, 3 models."""
    from tunesmith.serve.loadtest import load_test

    before = server.log.count()
    result = load_test(
        server.url + "/v1",
        api_key=API_KEY,
        models=["base", "support", "legal"],
        prompts=[f"question {i}: where is my order?" for i in range(7)],
        requests=40,
        concurrency=16,
        max_tokens=8,
    )
    assert result.errors == []
    assert len(set(result.ids)) == 40
    logged = [row.id for row in server.log.fetch() if row.id in set(result.ids)]
    assert sorted(logged) == sorted(result.ids)  # every request exactly once
    assert server.log.count() - before == 40
    assert max(server.app_state.engine.batch_sizes) > 1  # concurrent same-adapter requests shared a batch


def test_scope_guard_declines_before_the_model_and_the_log_marks_it(client, server):
    from tunesmith.data.scope_guard import CalibratedGuard, ScopeGuard

    refusal = "Sorry, I can only help with Lumen Home devices."
    inside = ["how do i reset my thermostat", "my smart plug will not pair", "how do i update the hub firmware"]
    outside = ["what is the price of bitcoin", "recommend a diet for me", "which car should i buy"]
    server.app_state.guard = CalibratedGuard(ScopeGuard(inside, outside, refusal), 0.0)
    try:
        declined = client.chat.completions.create(
            model="legal", messages=[{"role": "user", "content": "what is bitcoin worth today"}], max_tokens=12
        )
        streamed = client.chat.completions.create(
            model="legal", messages=[{"role": "user", "content": "what diet should i follow"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        answered = client.chat.completions.create(model="legal", messages=MESSAGES, max_tokens=4)
    finally:
        server.app_state.guard = None
    assert declined.choices[0].message.content == refusal and text == refusal
    assert declined.usage.completion_tokens == 0 and declined.choices[0].finish_reason == "stop"
    assert answered.choices[0].message.content != refusal
    rows = {row.id: row for row in server.log.fetch()}
    assert rows[declined.id].guarded and rows[declined.id].responses == [refusal]
    assert not rows[answered.id].guarded
    assert not rows[answered.id].reasked and not rows[declined.id].reasked  # nothing was asked again
    assert sum(row.guarded for row in rows.values()) == 2  # the streamed one too


@pytest.fixture
def retrieval(server):
    """serve.rag_models for the promoted run ("served" is "support"): an index of three passages."""
    from tunesmith.docs import DocIndex, Passage
    from tunesmith.docs.passages import retrieval_text
    from tunesmith.models.embedding import embed
    from tunesmith.serve.app import Retrieval

    passages = [
        Passage("a-0", "kb/thermostat.md", "Thermostat > Reset", "Hold the dial for 10 seconds to reset it.", "a"),
        Passage("b-0", "kb/plugs.pdf", "p. 2", "A smart plug pairs when its light blinks blue.", "b"),
        Passage("c-0", "kb/hub.html", "Hub > Firmware", "The hub updates its firmware at night.", "c"),
    ]
    index = DocIndex(passages, embed([retrieval_text(p) for p in passages]))
    server.app_state.retrieval = Retrieval(index, frozenset({"support"}), 2)
    yield server.app_state.retrieval
    server.app_state.retrieval = None


def test_serving_with_retrieval_returns_the_sources_through_the_sdk(client, server, retrieval):
    r = client.chat.completions.create(model="served", messages=MESSAGES, max_tokens=4, temperature=0)
    sources = r.model_extra["sources"]  # the extension field, kept by the openai SDK
    assert len(sources) == 2 and all(set(s) == {"source", "locator", "text", "score"} for s in sources)
    assert sources[0] == {
        "source": "kb/thermostat.md",
        "locator": "Thermostat > Reset",
        "text": "Hold the dial for 10 seconds to reset it.",
        "score": pytest.approx(sources[0]["score"]),
    }
    assert sources[0]["score"] >= sources[1]["score"] > 0
    plain = client.chat.completions.create(model="legal", messages=MESSAGES, max_tokens=4, temperature=0)
    assert "sources" not in plain.model_extra  # legal is not in serve.rag_models
    alone = client.chat.completions.create(model="base", messages=MESSAGES, max_tokens=4, temperature=0)
    assert r.usage.prompt_tokens > alone.usage.prompt_tokens + 20  # the passages went into the prompt

    rows = {row.id: row for row in server.log.fetch()}
    assert rows[r.id].sources == [{k: s[k] for k in ("source", "locator", "score")} for s in sources]
    assert rows[plain.id].sources is None
    assert rows[r.id].messages == MESSAGES  # the log keeps what the client sent, not the passages

    models = {m.id: m for m in client.models.list().data}
    assert models["served"].model_extra["rag"] and models["support"].model_extra["rag"]
    assert not models["legal"].model_extra["rag"]


def test_a_streamed_answer_with_retrieval_sends_its_sources_first(client, server, retrieval):
    chunks = list(
        client.chat.completions.create(model="support", messages=MESSAGES, max_tokens=4, temperature=0, stream=True)
    )
    first = chunks[0].model_extra["sources"]
    assert [s["source"] for s in first] == ["kb/thermostat.md", first[1]["source"]]
    assert all("sources" not in c.model_extra for c in chunks[1:])
    rows = {row.id: row for row in server.log.fetch()}
    assert [s["source"] for s in rows[chunks[0].id].sources] == [s["source"] for s in first]


def test_a_question_the_guard_declines_retrieves_nothing(client, server, retrieval):
    from tunesmith.data.scope_guard import CalibratedGuard, ScopeGuard

    refusal = "Sorry, I can only help with Lumen Home devices."
    inside = ["how do i reset my thermostat", "my smart plug will not pair"]
    outside = ["what is the price of bitcoin", "which car should i buy"]
    server.app_state.guard = CalibratedGuard(ScopeGuard(inside, outside, refusal), 0.0)
    try:
        r = client.chat.completions.create(
            model="served", messages=[{"role": "user", "content": "what is bitcoin worth today"}], max_tokens=4
        )
    finally:
        server.app_state.guard = None
    assert r.choices[0].message.content == refusal and "sources" not in r.model_extra
    row = {row.id: row for row in server.log.fetch()}[r.id]
    assert row.guarded and row.sources is None


def test_serve_rag_models_must_name_a_served_model(tmp_path):
    from tunesmith.config import Config, DocsConfig, ServeConfig
    from tunesmith.errors import ConfigError
    from tunesmith.serve.server import ServePlan, rag_models

    plan = ServePlan(base="b", adapters={"run1": tmp_path}, aliases={"served": "run1"})
    cfg = Config(root=tmp_path, docs=DocsConfig(paths=["kb"]), serve=ServeConfig(rag_models=["served", "base"]))
    assert rag_models(cfg, plan) == {"run1", "base"}
    cfg = Config(root=tmp_path, docs=DocsConfig(paths=["kb"]), serve=ServeConfig(rag_models=["run2"]))
    with pytest.raises(ConfigError, match="'run2', which this server does not serve"):
        rag_models(cfg, plan)


REFUSAL = "Sorry, I can only help with Lumen Home devices."


@pytest.fixture
def over_refusing(server, monkeypatch):
    """serve.guard sure of every question, over a model that declines (as a small fine-tune that over-refuses)
    unless its refusal openings are suppressed, plain and streamed; yields the guard and the suppressions asked."""
    from dataclasses import replace

    from tunesmith.data.scope_guard import CalibratedGuard, ScopeGuard
    from tunesmith.serve.engine import Choice, Generation

    inside = ["how do i reset my thermostat", "my smart plug will not pair", "how do i update the hub firmware"]
    outside = ["what is the price of bitcoin", "recommend a diet for me", "which car should i buy"]
    engine = server.app_state.engine
    sure = CalibratedGuard(ScopeGuard(inside, outside, REFUSAL), 0.0, reanswer_above=0.0)
    sure = replace(sure, openings=sure.guard.refusal_openings(engine.tokenizer))
    real_generate, real_stream, asked = engine.generate, engine.stream, []

    def generate(model, text, s):
        asked.append(s.suppress_first)
        gen = real_generate(model, text, s)
        return gen if s.suppress_first else Generation([Choice(REFUSAL, "stop", 9)], gen.prompt_tokens, 1.0)

    def stream(model, text, s):
        asked.append(s.suppress_first)
        if s.suppress_first:
            yield from real_stream(model, text, s)
            return
        yield REFUSAL
        yield Choice(REFUSAL, "stop", 9)

    monkeypatch.setattr(engine, "generate", generate)
    monkeypatch.setattr(engine, "stream", stream)
    server.app_state.guard = sure
    yield sure, asked
    server.app_state.guard = None


def test_the_scope_guard_asks_again_when_the_model_declines_a_question_it_is_sure_of(client, server, over_refusing):
    """As the evaluation's guarded arm: the model's refusal of a question the guard is sure is in scope is asked
    again with the data's refusal openings suppressed, and what the client gets (and the log keeps, marked
    `reasked`) is the answer."""
    from dataclasses import replace

    sure, asked = over_refusing
    engine = server.app_state.engine
    kw = {"model": "legal", "messages": MESSAGES, "max_tokens": 6, "temperature": 0}
    answered = client.chat.completions.create(**kw)
    server.app_state.guard = replace(sure, reanswer_above=2.0)  # never that sure: the refusal stands
    declined = client.chat.completions.create(**kw)
    assert sure.openings == tuple(engine.tokenizer(REFUSAL, add_special_tokens=False)["input_ids"][:1])
    assert asked == [(), sure.openings, ()]
    assert answered.choices[0].message.content != REFUSAL and declined.choices[0].message.content == REFUSAL
    rows = {row.id: row for row in server.log.fetch()}
    assert rows[answered.id].responses == [answered.choices[0].message.content] and not rows[answered.id].guarded
    assert rows[answered.id].reasked and not rows[declined.id].reasked and not rows[declined.id].guarded


def test_a_streamed_answer_the_model_declines_is_asked_again_as_a_plain_one(client, server, over_refusing):
    """With the guard sure of the question, a streamed request is held whole and asked again when the model
    declines, as a plain one is: the same text and the same log flags, not the refusal sent as it came."""
    kw = {"model": "legal", "messages": MESSAGES, "max_tokens": 6, "temperature": 0}
    plain = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, **kw))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == plain.choices[0].message.content != REFUSAL
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    rows = {row.id: row for row in server.log.fetch()}
    flags = [(r.guarded, r.reasked, r.responses) for r in (rows[plain.id], rows[chunks[0].id])]
    assert flags[0] == flags[1] == (False, True, [streamed])
