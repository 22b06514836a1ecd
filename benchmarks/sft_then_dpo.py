"""SFT alone against SFT then DPO, on the support-desk example and SmolLM2-135M-Instruct (issue 13).

    python benchmarks/sft_then_dpo.py                      # ~13 min on 2 cores: SFT, pairs, DPO, both evaluated
    python benchmarks/sft_then_dpo.py --work DIR           # keep the project; a second run reuses its SFT run
    python benchmarks/sft_then_dpo.py --learning-rate 5e-4 --sft-weight 0 --in-scope-pairs 66 --tag dpo-plain
    python benchmarks/sft_then_dpo.py --throughput --model-dir DIR --pairs 32 --reps 2   # DPO tokens/s, levers on/off

--throughput measures DPO alone (issue 30): N pairs from the example's raw conversations, no generation (an in-scope
question: its answer chosen, the brand's refusal rejected; an out-of-scope one: the refusal chosen, another
question's answer rejected), trained as the example's tunesmith.yaml says with train.objective dpo (RPO, lr 5e-5,
2 epochs, the reference the base with the adapter off), once with tunesmith's DPO levers (train/dpo_trainer.py) and
once on TRL's own path (`TunesmithDPOTrainer.completion_only = False`, the DPO of before), in rotating order. It
prints each run's tokens/s (both sides' tokens, prompt counted twice, as the run reports it) and its losses.

1. The quickstart's SFT stage: the example copied into --work, its dataset prepared, LoRA trained as the example's
   tunesmith.yaml says (the run the quickstart evaluates), into artifacts/train-sft.
2. Preference pairs from that dataset's train split only, so the test split stays unseen:
   - every out-of-scope question: the brand's refusal chosen, the base model's own greedy answer rejected (its
     confident invention: `tunesmith data add-refusals --pairs --rejected-from`);
   - with --in-scope-pairs N, N in-scope questions, seeded: the approved answer chosen, the brand's refusal
     rejected, meant to keep preferring refusals from becoming "refuse everything" (over-refusal); measured, it
     taught the model to avoid the refusal's wording everywhere instead (docs/benchmarks.md).
   Prepared as a versioned pair dataset (split by prompt, 10% of pairs held out as test pairs).
3. DPO from the SFT run (`train.init_from`): its adapter is trained on and a frozen copy is the reference.
4. One evaluation of both on the SFT dataset's test split, as the quickstart's (34 cases, 11 out of scope, 64 new
   tokens): arms `sft` and `fine_tuned` (the DPO run), paired CIs of fine_tuned against sft, and a blocklist of
   other brands' products, which Lumen Home's support must not advise on.

Prints the table and writes sft_then_dpo.json (figures) next to the project's artifacts/eval-dpo/report.html.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

from tunesmith.artifacts import read_jsonl
from tunesmith.config import DataConfig, load_config
from tunesmith.data.augment import generate_rejected, to_pair
from tunesmith.data.prepare import prepare_dataset
from tunesmith.evals.runner import evaluate
from tunesmith.models.loading import ensure_base_model
from tunesmith.pipeline import ensure_dataset, example_dir
from tunesmith.train.recipe import train

# Lumen Home's support gives no advice on other brands' products; a confident invented answer to a near-domain
# question names them. Multi-word or distinctive names only: the match is a case-insensitive substring.
BLOCKLIST = ["Ring doorbell", "Google Nest", "Nest Hub", "Arlo", "Wyze", "Philips Hue", "Alexa", "Samsung", "iPhone"]
OUT_OF_SCOPE = "out_of_scope"


def sft_project(work: Path, console: Console) -> tuple[Path, float]:
    """The example copied into `work`, its dataset prepared and its SFT run trained (kept for a second run)."""
    project = work / "project"
    if not (project / "tunesmith.yaml").exists():
        src = example_dir()
        shutil.copytree(src, project, ignore=shutil.ignore_patterns("__pycache__", "artifacts", "models", "*tiny*"))
    cfg = load_config(project / "tunesmith.yaml")
    sft_dir = cfg.path("artifacts/train-sft")
    t0 = time.perf_counter()
    if not (sft_dir / "manifest.json").exists():
        ensure_dataset(cfg)
        train(cfg, out_dir=sft_dir, console=console)
    return project, time.perf_counter() - t0


def make_pairs(project: Path, seed: int, in_scope_pairs: int) -> tuple[list[dict], dict[str, int]]:
    cfg = load_config(project / "tunesmith.yaml")
    rows = read_jsonl(cfg.stage_dir("dataset") / "train.jsonl")
    oos = [r for r in rows if OUT_OF_SCOPE in r["meta"].get("tags", [])]
    in_scope = [r for r in rows if OUT_OF_SCOPE not in r["meta"].get("tags", [])]
    refusal = oos[0]["messages"][-1]["content"]  # the brand's refusal, as the training data words it
    base = ensure_base_model(cfg)
    inventions = generate_rejected(base, [r["messages"][:-1] for r in oos], max_new_tokens=64)
    pairs = [to_pair(r, bad, rejected_source=f"{base} (greedy)") for r, bad in zip(oos, inventions, strict=True)]
    sample = random.Random(seed).sample(in_scope, min(in_scope_pairs, len(in_scope)))
    pairs += [to_pair(r, refusal, rejected_source="the brand's refusal") for r in sample]
    return pairs, {"out_of_scope_pairs": len(oos), "in_scope_pairs": len(sample)}


def quick_pairs(n: int, seed: int) -> list[dict]:
    """N preference pairs from the example's raw conversations, without generating (see --throughput)."""
    rows = read_jsonl(example_dir() / "data" / "support.jsonl")
    oos = [r for r in rows if OUT_OF_SCOPE in r["meta"].get("tags", [])]
    in_scope = [r for r in rows if OUT_OF_SCOPE not in r["meta"].get("tags", [])]
    refusal = oos[0]["messages"][-1]["content"]
    rng = random.Random(seed)
    pairs = []
    for i, r in enumerate(rng.sample(in_scope, n // 2) + rng.sample(oos, n - n // 2)):
        if OUT_OF_SCOPE in r["meta"].get("tags", []):
            bad = in_scope[i % len(in_scope)]["messages"][-1]["content"]
        else:
            bad = refusal
        pairs.append(
            {
                "prompt": r["messages"][:-1],
                "chosen": [r["messages"][-1]],
                "rejected": [{"role": "assistant", "content": bad}],
                "meta": {"id": f"pair-{i}"},
            }
        )
    return pairs


def throughput(a: argparse.Namespace, console: Console) -> None:
    """DPO tokens/s with the levers and on TRL's own path, alternating, on the same pairs and config."""
    from statistics import median

    from tunesmith.train.dpo_trainer import TunesmithDPOTrainer

    work = a.work / "throughput"
    data = work / "pairs"
    data.mkdir(parents=True, exist_ok=True)
    pairs = quick_pairs(a.pairs, 0)
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs), encoding="utf-8")
    overrides = [
        f"model.base={a.model_dir.resolve()}",
        "train.objective=dpo",
        f"train.epochs={a.epochs}",
        f"train.learning_rate={a.learning_rate}",
        f"train.dpo.beta={a.beta}",
        f"train.dpo.sft_weight={a.sft_weight}",
        "train.logging_steps=1",
        *a.set,
    ]
    cfg = load_config(example_dir() / "tunesmith.yaml", overrides)
    runs: dict[str, list[dict]] = {"tunesmith": [], "trl": []}
    for rep in range(a.reps):
        for arm in ["tunesmith", "trl"] if rep % 2 == 0 else ["trl", "tunesmith"]:
            TunesmithDPOTrainer.completion_only = arm == "tunesmith"
            console.rule(f"{arm}, repetition {rep + 1}")
            t0 = time.perf_counter()
            result = train(cfg, dataset_dir=data, out_dir=work / f"{arm}-{rep}", resume=False, console=console)
            losses = [m["loss"] for m in result.metrics if "loss" in m]
            runs[arm].append(
                {
                    "tokens_per_second": result.tokens_per_second,
                    "wall_s": time.perf_counter() - t0,
                    "train_loss": result.train_loss,
                    "losses": losses,
                }
            )
    summary = {
        arm: {"median_tokens_per_second": median(r["tokens_per_second"] for r in rs), "runs": rs}
        for arm, rs in runs.items()
    }
    ratio = summary["tunesmith"]["median_tokens_per_second"] / summary["trl"]["median_tokens_per_second"]
    logged = zip(runs["tunesmith"][0]["losses"], runs["trl"][0]["losses"], strict=True)
    gap = max((abs(x - y) for x, y in logged), default=0.0)
    figures = {"pairs": len(pairs), "tokens_per_epoch": result.labels.tokens, "config": overrides, **summary}
    figures.update({"speedup": ratio, "max_logged_loss_difference": gap})
    a.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    for arm, f in summary.items():
        shown = ", ".join(f"{r['tokens_per_second']:.0f}" for r in f["runs"])
        console.print(f"{arm}: median {f['median_tokens_per_second']:.0f} tokens/s ({shown})")
    console.print(f"speed-up {ratio:.2f}x; largest difference of a logged loss {gap:.2e}; wrote {a.out}")


