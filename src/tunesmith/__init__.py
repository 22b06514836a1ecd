"""tunesmith: fine-tune LLMs on your own data, and prove it paid off.

Importing the package turns off the telemetry of our dependencies before any of them is imported: data never
leaves the machine unless the user configures a vendor backend or a tracker. The trackers (wandb, MLflow) are set
per run from train.report_to (train/lifecycle.py), not here.
"""

import os as _os
import warnings as _warnings

for _name, _value in {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    # Our own rich progress bars replace the libraries' tqdm bars.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}.items():
    _os.environ.setdefault(_name, _value)

# transformers 5 deprecation noise raised from inside TRL, not from anything a user can change.
_warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

__version__ = "0.1.0"
