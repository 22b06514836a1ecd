"""The split: seeded, stratified, groups whole, and a test minimum for rare tags."""

from collections import Counter

from tunesmith.data.split import split_groups

SHARES = {"train": 0.8, "val": 0.1, "test": 0.1}


def corpus(n_common: int = 180, n_rare: int = 18) -> list[dict]:
    common = [{"meta": {"tags": [f"intent{i % 6}"]}} for i in range(n_common)]
    rare = [{"meta": {"tags": ["out_of_scope", "refusal"]}} for _ in range(n_rare)]
    return common + rare


def test_rare_tag_gets_its_test_minimum_and_the_shares_hold():
    records = corpus()
    plain = split_groups(records, [], SHARES, seed=0)
    assert sum(1 for i in plain["test"] if records[i]["meta"]["tags"][0] == "out_of_scope") < 5
    out = split_groups(records, [], SHARES, seed=0, min_test={"out_of_scope": 10})
    tags = Counter(records[i]["meta"]["tags"][0] for i in out["test"])
    assert tags["out_of_scope"] >= 10
    assert len(out["test"]) == len(plain["test"])  # the overall test share is unchanged
    assert sorted(out["train"] + out["val"] + out["test"]) == list(range(len(records)))
    train_rare = sum(1 for i in out["train"] if records[i]["meta"]["tags"][0] == "out_of_scope")
    assert train_rare >= 6


def test_test_minimum_reserves_at_most_60_percent_of_a_tag():
    records = corpus(n_rare=10)
    out = split_groups(records, [], SHARES, seed=0, min_test={"out_of_scope": 10})
    # 6 reserved; the running balance may add the tag's proportional share of the rest (here one).
    assert 6 <= sum(1 for i in out["test"] if records[i]["meta"]["tags"][0] == "out_of_scope") <= 7


def test_no_minimum_gives_the_same_split_as_before():
    records = corpus()
    assert split_groups(records, [], SHARES, seed=3) == split_groups(records, [], SHARES, seed=3, min_test={})