def counts(results, arm: str, metric: str) -> str:
    values = [e.arms[arm].metrics[metric] for e in results.examples if metric in e.arms[arm].metrics]
    return f"{sum(values):.0f}/{len(values)}" if values else "-"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("sft_then_dpo_work"))
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--learning-rate", type=float, default=5e-5, help="DPO on the SFT adapter (tunesmith's default)")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--sft-weight", type=float, default=1.0, help="train.dpo.sft_weight (0: plain DPO)")
    p.add_argument(
        "--in-scope-pairs",
        type=int,
        default=0,
        help="in-scope questions paired against the refusal (0: refusal pairs only; 66 lowered abstention)",
    )
    p.add_argument("--tag", default="dpo", help="names the run and eval folders: artifacts/train-TAG, eval-TAG")
    p.add_argument("--out", type=Path, default=Path("sft_then_dpo.json"))
    p.add_argument("--throughput", action="store_true", help="DPO tokens/s only, levers on and off (see above)")
    p.add_argument("--model-dir", type=Path, help="--throughput: the prepared SmolLM2 (models/smollm2-135m-instruct)")
    p.add_argument("--pairs", type=int, default=32, help="--throughput: preference pairs")
    p.add_argument("--reps", type=int, default=2, help="--throughput: runs per arm, in rotating order")
    p.add_argument("--set", action="append", default=[], help="--throughput: a config override, KEY=VALUE")
    a = p.parse_args()
    console = Console()
    if a.throughput:
        if a.model_dir is None:
            p.error("--throughput needs --model-dir")
        return throughput(a, console)
    timings: dict[str, float] = {}

    console.rule("SFT (the quickstart's run)")
    project, timings["sft_s"] = sft_project(a.work, console)
    cfg = load_config(project / "tunesmith.yaml")

    console.rule("preference pairs from the train split")
    t0 = time.perf_counter()
    pairs, made = make_pairs(project, cfg.project.seed, a.in_scope_pairs)
    pairs_file = project / "data" / "pairs.jsonl"
    pairs_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pairs), encoding="utf-8")
    pairs_dir = cfg.path("artifacts/pairs")
    # Already redacted (they come from the prepared dataset); a prompt's pairs stay in one split.
    prepared = prepare_dataset(
        [pairs_file],
        pairs_dir,
        DataConfig(pii="off", split={"train": 0.8, "val": 0.1, "test": 0.1}),
        seed=cfg.project.seed,
        overwrite=True,
    )
    timings["pairs_s"] = time.perf_counter() - t0
    console.print(f"pairs: {made}, split {prepared.counts}")

    console.rule("DPO from the SFT run")
    sft_dir = cfg.path("artifacts/train-sft")
    dpo_cfg = load_config(
        project / "tunesmith.yaml",
        [
            "train.objective=dpo",
            f"train.init_from={sft_dir}",
            f"train.epochs={a.epochs}",
            f"train.learning_rate={a.learning_rate}",
            f"train.dpo.beta={a.beta}",
            f"train.dpo.sft_weight={a.sft_weight}",
            "eval.arms=[sft,fine_tuned]",
            "eval.reference_arm=sft",
            "eval.forgetting=false",
            f"eval.blocklist={json.dumps(BLOCKLIST)}",
        ],
    )
    t0 = time.perf_counter()
    dpo = train(dpo_cfg, dataset_dir=pairs_dir, out_dir=cfg.path(f"artifacts/train-{a.tag}"), console=console)
    timings["dpo_s"] = time.perf_counter() - t0

    console.rule("evaluation: sft against sft + dpo")
    t0 = time.perf_counter()
    results = evaluate(
        dpo_cfg,
        dataset_dir=cfg.stage_dir("dataset"),
        train_dir=dpo.out_dir,
        out_dir=cfg.path(f"artifacts/eval-{a.tag}"),
        console=console,
    ).results
    timings["eval_s"] = time.perf_counter() - t0

    metrics = ["rougeL", "abstention", "hallucination", "over_refusal", "blocklist_violation"]
    rows = {}
    for arm in ("sft", "fine_tuned"):
        rows[arm] = {m: results.arms[arm].metrics.get(m) for m in metrics}
        rows[arm]["counts"] = {m: counts(results, arm, m) for m in metrics[1:]}
    deltas = {
        m: {"value": d.value, "ci": list(d.ci)}
        for m, d in results.arms["fine_tuned"].delta_vs["sft"].items()
        if m in metrics
    }
    pref = results.preference
    figures = {
        "pairs": made,
        "pair_split": prepared.counts,
        "dpo": {"epochs": a.epochs, "learning_rate": a.learning_rate, "beta": a.beta, "sft_weight": a.sft_weight},
        "test_reward_accuracy": pref.test_reward_accuracy if pref else None,
        "test_reward_margin": pref.test_reward_margin if pref else None,
        "arms": rows,
        "fine_tuned_vs_sft": deltas,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "n_test": len(results.examples),
    }
    a.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'metric':<22}{'sft':>16}{'sft + dpo':>16}   dpo - sft (95% CI)")
    for m in metrics:
        s, f = rows["sft"][m], rows["fine_tuned"][m]
        cs, cf = rows["sft"]["counts"].get(m, ""), rows["fine_tuned"]["counts"].get(m, "")
        d = deltas.get(m)
        shown = f"{d['value']:+.3f} ({d['ci'][0]:+.3f} to {d['ci'][1]:+.3f})" if d else "-"
        cell = lambda v, c: "-" if v is None else f"{v:.3f} {('(' + c + ')') if c else ''}"  # noqa: E731
        print(f"{m:<22}{cell(s, cs):>16}{cell(f, cf):>16}   {shown}")
    if pref:
        print(f"held-out pairs: reward accuracy {pref.test_reward_accuracy}, margin {pref.test_reward_margin}")
    print(f"timings: {figures['timings_s']}; wrote {a.out} and {cfg.path(f'artifacts/eval-{a.tag}/report.html')}")


if __name__ == "__main__":
    sys.exit(main())
