"""serve.answer_guards: the blocklist and the PII scan on each answer before it is sent, plain and streamed,
recorded in the request log (issue 31, item 5)."""

from __future__ import annotations

import pytest

from tests.serve.conftest import API_KEY
from tunesmith.blocklist import REDACTED
from tunesmith.config import Config, ServeConfig
from tunesmith.errors import ConfigError
from tunesmith.serve.guards import AnswerGuards

QUESTION = [{"role": "user", "content": "how do i reset my thermostat"}]
BLOCKED = "I can't share that answer."


def _ask(client, stream: bool = False) -> tuple[str, str]:
    """The answer to QUESTION (greedy, so the same every time) and its request id."""
    if not stream:
        r = client.chat.completions.create(model="support", messages=QUESTION, max_tokens=12, temperature=0)
        return r.choices[0].message.content, r.id
    chunks = list(
        client.chat.completions.create(model="support", messages=QUESTION, max_tokens=12, temperature=0, stream=True)
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[0].id


@pytest.fixture(scope="module")
def phrase(client_module) -> str:
    """A word the tiny model says in its answer to QUESTION: blocklisted, it must never reach the client."""
    answer, _ = _ask(client_module)
    return max(answer.split(), key=len)


@pytest.fixture(scope="module")
def client_module(server):
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture
def guarded(server, phrase):
    """Turn the answer guards on for one test (the blocklist holds `phrase`), off again after it."""

    def on(action: str) -> None:
        server.app_state.answer_guards = AnswerGuards({"blocklist": action}, [phrase], BLOCKED)

    yield on
    server.app_state.answer_guards = None


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_an_answer_with_a_blocklisted_phrase_is_blocked_and_logged(client_module, server, phrase, guarded, stream):
    guarded("block")
    answer, rid = _ask(client_module, stream)
    assert answer == BLOCKED
    row = {r.id: r for r in server.log.fetch()}[rid]
    assert row.answer_guard == "block" and row.answer_flags == {"blocklist": [phrase]}
    assert row.responses == [BLOCKED]  # the log holds what was sent


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_an_answer_with_a_blocklisted_phrase_is_redacted_and_logged(client_module, server, phrase, guarded, stream):
    plain, _ = _ask(client_module)
    guarded("redact")
    answer, rid = _ask(client_module, stream)
    assert phrase not in answer and REDACTED in answer
    assert answer == plain.replace(phrase, REDACTED)
    row = {r.id: r for r in server.log.fetch()}[rid]
    assert row.answer_guard == "redact" and row.answer_flags == {"blocklist": [phrase]}


def test_log_only_sends_the_answer_as_it_is_and_records_the_hit(client_module, server, phrase, guarded):
    plain, _ = _ask(client_module)
    guarded("log")
    answer, rid = _ask(client_module)
    assert answer == plain
    row = {r.id: r for r in server.log.fetch()}[rid]
    assert row.answer_guard == "log" and row.answer_flags == {"blocklist": [phrase]}


def test_an_answer_no_guard_hits_is_sent_and_logged_as_clean(client_module, server, guarded):
    server.app_state.answer_guards = AnswerGuards({"blocklist": "block"}, ["zzz-never-said-zzz"], BLOCKED)
    answer, rid = _ask(client_module, stream=True)
    assert answer and answer != BLOCKED
    row = {r.id: r for r in server.log.fetch()}[rid]
    assert row.answer_guard is None and row.answer_flags is None


def test_the_pii_guard_redacts_or_blocks_personal_data_but_not_what_prepare_let_through():
    text = "Write to jane.doe@example.com or call our line on 1-800-555-0199."
    redact = AnswerGuards({"pii": "redact"}, [], BLOCKED, pii_allow=["1-800-555-0199"])
    got = redact.check(text)
    assert got.text == "Write to <EMAIL_ADDRESS> or call our line on 1-800-555-0199."
    assert got.action == "redact" and got.found == {"pii": ["EMAIL_ADDRESS"]}
    both = AnswerGuards({"pii": "log", "blocklist": "block"}, ["our line"], BLOCKED).check(text)
    assert both.text == BLOCKED and both.action == "block"  # the strongest action wins
    assert both.found == {"blocklist": ["our line"], "pii": ["EMAIL_ADDRESS", "PHONE_NUMBER"]}
    assert AnswerGuards({"pii": "block"}, [], BLOCKED).check("Your order ships today.").action is None


def test_a_blocklist_guard_needs_a_blocklist(tmp_path):
    from tunesmith.serve.server import answer_guards

    cfg = Config(root=tmp_path, serve=ServeConfig(answer_guards={"blocklist": "block"}))
    with pytest.raises(ConfigError, match="eval.blocklist is empty"):
        answer_guards(cfg)


def test_monitor_reports_the_rate_of_the_answers_the_server_blocked(client_module, server, guarded):
    """serve -> request log -> monitor: two blocked answers raise the block count that monitor reports by two."""
    from tunesmith.config import MonitorConfig
    from tunesmith.monitor.answer_guards import answer_guard_rates

    def blocked() -> int:
        return int(answer_guard_rates(server.log.fetch(), MonitorConfig()).by_action.get("block", {}).get("count", 0))

    before = blocked()
    guarded("block")
    _ask(client_module)
    _ask(client_module, stream=True)
    rates = answer_guard_rates(server.log.fetch(), MonitorConfig())
    assert blocked() == before + 2
    assert rates.rate == pytest.approx(rates.hit / rates.n) and rates.hit >= 2


def test_serve_builds_its_guards_from_the_config(tmp_path):
    """eval.blocklist and the data section's PII settings, with the names a prepared dataset kept."""
    from tunesmith.config import DataConfig, EvalConfig
    from tunesmith.serve.server import answer_guards

    dataset = tmp_path / "artifacts" / "dataset"
    dataset.mkdir(parents=True)
    (dataset / "manifest.json").write_text(
        '{"pii": {"policy": "redact", "allow": [], "kept_names": ["Juno"]}}', encoding="utf-8"
    )
    cfg = Config(
        root=tmp_path,
        data=DataConfig(pii_allow=["1-800-555-0199"]),
        eval=EvalConfig(blocklist=["guaranteed returns"]),
        serve=ServeConfig(answer_guards={"blocklist": "block", "pii": "redact"}),
    )
    guards = answer_guards(cfg)
    assert (guards.blocklist, guards.pii_allow) == (["guaranteed returns"], ["1-800-555-0199", "Juno"])
    assert guards.check("I'm Juno; call 1-800-555-0199.").action is None
    assert answer_guards(Config(root=tmp_path)) is None  # no guard: nothing built, nothing checked
