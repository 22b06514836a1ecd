"""train.backend: openai, through the official SDK, against the local contract server (tests/train/vendor/contract.py).

Raw data -> check -> prepare -> a vendor job (upload, create, follow) -> an evaluation whose fine_tuned arm is the
vendor model; a crash while following resumes the same job; PII left in the data is refused before any request;
the API's errors (400, 429, a failed job) surface as they should; the key never lands in an artifact or a log.
No network (a guard fails any non-loopback connection), no sleeps (poll interval 0), no wall-clock asserts.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from tests.conftest import NetworkGuard
from tests.train.vendor.contract import ContractState, canned_answers, contract_server, write_project

from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.registry import Registry

API_KEY = "sk-test-tunesmith-SECRET-0123456789abcdef"
BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def server(monkeypatch):
    state = ContractState(api_key=API_KEY, answers=canned_answers())
    with contract_server(state) as url:
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        yield state


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A project checked and prepared once (redacted); tests copy it."""
    root = tmp_path_factory.mktemp("prepared")
    yaml_path = write_project(root)
    with NetworkGuard() as guard:
        assert main(["run", str(yaml_path), "--only", "check"]) == 0
        assert main(["run", str(yaml_path), "--only", "prepare"]) == 0
    assert guard.attempts == []
    return root


def copy_project(prepared: Path, dest: Path) -> Path:
    shutil.copytree(prepared, dest, dirs_exist_ok=True)
    return dest / "tunesmith.yaml"


def no_network(fn):
    with NetworkGuard() as guard:
        result = fn()
    assert guard.attempts == [], f"tried to reach the network: {guard.attempts}"
    return result


class Crash(BaseException):
    """Stands for tunesmith being killed while it follows the job (raised from the injected sleep)."""


# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """`tunesmith run` from raw data to the evaluation, once, against the contract server; output captured."""
    root = tmp_path_factory.mktemp("e2e")
    yaml_path = write_project(root)
    state = ContractState(api_key=API_KEY, answers=canned_answers())
    mp = pytest.MonkeyPatch()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)  # the SDK's and httpx's debug logs too: the key must not be in them
    import tunesmith.train.vendor.openai_backend as ob

    try:
        with contract_server(state) as url:
            mp.setenv("OPENAI_API_KEY", API_KEY)
            mp.setenv("OPENAI_BASE_URL", url)
            mp.setattr(ob, "EVENTS_PAGE", 2)  # several pages of events per look
            import io
            from contextlib import redirect_stderr, redirect_stdout

            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = no_network(lambda: main(["run", str(yaml_path), "--yes"]))
    finally:
        mp.undo()
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(old_level)
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    return {"code": code, "root": root, "cfg": load_config(yaml_path), "state": state, "out": out.getvalue(),
            "err": err.getvalue(), "logs": logs}  # fmt: skip


