"""The monitor section: the request log and the drift and quality thresholds."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class MonitorConfig(Section):
    redact: bool = Field(True, description="Redact PII from prompts and responses before they are logged.")
    database_url: str = Field(
        "sqlite:///tunesmith.db",
        description="SQLAlchemy URL of the request log; a relative SQLite path is resolved against tunesmith.yaml.",
    )
    since: str = Field("7d", description="Default window of traffic that `tunesmith monitor` compares (30m, 12h, 7d).")
    min_requests: int = Field(20, gt=0, description="Fewer logged prompts than this in the window: no drift verdict.")
    auc_threshold: float = Field(
        0.55, gt=0.5, le=1, description="Domain-classifier ROC AUC above which embeddings drifted (Evidently's 0.55)."
    )
    mmd_alpha: float = Field(
        0.05, gt=0, lt=1, description="MMD permutation-test p-value below which the drift is significant."
    )
    permutations: int = Field(200, gt=0, description="Permutations of the MMD test.")
    topics: int = Field(8, gt=0, description="KMeans clusters of the training prompts (capped by their number).")
    unseen_quantile: float = Field(
        0.95,
        gt=0,
        lt=1,
        description="A prompt farther from every cluster than this quantile of training prompts is an unseen topic.",
    )
    max_unseen_share: float = Field(
        0.25, ge=0, le=1, description="Share of unseen-topic traffic above which topic drift fires."
    )
    psi_threshold: float = Field(0.25, gt=0, description="PSI of prompt lengths above which length drift fires.")
    max_refusal_rate: float = Field(
        0.3, ge=0, le=1, description="Share of refusing answers in the window above which quality fires."
    )
    min_mean_rating: float | None = Field(
        None, description="Mean feedback rating below which quality fires; unset: feedback is reported only."
    )
    max_answer_guard_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Share of answers the answer guards hit (serve.answer_guards: blocked, redacted or logged) above "
        "which monitor fires; unset: the rates are reported only.",
    )
    low_rating: float = Field(
        0.0, description="Ratings at or below this are low: export-review includes those responses."
    )
