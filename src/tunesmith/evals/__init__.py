"""Evaluation: score every arm on the held-out set, put confidence intervals on the scores, render the report.

A fine-tune only "paid off" if it beats the cheaper arms (the base model, retrieval) on data it never saw,
by more than the noise of a finite test set. `metrics` scores one answer, `stats` turns per-example scores
into means, bootstrap intervals and paired deltas, and `report` renders them as a self-contained HTML page
and a short markdown summary.
"""
