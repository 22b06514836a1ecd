"""Length-sorted micro-batches: less padding and the same rows (the training invariance is in test_recipe.py)."""

import torch

from tunesmith.train.microbatch import split_batch


def padded_batch(lengths: list[int]) -> dict[str, torch.Tensor]:
    width = max(lengths)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.arange(1, n + 1) + 1000 * i  # row i is recognisable by its first token
        mask[i, :n] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def test_split_sorts_trims_and_keeps_every_row_once():
    lengths = [30, 200, 45, 120, 200, 60, 15, 90]
    batch = padded_batch(lengths)
    parts = split_batch(batch, budget=256)
    seen = []
    for part in parts:
        rows, width = part["input_ids"].shape
        assert rows == 1 or (rows * width <= 256 and part["attention_mask"].float().mean() >= 0.9)
        assert part["attention_mask"][:, -1].any()  # trimmed to its own longest row: no all-padding column
        for r in range(rows):
            i = int(part["input_ids"][r, 0]) // 1000
            n = lengths[i]
            assert torch.equal(part["input_ids"][r, :n], batch["input_ids"][i, :n])
            assert torch.equal(part["labels"][r], batch["labels"][i, :width])
            seen.append(i)
    assert sorted(seen) == list(range(len(lengths)))
    padded = sum(p["input_ids"].numel() for p in parts)
    assert padded < 0.5 * batch["input_ids"].numel()  # 1,600 padded tokens before, 760 after


def test_rows_of_similar_length_share_a_part():
    parts = split_batch(padded_batch([100, 50, 98, 97]), budget=512)
    assert [p["input_ids"].shape for p in parts] == [(3, 100), (1, 50)]  # 1.7% padding: grouped; 50 is too short


def test_split_leaves_unsplittable_batches_alone():
    packed = {"input_ids": torch.ones(1, 50, dtype=torch.long), "position_ids": torch.arange(50)[None]}
    assert split_batch(packed, budget=8)[0] is packed  # padding-free packing: nothing to remove
    left = padded_batch([5, 9])
    left["attention_mask"] = left["attention_mask"].flip(1)
    assert split_batch(left, budget=8)[0] is left  # left-padded: not ours to reorder
    fits = padded_batch([20, 20, 18])
    assert split_batch(fits, budget=1024)[0] is fits  # one group with no padding column to trim
