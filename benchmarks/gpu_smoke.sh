#!/usr/bin/env bash
# One GPU, under 5 minutes (issue 29, item 5): a QLoRA fine-tune of the demo's SmolLM2-135M on the support-desk
# example (1 epoch), its evaluation on 10 test questions, and a GGUF export with its parity check (10 probes).
# Prints the device, each step's wall time and the parity figures. Run from the repository root after
# `make install` (and `make install-llamacpp` for llama.cpp parity; without it the parity reads the GGUF back with
# transformers). QLoRA needs bitsandbytes and CUDA.
#
# Not run yet: the session that wrote it (2026-12-07) had no GPU. Whoever runs it: paste what it prints into
# docs/export.md ("On a GPU").
set -euo pipefail
BIN=$(cd "${BIN:-.venv/bin}" && pwd)   # absolute: the steps run in the work folder
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
WORK=$(mktemp -d /tmp/tunesmith-gpu-smoke.XXXXXX)
trap 'echo "work folder: $WORK"' EXIT

"$BIN/python" - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
PY
"$BIN/python" - "$WORK" <<'PY'
import shutil, sys
from importlib import resources
shutil.copytree(resources.files("tunesmith") / "examples" / "support-desk", sys.argv[1], dirs_exist_ok=True)
PY

step() { local name=$1; shift; local t0=$SECONDS; "$@"; echo "== $name: $((SECONDS - t0)) s"; }
cd "$WORK"
SETS=(--set train.method=qlora --set train.epochs=1 --set eval.limit=10 --set eval.latency_sample=0)
step prepare "$BIN/tunesmith" run tunesmith.yaml --only prepare "${SETS[@]}"
step train "$BIN/tunesmith" run tunesmith.yaml --only train "${SETS[@]}"
step eval "$BIN/tunesmith" run tunesmith.yaml --only eval "${SETS[@]}"
# rc 1 is a failed parity (the figures are printed either way); anything else stops the script
set +e
step export "$BIN/tunesmith" export artifacts/train --gguf gguf --quant f16 --quant q8_0 --probes 10
rc=$?
set -e
[ "$rc" -le 1 ] || exit "$rc"
"$BIN/python" -c "import json; print(json.dumps(json.load(open('gguf/manifest.json'))['parity'], indent=1))"
echo "== total: $SECONDS s"
