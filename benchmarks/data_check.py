"""Near-duplicate detection at scale: time, recall of planted pairs, and the share of false pairs.

    python benchmarks/data_check.py --n 20000 [--n 10000 --n 100000] [--pii]

Generates N conversations whose prompts are 8-30 words drawn from a Zipf-distributed vocabulary of 5,000
pseudo-words (common words recur, as in real prompts), plants near-duplicates of 10% of them (one or two edits:
a typo, a dropped or added word, case and punctuation), and runs `check_files` on them. A planted pair is found
when both lines are in one exact_duplicate, near_duplicate or conflict finding; a false pair is any reported pair
that was not planted.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import tempfile
import time
from itertools import combinations
from pathlib import Path

from tunesmith.data.check import check_files

DUP_KINDS = ("exact_duplicate", "near_duplicate", "conflict")


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
    weights = [1 / (r + 1) for r in range(len(vocab))]
    n_orig = int(n / 1.1)
    rows, planted = [], set()
    for _ in range(n_orig):
        words = rng.choices(vocab, weights=weights, k=rng.randint(8, 30))
        answer = " ".join(rng.choices(vocab, weights=weights, k=20))
        rows.append((words, answer))
    for j in rng.sample(range(n_orig), n - n_orig):
        rows.append((_edit(rows[j][0], rng), rows[j][1]))
        planted.add((j + 1, len(rows)))
    with open(path, "w") as f:
        for words, answer in rows:
            msgs = [{"role": "user", "content": " ".join(words)}, {"role": "assistant", "content": answer}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return planted


def run(n: int, pii: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        planted = generate(n, path)
        start = time.perf_counter()
        report = check_files([path], diversity=False, pii_scan=pii)
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="conversations (repeatable); default 20000")
    parser.add_argument("--pii", action="store_true", help="include the Presidio scan (slow: ~5-10 ms a message)")
    args = parser.parse_args()
    for n in args.n or [20000]:
        print(json.dumps(run(n, args.pii)), flush=True)


if __name__ == "__main__":
    main()