def test_run_goes_from_raw_data_to_an_eval_whose_fine_tuned_arm_is_the_vendor_model(ran):
    assert ran["code"] == 0, ran["err"] + ran["out"][-3000:]
    cfg, state = ran["cfg"], ran["state"]
    assert len(state.jobs) == 1
    job = next(iter(state.jobs.values()))
    assert job["status"] == "succeeded" and job["model"] == BASE
    assert job["method"]["type"] == "supervised"
    assert job["method"]["supervised"]["hyperparameters"] == {"n_epochs": 2}
    assert job["validation_file"] is not None  # val.jsonl uploaded too
    assert [f["purpose"] for f in state.files.values()] == ["fine-tune", "fine-tune"]
    # exactly what was sent is in the run directory
    train_dir = cfg.stage_dir("train")
    sent = state.contents[job["training_file"]]
    assert (train_dir / "upload" / "train.jsonl").read_bytes() == sent

    manifest = json.loads((train_dir / "manifest.json").read_text())
    model_id = job["fine_tuned_model"]
    assert manifest["vendor"]["model_id"] == model_id and manifest["vendor"]["job_id"] == job["id"]
    assert manifest["backend"] == "openai"
    assert [c["step"] for c in manifest["vendor"]["checkpoints"]] == [3, 2, 1]
    assert manifest["vendor"]["estimate"]["price_per_1m_usd"] == 3.0
    assert manifest["vendor"]["estimate"]["cost_usd"] > 0

    # the events, read over several pages, each logged once, oldest first, losses named as a local run names them
    metrics = [json.loads(line) for line in (train_dir / "metrics.jsonl").read_text().splitlines()]
    event_ids = [m["event_id"] for m in metrics if "event_id" in m]
    assert len(event_ids) == len(set(event_ids)) == len(state.events[job["id"]])
    assert [m["step"] for m in metrics if m.get("type") == "metrics"] == [1, 2, 3]
    assert [m["loss"] for m in metrics if "loss" in m] == [2.0, 1.0, 0.6667]
    assert [m["status"] for m in metrics if "status" in m][-1] == "succeeded"

    # the eval: base is the vendor's base model, fine_tuned the vendor fine-tune, both over the endpoint client
    results = json.loads((cfg.stage_dir("eval") / "results.json").read_text())
    assert set(results["arms"]) == {"base", "retrieval", "fine_tuned"}
    assert set(state.chat_models) == {BASE, model_id}
    n_test, ft = results["dataset"]["n_test"], results["arms"]["fine_tuned"]
    safety = ft["red_team"]["prompts"] + sum(a["pairs"] for a in ft["bias"]["attributes"].values())
    assert state.chat_models.count(model_id) == n_test + safety  # the test split, then eval.safety's prompts
    arms = results["arms"]
    assert arms["fine_tuned"]["metrics"]["rougeL"] > arms["base"]["metrics"]["rougeL"]
    assert results["lineage"]["vendor"] == {"backend": "openai", "job_id": job["id"], "model_id": model_id}
    assert "estimated cost" in ran["out"] and "$3.00 per 1M" in ran["out"]


def test_registry_shows_dataset_to_vendor_run_to_eval(ran):
    cfg = ran["cfg"]
    runs = Registry(cfg).runs()
    assert len(runs) == 1
    run = runs[0]
    job = next(iter(ran["state"].jobs.values()))
    dataset = json.loads((cfg.stage_dir("dataset") / "manifest.json").read_text())
    assert run.backend == "openai" and run.vendor_model == job["fine_tuned_model"]
    assert run.dataset_hash == dataset["dataset_hash"] and run.dataset_dir == cfg.stage_dir("dataset")
    assert run.evaluation is not None and set(run.evaluation.metrics) == {"base", "retrieval", "fine_tuned"}
    lineage = run.lineage()
    assert lineage["vendor_model"] == job["fine_tuned_model"] and lineage["base_model"] == BASE
    assert main(["runs", "show", run.run_id, str(ran["root"] / "tunesmith.yaml")]) == 0


