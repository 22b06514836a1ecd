#!/bin/bash
# The migration of docs/vendors.md ("Measured: the migration on the demo"), on a project where `make demo` (or
# `tunesmith quickstart`) has trained the demo's fine-tune: that fine-tune, served by `tunesmith serve`, is the teacher
# standing in for a vendor model; the student is the same base model trained with the demo's recipe on the teacher's
# answers to the first N training prompts; the evaluation sets the student beside the teacher (the endpoint arm).
#
#   benchmarks/migration_demo.sh DEMO_DIR WORK_DIR [N]     # e.g. ./tunesmith-quickstart /tmp/migration 120
#
# The review is simulated (every draft approved as `tunesmith ui --review` writes it): a measurement of the chain, not
# of a reviewer. Writes only under WORK_DIR; the demo folder is read.
set -euo pipefail
DEMO=$(cd "$1" && pwd); WORK=$2; N=${3:-120}; PORT=${PORT:-8765}
TS=${TUNESMITH:-tunesmith}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=1
mkdir -p "$WORK/teacher" "$WORK/student"
cd "$WORK"
cp -r "$DEMO/artifacts" "$DEMO/data" "$DEMO/docs" "$DEMO/tunesmith.yaml" teacher/
ln -sfn "$DEMO/models" teacher/models
cp teacher/artifacts/dataset/test.jsonl student/test.jsonl
head -n "$N" teacher/artifacts/dataset/train.jsonl > student/prompts.jsonl
cat > student/tunesmith.yaml <<YAML
project: {name: demo-migration, artifacts: artifacts, seed: 0}
data:
  paths: []
  test_paths: [test.jsonl]
  pii: redact
  pii_allow: ["1-800-555-0199", "help@lumenhome.example"]
  refusals: 'off'          # the student learns refusals from the teacher's answers only
model: {base: $DEMO/models/smollm2-135m-instruct}
train: {method: lora, epochs: 3, learning_rate: 0.002, batch_size: 8, max_seq_len: 512,
        lora: {dropout: 0.0, top_layers: 15}, micro_batch_tokens: 2048}
generate:
  teacher: {base_url: "http://127.0.0.1:$PORT/v1", model: teacher, max_tokens: 64, temperature: 0, concurrency: 8}
eval:
  arms: [base, fine_tuned, endpoint]
  endpoint: {base_url: "http://127.0.0.1:$PORT/v1", model: teacher, concurrency: 8}
  max_new_tokens: 64
  batch_size: 16
  limit: 34
  latency_sample: 0
  forgetting: false
YAML
$TS serve teacher/tunesmith.yaml --model teacher=teacher/artifacts/train --port "$PORT" > serve.log 2>&1 &
SERVE=$!
trap 'kill $SERVE' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 1; done
start=$(date +%s)
$TS data generate student/tunesmith.yaml --from prompts student/prompts.jsonl --out student/review/distilled.jsonl \
  --yes --json > generate.json
echo "data generate: $(( $(date +%s) - start )) s"
python - <<'PY'
import json
rows = [json.loads(line) for line in open("student/review/distilled.jsonl", encoding="utf-8")]
with open("student/reviewed.jsonl", "w", encoding="utf-8") as out:
    for r in rows:
        tags = [t for t in r["meta"]["tags"] if t != "needs_review"] + ["reviewed"]
        r["meta"] = {**r["meta"], "tags": tags, "review": {"by": "migration_demo.sh", "decision": "approve"}}
        out.write(json.dumps(r) + "\n")
PY
sed -i 's/  paths: \[\]/  paths: [reviewed.jsonl]/' student/tunesmith.yaml
start=$(date +%s)
$TS run student/tunesmith.yaml
echo "run: $(( $(date +%s) - start )) s; the report: $WORK/student/artifacts/eval/report.html (Migration section)"
