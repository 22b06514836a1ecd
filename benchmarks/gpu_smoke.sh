#!/usr/bin/env bash
# One GPU, under 5 minutes (issue 29, item 5): a QLoRA fine-tune of the demo's SmolLM2-135M on the support-desk
# example (1 epoch), its evaluation on 10 test questions (model arms, single-request latency on 3 and the forgetting
# check, all on the GPU in bf16: models/loading.py's inference_placement), refusal pairs whose rejected answers the
# base model generates on the GPU (`data add-refusals --pairs`), and a GGUF export with its parity check (10
# probes). Prints the device and where the answering models go, each step's wall time and the parity figures.
# Run from the repository root after `make install` and `pip install bitsandbytes` into the same environment
# (QLoRA's 4-bit loading; tunesmith does not depend on it), and `make install-llamacpp` for llama.cpp parity
# (without it the parity reads the GGUF back with transformers).
#
# Not run yet: the session that wrote it (2026-12-07) had no GPU. Whoever runs it: paste what it prints into
# docs/export.md ("On a GPU").
set -euo pipefail
BIN=$(cd "${BIN:-.venv/bin}" && pwd)   # absolute: the steps run in the work folder
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
WORK=$(mktemp -d /tmp/tunesmith-gpu-smoke.XXXXXX)
trap 'echo "work folder: $WORK"' EXIT

"$BIN/python" - <<'PY'
import importlib.util, sys
import torch
from tunesmith.models.loading import inference_placement
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
print("answering models:", inference_placement())
if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
    sys.exit("this smoke test needs a CUDA GPU and bitsandbytes (pip install bitsandbytes) for QLoRA")
PY
"$BIN/python" - "$WORK" <<'PY'
import shutil, sys
from importlib import resources
shutil.copytree(resources.files("tunesmith") / "examples" / "support-desk", sys.argv[1], dirs_exist_ok=True)
PY

step() { local name=$1; shift; local t0=$SECONDS; "$@"; echo "== $name: $((SECONDS - t0)) s"; }
cd "$WORK"
SETS=(--set train.method=qlora --set train.epochs=1 --set eval.limit=10 --set eval.latency_sample=3)
step prepare "$BIN/tunesmith" run tunesmith.yaml --only prepare "${SETS[@]}"
step train "$BIN/tunesmith" run tunesmith.yaml --only train "${SETS[@]}"
step eval "$BIN/tunesmith" run tunesmith.yaml --only eval "${SETS[@]}"
"$BIN/python" -c "import json; print('forgetting:', json.load(open('artifacts/eval/results.json')).get('forgetting'))"
step refusal-pairs "$BIN/tunesmith" data add-refusals --generate 16 --seed 1 --pairs \
    --rejected-from models/smollm2-135m-instruct --out refusal-pairs.jsonl
# rc 1 is a failed parity (the figures are printed either way); anything else stops the script
set +e
step export "$BIN/tunesmith" export artifacts/train --gguf gguf --quant f16 --quant q8_0 --probes 10
rc=$?
set -e
[ "$rc" -le 1 ] || exit "$rc"
"$BIN/python" -c "import json; print(json.dumps(json.load(open('gguf/manifest.json'))['parity'], indent=1))"
echo "== total: $SECONDS s"