def test_no_api_key_in_any_artifact_log_or_manifest(ran):
    # the key was really used (every request carried it), so its absence below means something
    assert ran["state"].auth_headers and all(h == f"Bearer {API_KEY}" for h in ran["state"].auth_headers)
    secret = API_KEY.encode()
    leaked = [p for p in ran["root"].rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert leaked == []
    assert API_KEY not in ran["out"] and API_KEY not in ran["err"]
    assert ran["logs"] and API_KEY not in ran["logs"]


def test_a_crash_while_following_resumes_the_same_job(prepared, tmp_path, server):
    from tunesmith.train.vendor import train_vendor

    yaml_path = copy_project(prepared, tmp_path)
    cfg = load_config(yaml_path)
    polls = []

    def crash(_seconds: float) -> None:
        polls.append(_seconds)
        raise Crash

    with pytest.raises(Crash):
        no_network(lambda: train_vendor(cfg, confirm=True, sleep=crash))
    run_dir = cfg.stage_dir("train")
    state = json.loads((run_dir / "vendor_job.json").read_text())
    assert state["job_id"] in server.jobs and not (run_dir / "manifest.json").exists()
    assert polls == [0.0]  # the interval of the config, through the injected clock

    # the rerun (the CLI, without --yes: it sends no data, it follows) follows the job recorded in the run dir
    assert no_network(lambda: main(["train", str(yaml_path)])) == 0
    assert len(server.jobs) == 1, "a second paid job was created"
    assert len(server.files) == 2, "the files were uploaded again"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["vendor"]["job_id"] == state["job_id"] and manifest["resumed_from"] == state["job_id"]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    ids = [m["event_id"] for m in metrics if "event_id" in m]
    assert len(ids) == len(set(ids)), "an event was logged twice across the crash"

    # a third run of the same request reuses the finished job: still one job on the server
    assert no_network(lambda: main(["train", str(yaml_path), "--yes"])) == 0
    assert len(server.jobs) == 1


def test_cancel_cancels_the_recorded_job(prepared, tmp_path, server):
    from tunesmith.train.vendor import train_vendor

    yaml_path = copy_project(prepared, tmp_path)
    cfg = load_config(yaml_path)

    def crash(_seconds: float) -> None:
        raise Crash

    with pytest.raises(Crash):
        train_vendor(cfg, confirm=True, sleep=crash)
    job_id = json.loads((cfg.stage_dir("train") / "vendor_job.json").read_text())["job_id"]
    assert no_network(lambda: main(["train", "cancel", str(cfg.stage_dir("train"))])) == 0
    assert server.jobs[job_id]["status"] == "cancelled"
    assert ("POST", f"/v1/fine_tuning/jobs/{job_id}/cancel") in server.requests
    # following it now reports the cancellation (exit 2), and starts nothing new
    assert main(["train", str(yaml_path)]) == 2
    assert len(server.jobs) == 1


def test_pii_left_in_the_data_is_refused_with_exit_2_and_nothing_is_sent(tmp_path, server, capsys):
    yaml_path = write_project(tmp_path, pii="off")
    code = no_network(lambda: main(["run", str(yaml_path), "--yes", "--from", "prepare"]))
    err = capsys.readouterr().err
    assert code == 2
    assert "personal data" in err and "EMAIL_ADDRESS" in err and "allow_pii" in err
    assert server.requests == [], "a request reached the vendor"
    assert not (tmp_path / "artifacts" / "train" / "vendor_job.json").exists()

    # the user's explicit say-so lets the same data go
    code = main(["run", str(yaml_path), "--yes", "--only", "train", "--set", "train.vendor.allow_pii=true"])
    assert code == 0 and len(server.jobs) == 1


def test_without_yes_a_script_is_refused_before_any_request(prepared, tmp_path, server, capsys):
    yaml_path = copy_project(prepared, tmp_path)
    assert main(["train", str(yaml_path)]) == 2
    err = capsys.readouterr().err
    assert "confirmation" in err and "--yes" in err
    assert server.requests == []


def test_an_invalid_file_is_a_clear_error_and_no_job(prepared, tmp_path, server, capsys):
    yaml_path = copy_project(prepared, tmp_path)
    server.reject_files = True
    assert main(["train", str(yaml_path), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "400" in err and "Invalid file format" in err and API_KEY not in err
    assert server.jobs == {}


def test_rate_limit_429_is_retried(prepared, tmp_path, server):
    yaml_path = copy_project(prepared, tmp_path)
    server.rate_limit = 2
    assert main(["train", str(yaml_path), "--yes"]) == 0
    assert server.requests.count(("POST", "/v1/fine_tuning/jobs")) == 3
    assert len(server.jobs) == 1


def test_a_failed_job_is_reported_with_the_vendors_message(prepared, tmp_path, server, capsys):
    yaml_path = copy_project(prepared, tmp_path)
    server.fail_jobs = True
    assert main(["train", str(yaml_path), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "failed" in err and "invalid training file" in err
    run_dir = tmp_path / "artifacts" / "train"
    assert json.loads((run_dir / "vendor_job.json").read_text())["status"] == "failed"
    assert not (run_dir / "manifest.json").exists()


def test_a_missing_key_is_a_usage_error_before_any_request(prepared, tmp_path, server, monkeypatch, capsys):
    yaml_path = copy_project(prepared, tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["train", str(yaml_path), "--yes"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    assert server.requests == []


def test_the_local_backend_sends_no_request_to_a_vendor(
    prepared, tmp_path, server, tiny_model_dir, monkeypatch, ran, capsys
):
    """With train.backend: local (the default), train and eval run and no vendor client is ever made; then
    `eval compare` puts the local fine-tune beside the vendor's on the shared test split."""
    import tunesmith.train.vendor as vendor

    def refuse(*a, **k):
        raise AssertionError("a vendor backend was created for a local run")

    monkeypatch.setattr(vendor, "make_backend", refuse)
    yaml_path = copy_project(prepared, tmp_path)
    sets = [
        "train.backend=local",
        f"model.base={tiny_model_dir}",
        "train.epochs=1",
        "train.batch_size=16",
        "train.max_seq_len=128",
    ]
    sets += [
        "eval.max_new_tokens=8",
        "eval.batch_size=8",
        "eval.arms=[retrieval,fine_tuned]",
        "eval.reference_arm=retrieval",
    ]
    argv = ["run", str(yaml_path), "--from", "train", "--yes", *[a for s in sets for a in ("--set", s)]]
    assert no_network(lambda: main(argv)) == 0
    assert (tmp_path / "artifacts" / "train" / "adapter").is_dir()
    assert server.requests == []
    assert "backend" not in json.loads((tmp_path / "artifacts" / "train" / "manifest.json").read_text())

    capsys.readouterr()
    vendor_eval = ran["cfg"].stage_dir("eval")
    assert main(["eval", "compare", str(tmp_path / "artifacts" / "eval"), str(vendor_eval), "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["n_shared_examples"] == json.loads((vendor_eval / "results.json").read_text())["dataset"]["n_test"]
    assert "fine_tuned" in compared["arms"] and "rougeL" in compared["arms"]["fine_tuned"]


def test_dpo_pairs_train_with_openais_dpo_method(tmp_path, server):
    """train.objective: dpo on a prepared dataset of pairs: OpenAI's DPO file format and method, beta mapped."""
    from tunesmith.artifacts import write_json_atomic
    from tunesmith.train.vendor import train_vendor

    yaml_path = write_project(tmp_path, train={"objective": "dpo", "dpo": {"beta": 0.2}})
    cfg = load_config(yaml_path)
    dataset = cfg.stage_dir("dataset")
    dataset.mkdir(parents=True)
    for split, n in (("train", 12), ("val", 2)):
        pairs = [
            {
                "prompt": [{"role": "user", "content": f"Can I return the lamp {split} {i}?"}],
                "chosen": [{"role": "assistant", "content": "Yes, within 30 days, from the orders page."}],
                "rejected": [{"role": "assistant", "content": "No."}],
                "meta": {"id": f"{split}-{i}"},
            }
            for i in range(n)
        ]
        (dataset / f"{split}.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    write_json_atomic(dataset / "manifest.json", {"stage": "prepare", "dataset_hash": "pairs-1"})

    result = no_network(lambda: train_vendor(cfg, confirm=True))
    [job] = server.jobs.values()
    assert job["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 2}}}
    first = json.loads(server.contents[job["training_file"]].splitlines()[0])
    assert set(first) == {"input", "preferred_output", "non_preferred_output"}
    assert first["input"]["messages"][-1]["role"] == "user"
    assert result.model_id == job["fine_tuned_model"]
    manifest = json.loads((cfg.stage_dir("train") / "manifest.json").read_text())
    assert manifest["method"] == "openai:dpo"


def test_dpo_on_bedrock_is_a_usage_error(tmp_path, capsys):
    yaml_path = write_project(tmp_path, backend="bedrock", base="amazon.nova-micro-v1:0", train={"objective": "dpo"})
    cfg = load_config(yaml_path)
    (cfg.stage_dir("dataset")).mkdir(parents=True)
    (cfg.stage_dir("dataset") / "train.jsonl").write_text("")
    assert main(["train", str(yaml_path), "--yes"]) == 2
    assert "dpo" in capsys.readouterr().err


def test_ctrl_c_while_following_says_the_job_keeps_running(prepared, tmp_path, server, monkeypatch, capsys):
    import tunesmith.train.vendor as vendor

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    yaml_path = copy_project(prepared, tmp_path)
    monkeypatch.setattr(vendor, "wait", interrupt)
    assert main(["train", str(yaml_path), "--yes"]) == 130
    err = capsys.readouterr().err
    assert "keeps running" in err and "tunesmith train cancel" in err
    monkeypatch.setattr(vendor, "wait", lambda _seconds: None)
    assert main(["train", str(yaml_path)]) == 0
    assert len(server.jobs) == 1
