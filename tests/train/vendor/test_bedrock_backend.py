"""train.backend: bedrock, through boto3 against moto's in-process `mock_aws` (S3 and the Bedrock control plane).

The same flow as the OpenAI tests: raw data -> check -> prepare -> S3 upload -> create_model_customization_job ->
follow -> the custom model's ARN in the manifest and the registry -> an evaluation whose fine_tuned arm is that
model (called through an OpenAI-compatible gateway, here the contract server's chat endpoint). moto keeps a job
InProgress until told otherwise: the test's clock (the module's `wait`) completes it, so nothing sleeps.
"""

from __future__ import annotations

import json

import pytest
from tests.conftest import NetworkGuard
from tests.train.vendor.contract import ContractState, canned_answers, contract_server, write_project

from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.registry import Registry

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

REGION = "us-east-1"
BUCKET = "tunesmith-training"
ROLE = "arn:aws:iam::123456789012:role/BedrockCustomization"
BASE = "amazon.nova-micro-v1:0"
GATEWAY_KEY = "gw-test-SECRET-fedcba9876543210"
AWS_SECRET = "aws-test-SECRET-0000111122223333"


@pytest.fixture
def aws(monkeypatch):
    """moto's AWS, a bucket, fake credentials in the environment (the AWS chain), and the eval's gateway."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("GATEWAY_KEY", GATEWAY_KEY)
    state = ContractState(api_key=GATEWAY_KEY, answers=canned_answers())
    with mock_aws(), contract_server(state) as url:
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield {"gateway": state, "url": url}


def bedrock_project(root, url, **kw):
    train = {
        "vendor": {
            "poll_interval_s": 0,
            "role_arn": ROLE,
            "s3_bucket": BUCKET,
            "region": REGION,
            "eval_base_url": url,
            "eval_api_key_env": "GATEWAY_KEY",
            "suffix": "support-nova",
        }
    }
    return write_project(root, base=BASE, backend="bedrock", train=train, **kw)


def jobs() -> list[dict]:
    return boto3.client("bedrock", region_name=REGION).list_model_customization_jobs()["modelCustomizationJobSummaries"]


def complete_jobs(_seconds: float) -> None:
    """The test's clock: by the next look, every moto job has completed."""
    from moto.bedrock.models import bedrock_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    for job in bedrock_backends[DEFAULT_ACCOUNT_ID][REGION].model_customization_jobs.values():
        if job.status == "InProgress":
            job.status = "Completed"


class Crash(BaseException):
    pass


def no_network(fn):
    with NetworkGuard() as guard:
        result = fn()
    assert guard.attempts == [], f"tried to reach the network: {guard.attempts}"
    return result


