"""Amazon Bedrock model customization through boto3 (imported only when this backend runs).

The calls, as boto3's `bedrock` and `s3` clients document them:
    s3.upload_file(path, bucket, key)
    bedrock.create_model_customization_job(jobName, customModelName, roleArn, baseModelIdentifier,
        customizationType="FINE_TUNING", trainingDataConfig={"s3Uri"}, validationDataConfig={"validators":
        [{"s3Uri"}]}, outputDataConfig={"s3Uri"}, hyperParameters={name: string})           -> jobArn
    bedrock.get_model_customization_job(jobIdentifier)   -> status InProgress | Completed | Failed | Stopping |
                                                             Stopped, outputModelArn, failureMessage,
                                                             trainingMetrics, validationMetrics
    bedrock.stop_model_customization_job(jobIdentifier)

Credentials and region come from the AWS chain (environment, profile, instance role). The custom model answers only
through provisioned throughput (or an on-demand deployment for Nova): tunesmith leaves that to the user and says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tunesmith.config import VendorConfig
from tunesmith.errors import ConfigError, ModelError
from tunesmith.train.vendor.jobs import Snapshot

STATUS = {
    "InProgress": "running",
    "Completed": "succeeded",
    "Failed": "failed",
    "Stopping": "running",
    "Stopped": "cancelled",
}
PROVISIONED_HINT = (
    "the custom model answers only through provisioned throughput (or an on-demand deployment for Nova models); "
    "create one in the Bedrock console or with create_provisioned_model_throughput: tunesmith leaves it to you"
)


def _aws_error(e: Exception, what: str) -> ModelError | ConfigError:
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(e, NoCredentialsError):
        return ConfigError(
            f"no AWS credentials to {what}",
            hint="configure the AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID..., an instance role); never the YAML",
        )
    if isinstance(e, NoRegionError):
        return ConfigError(f"no AWS region to {what}", hint="set train.vendor.region or AWS_DEFAULT_REGION")
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return ModelError(f"Bedrock could not {what}: {err.get('Code')}: {err.get('Message')}")
    return ModelError(f"Bedrock could not {what}: {e}")


class BedrockBackend:
    name = "bedrock"

    def __init__(self, cfg: VendorConfig, *, session: Any = None) -> None:
        missing = [k for k in ("role_arn", "s3_bucket") if not getattr(cfg, k)]
        if missing:
            raise ConfigError(
                f"train.backend: bedrock needs train.vendor.{' and train.vendor.'.join(missing)}",
                hint="the customization job reads the training data from S3 with an IAM role that Bedrock assumes",
            )
        try:
            import boto3
        except ImportError:
            raise ConfigError("train.backend: bedrock needs boto3", hint='pip install "tunesmith[vendors]"') from None
        self.cfg = cfg
        session = session or boto3.session.Session(region_name=cfg.region)
        try:
            self.bedrock = session.client("bedrock")
            self.s3 = session.client("s3")
        except Exception as e:  # noqa: BLE001 - botocore's errors are turned into ours
            raise _aws_error(e, "create the clients") from None

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (BotoCoreError, ClientError) as e:
            raise _aws_error(e, what) from None

    def _key(self, run_key: str, name: str) -> str:
        return f"{self.cfg.s3_prefix.strip('/')}/{run_key}/{name}"

    def upload(self, path: Path, *, run_key: str) -> str:
        key = self._key(run_key, path.name)
        self._call(
            f"upload {path.name} to s3://{self.cfg.s3_bucket}",
            self.s3.upload_file,
            Filename=str(path),
            Bucket=self.cfg.s3_bucket,
            Key=key,
        )
        return f"s3://{self.cfg.s3_bucket}/{key}"

    def create_job(
        self,
        *,
        base_model: str,
        files: dict[str, str],
        method: str,
        hyperparameters: dict[str, Any],
        suffix: str | None,
        seed: int,
        run_key: str,
    ) -> str:
        name = re.sub(r"[^a-zA-Z0-9-]", "-", f"tunesmith-{run_key}")[:63]
        kwargs: dict[str, Any] = {
            "jobName": name,
            "customModelName": re.sub(r"[^a-zA-Z0-9-_.]", "-", suffix or name)[:63],
            "roleArn": self.cfg.role_arn,
            "baseModelIdentifier": base_model,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": files["train"]},
            "outputDataConfig": {"s3Uri": f"s3://{self.cfg.s3_bucket}/{self._key(run_key, 'output')}/"},
            "hyperParameters": {k: str(v) for k, v in hyperparameters.items()},
        }
        if "val" in files:
            kwargs["validationDataConfig"] = {"validators": [{"s3Uri": files["val"]}]}
        self._call("create the model customization job", self.bedrock.create_model_customization_job, **kwargs)
        # The job name identifies the job as well as its ARN does (jobIdentifier takes either).
        return name

    def poll(self, job_id: str, seen: set[str]) -> Snapshot:
        job = self._call("read the job", self.bedrock.get_model_customization_job, jobIdentifier=job_id)
        raw = job.get("status", "InProgress")
        status = STATUS.get(raw, "running")
        events = []
        if status == "succeeded" and f"{job_id}:metrics" not in seen:
            line: dict[str, Any] = {"event_id": f"{job_id}:metrics", "type": "metrics", "message": "final metrics"}
            loss = (job.get("trainingMetrics") or {}).get("trainingLoss")
            if loss is not None:
                line["loss"] = loss
            val = [m.get("validationLoss") for m in job.get("validationMetrics") or [] if "validationLoss" in m]
            if val:
                line["eval_loss"] = min(val)
            events.append(line)
        return Snapshot(
            status=status,
            events=events,
            model_id=job.get("outputModelArn") if status == "succeeded" else None,
            error=job.get("failureMessage") if status == "failed" else None,
            raw_status=raw,
        )

    def cancel(self, job_id: str) -> str:
        self._call("stop the job", self.bedrock.stop_model_customization_job, jobIdentifier=job_id)
        job = self._call("read the job", self.bedrock.get_model_customization_job, jobIdentifier=job_id)
        return STATUS.get(job.get("status", ""), "running") if job.get("status") != "Stopping" else "stopping"

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return []
