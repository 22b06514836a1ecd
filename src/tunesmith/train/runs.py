"""What a stage that needs a trained model checks first."""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import DataError


def require_training_run(train_dir: Path) -> None:
    """Stop before any work when the stage needs a trained model and `train_dir` holds none (see ensure_dataset)."""
    if not ((train_dir / "adapter" / "adapter_config.json").exists() or (train_dir / "model" / "config.json").exists()):
        raise DataError(
            f"no trained model in {train_dir} (neither adapter/ nor model/)",
            hint="train first: `tunesmith train tunesmith.yaml` (or `tunesmith run tunesmith.yaml --from train`); "
            "tunesmith never starts a training run implicitly",
        )
