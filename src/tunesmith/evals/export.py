"""Export the test split as an lm-evaluation-harness task, so that any model lm-eval supports can be scored on it.

The task is a `generate_until` task over a local JSONL file: lm-eval loads it with the `json` dataset builder,
renders the question, and scores exact match against the reference answer.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tunesmith.artifacts import dumps
from tunesmith.evals.arms import last_user
from tunesmith.evals.cases import load_test_cases


def export_lm_eval(test_path: Path, out_dir: Path, *, task: str, max_gen_toks: int = 256) -> Path:
    """Write `out_dir/{task}.yaml` and `out_dir/{task}.jsonl`; return the YAML path.

    The data path in the YAML is absolute, because lm-eval resolves it against the working directory,
    not against the YAML file. Each record keeps the whole conversation for chat-template runs.
    """
    task = re.sub(r"\W+", "_", task).strip("_").lower() or "tunesmith"
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / f"{task}.jsonl"
    with data.open("w", encoding="utf-8") as f:
        for case in load_test_cases(test_path):
            system = next((m["content"] for m in case.prompt if m["role"] == "system"), "")
            row = {
                "id": case.id,
                "tags": case.tags,
                "system": system,
                "question": last_user(case.prompt),
                "messages": case.prompt,
                "answer": case.reference,
            }
            f.write(dumps(row) + "\n")
    spec = {
        "task": task,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{system}}\n\nQuestion: {{question}}\nAnswer:",
        "doc_to_target": "{{answer}}",
        "generation_kwargs": {"until": ["\n\n", "Question:"], "do_sample": False, "max_gen_toks": max_gen_toks},
        "metric_list": [
            {
                "metric": "exact_match",
                "aggregation": "mean",
                "higher_is_better": True,
                "ignore_case": True,
                "ignore_punctuation": True,
            }
        ],
        "metadata": {"version": 1.0, "source": str(test_path)},
    }
    path = out_dir / f"{task}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