def test_bedrock_run_goes_from_raw_data_to_an_eval_of_the_custom_model(tmp_path, aws, monkeypatch):
    import tunesmith.train.vendor as vendor

    monkeypatch.setattr(vendor, "wait", complete_jobs)
    yaml_path = bedrock_project(tmp_path, aws["url"])
    assert no_network(lambda: main(["run", str(yaml_path), "--yes"])) == 0
    cfg = load_config(yaml_path)

    # S3 holds exactly what the run directory says was sent, in Bedrock's conversation format
    s3 = boto3.client("s3", region_name=REGION)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert [k.rsplit("/", 1)[-1] for k in keys] == ["train.jsonl", "val.jsonl"]
    train_key = next(k for k in keys if k.endswith("train.jsonl"))
    body = s3.get_object(Bucket=BUCKET, Key=train_key)["Body"].read()
    assert body == (cfg.stage_dir("train") / "upload" / "train.jsonl").read_bytes()
    assert json.loads(body.splitlines()[0])["schemaVersion"] == "bedrock-conversation-2024"

    # one job, configured from train.*
    [summary] = jobs()
    job = boto3.client("bedrock", region_name=REGION).get_model_customization_job(jobIdentifier=summary["jobName"])
    assert job["baseModelArn"].endswith(BASE) and job["roleArn"] == ROLE
    assert job["hyperParameters"] == {"epochCount": "2"}
    assert job["trainingDataConfig"]["s3Uri"] == f"s3://{BUCKET}/{train_key}"
    assert job["validationDataConfig"]["validators"][0]["s3Uri"].endswith("val.jsonl")

    # the custom model in the manifest, the registry, and the eval's fine_tuned arm
    manifest = json.loads((cfg.stage_dir("train") / "manifest.json").read_text())
    assert manifest["vendor"]["model_id"] == job["outputModelArn"]
    assert manifest["vendor"]["estimate"]["price_per_1m_usd"] == 1.0
    [run] = Registry(cfg).runs()
    assert run.backend == "bedrock" and run.vendor_model == job["outputModelArn"]
    assert run.evaluation is not None and "fine_tuned" in run.evaluation.metrics
    results = json.loads((cfg.stage_dir("eval") / "results.json").read_text())
    assert results["lineage"]["vendor"]["model_id"] == job["outputModelArn"]
    assert set(aws["gateway"].chat_models) == {BASE, job["outputModelArn"]}
    assert results["arms"]["fine_tuned"]["metrics"]["rougeL"] > results["arms"]["base"]["metrics"]["rougeL"]
    metrics = [json.loads(line) for line in (cfg.stage_dir("train") / "metrics.jsonl").read_text().splitlines()]
    assert [m["status"] for m in metrics if "status" in m] == ["running", "succeeded"]
    assert any("loss" in m for m in metrics)  # the job's trainingMetrics

    # no secret in any artifact
    for secret in (AWS_SECRET, GATEWAY_KEY):
        assert not [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_bedrock_crash_while_following_resumes_the_same_job(tmp_path, aws, monkeypatch):
    import tunesmith.train.vendor as vendor

    def crash(_seconds: float) -> None:
        raise Crash

    yaml_path = bedrock_project(tmp_path, aws["url"])
    assert main(["run", str(yaml_path), "--only", "prepare"]) == 0
    monkeypatch.setattr(vendor, "wait", crash)
    with pytest.raises(Crash):
        main(["train", str(yaml_path), "--yes"])
    assert len(jobs()) == 1
    monkeypatch.setattr(vendor, "wait", complete_jobs)
    assert main(["train", str(yaml_path)]) == 0  # follows: no confirmation needed, nothing new sent
    assert len(jobs()) == 1, "a second paid job was created"
    assert len(boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)["Contents"]) == 2


def test_bedrock_cancel_stops_the_job(tmp_path, aws, monkeypatch):
    import tunesmith.train.vendor as vendor

    def crash(_seconds: float) -> None:
        raise Crash

    yaml_path = bedrock_project(tmp_path, aws["url"])
    assert main(["run", str(yaml_path), "--only", "prepare"]) == 0
    monkeypatch.setattr(vendor, "wait", crash)
    with pytest.raises(Crash):
        main(["train", str(yaml_path), "--yes"])
    assert main(["train", "cancel", str(tmp_path / "artifacts" / "train")]) == 0
    assert [j["status"] for j in jobs()] == ["Stopped"]


def test_bedrock_pii_refused_with_exit_2_and_nothing_sent(tmp_path, aws, capsys):
    yaml_path = bedrock_project(tmp_path, aws["url"], pii="off")
    assert main(["run", str(yaml_path), "--yes", "--from", "prepare"]) == 2
    assert "personal data" in capsys.readouterr().err
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    assert jobs() == []


def test_bedrock_without_a_role_is_a_usage_error(tmp_path, aws, capsys):
    yaml_path = bedrock_project(tmp_path, aws["url"])
    assert main(["run", str(yaml_path), "--only", "prepare"]) == 0
    assert main(["train", str(yaml_path), "--yes", "--set", "train.vendor.role_arn=null"]) == 2
    assert "role_arn" in capsys.readouterr().err
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
