"""Near-duplicate detection at scale: time, recall of planted pairs, and the share of false pairs.

    python benchmarks/data_check.py --n 20000 [--n 10000 --n 100000] [--no-pii] [--no-embeddings]
    python benchmarks/data_check.py --n 1000 --n 10000 --n 100000        # growth: each size in a fresh process

Generates N conversations: one shared system prompt, a user prompt of 8-30 words and a 20-word answer drawn from a
Zipf-distributed vocabulary of 5,000 pseudo-words (common words recur, as in real prompts), written as sentences
(capitalised, with punctuation); 2% of the prompts carry an e-mail address or a phone number. It plants
near-duplicates of 10% of them (one or two edits: a typo, a dropped or added word, case and punctuation), and runs
the default `check_files` on them (PII scan on, embedding spread on its seeded sample of
`data.embedding_sample` prompts). A planted pair is found when both lines are in one exact_duplicate,
near_duplicate or conflict finding; a false pair is any reported pair that was not planted. The time includes
loading spaCy, Presidio and MiniLM (the smallest size shows that fixed cost); the load average of the machine and
the peak RSS of the process are printed with each result. Each size runs in its own process, so neither the
models loaded nor the peak memory carry over from one size to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from itertools import accumulate, combinations
from pathlib import Path

from tunesmith.data.check import check_files

DUP_KINDS = ("exact_duplicate", "near_duplicate", "conflict")
SYSTEM = "You are Juno, the support assistant of Lumen Home. Answer briefly and politely."


def _edit(words: list[str], rng: random.Random) -> list[str]:
    words = list(words)
    for _ in range(rng.choice((1, 2))):
        op = rng.choice(("typo", "drop", "add", "case"))
        i = rng.randrange(len(words))
        if op == "typo" and len(words[i]) > 3:
            w = words[i]
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        elif op == "drop" and len(words) > 8:
            del words[i]
        elif op == "add":
            words.insert(i, rng.choice(("please", "hi", "thanks", "quick question:")))
        else:
            words[i] = words[i].upper() + rng.choice(("", "!", "?", ","))
    return words


def generate(n: int, path: Path, seed: int = 0) -> set[tuple[int, int]]:
    """Write n conversations; return the planted pairs as (line, line)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(5000)]
    # Zipf weights, accumulated once: choices(weights=...) would sum 5,000 weights per call (minutes at 1M rows);
    # cum_weights draws the same words.
    cum = list(accumulate(1 / (r + 1) for r in range(len(vocab))))
    n_orig = int(n / 1.1)
    rows, planted = [], set()
    for k in range(n_orig):
        words = rng.choices(vocab, cum_weights=cum, k=rng.randint(8, 30))
        if k % 50 == 7:  # personal data in 2% of the prompts
            pii = (
                ["my", "email", "is", f"user{k}@example.com"] if k % 100 == 7 else ["call", f"415-555-{k % 10000:04d}"]
            )
            words += pii
        answer = " ".join(rng.choices(vocab, cum_weights=cum, k=20))
        rows.append((words, answer))
    for j in rng.sample(range(n_orig), n - n_orig):
        rows.append((_edit(rows[j][0], rng), rows[j][1]))
        planted.add((j + 1, len(rows)))
    with open(path, "w") as f:
        for words, answer in rows:
            prompt = " ".join(words)
            msgs = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": prompt[:1].upper() + prompt[1:] + "?"},
                {"role": "assistant", "content": answer[:1].upper() + answer[1:] + "."},
            ]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return planted


def run(n: int, pii: bool, embeddings: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        planted = generate(n, path)
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        report = check_files([path], diversity=embeddings, pii_scan=pii)
        seconds = time.perf_counter() - start
    reported = {pair for f in report.findings if f.kind in DUP_KINDS for pair in combinations(sorted(f.lines), 2)}
    found = len(planted & reported)
    return {
        "n": n,
        "seconds": round(seconds, 1),
        "planted_pairs": len(planted),
        "reported_pairs": len(reported),
        "recall": round(found / len(planted), 4),
        "false_pair_rate": round(len(reported - planted) / max(1, len(reported)), 4),
        "pii": pii,
        "pii_found": report.stats["pii"].get("found", {}),
        "embeddings": embeddings,
        "embedding_sample": report.stats["diversity"].get("embedding_sample"),
        "loadavg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": len(os.sched_getaffinity(0)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="conversations (repeatable); default 20000")
    parser.add_argument("--no-pii", action="store_true", help="skip the Presidio scan (the default check runs it)")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the MiniLM embedding spread")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process: one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one, not args.no_pii, not args.no_embeddings)), flush=True)
        return
    flags = (["--no-pii"] if args.no_pii else []) + (["--no-embeddings"] if args.no_embeddings else [])
    for n in args.n or [20000]:
        subprocess.run([sys.executable, __file__, "--one", str(n), *flags], check=True)


if __name__ == "__main__":
    main()
