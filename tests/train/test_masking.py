"""Exactly which tokens carry loss: the bugs that fail silently elsewhere."""

import copy

import pytest

from tunesmith.models.chat import end_of_turn_ids
from tunesmith.train.masking import (
    IGNORE_INDEX,
    LabelError,
    check_labels,
    tokenize_conversation,
)

SYSTEM = {"role": "system", "content": "You are Juno. Be brief."}
# The same ChatML layout as the tiny model's template, but without {% generation %} markers, as many real
# models ship (Qwen3's template has none).
NO_MARKERS = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'"
    " + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def trained_ids(ex):
    return [i for i, label in zip(ex.input_ids, ex.labels, strict=True) if label != IGNORE_INDEX]


def ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


@pytest.fixture
def eot(tiny_tokenizer):
    return end_of_turn_ids(tiny_tokenizer)


def test_single_turn_trains_answer_and_end_of_turn_only(tiny_tokenizer, eot):
    msgs = [
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "It ships today."},
    ]
    ex = tokenize_conversation(tiny_tokenizer, msgs, eot_ids=eot)
    assert trained_ids(ex) == ids(tiny_tokenizer, "It ships today.<|im_end|>")
    assert ex.labels[-1] == IGNORE_INDEX  # the newline after <|im_end|> is not trained
    assert ex.turns_ending_in_eot == 1


def test_every_assistant_turn_is_trained_in_multi_turn_with_system(tiny_tokenizer, eot):
    msgs = [
        SYSTEM,
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Refund?"},
        {"role": "assistant", "content": "5-7 days."},
    ]
    ex = tokenize_conversation(tiny_tokenizer, msgs, eot_ids=eot)
    assert trained_ids(ex) == ids(tiny_tokenizer, "Hello!<|im_end|>") + ids(tiny_tokenizer, "5-7 days.<|im_end|>")
    assert ex.role_trained["system"] == 0 and ex.role_trained["user"] == 0 and ex.role_tokens["system"] > 0
    # Labels are the input ids themselves where trained (the model shifts them).
    assert all(lb in (IGNORE_INDEX, i) for i, lb in zip(ex.input_ids, ex.labels, strict=True))


def test_weight_zero_turn_is_not_trained(tiny_tokenizer, eot):
    msgs = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Wrong answer.", "weight": 0},
        {"role": "user", "content": "Again"},
        {"role": "assistant", "content": "Right answer.", "weight": 1},
    ]
    ex = tokenize_conversation(tiny_tokenizer, msgs, eot_ids=eot)
    assert trained_ids(ex) == ids(tiny_tokenizer, "Right answer.<|im_end|>")


def test_masks_match_generation_markers_and_work_without_them(tiny_tokenizer, eot):
    msgs = [
        SYSTEM,
        {"role": "user", "content": "Reset my password"},
        {"role": "assistant", "content": "Tap Forgot password in the app."},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "Happy to help!"},
    ]
    hf = tiny_tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    hf_trained = [i for i, m in zip(hf["input_ids"], hf["assistant_masks"], strict=True) if m]
    ours = tokenize_conversation(tiny_tokenizer, msgs, eot_ids=eot)
    assert trained_ids(ours) == hf_trained

    plain = copy.deepcopy(tiny_tokenizer)
    plain.chat_template = NO_MARKERS
    without_markers = tokenize_conversation(plain, msgs, eot_ids=eot)
    assert without_markers.input_ids == ours.input_ids and without_markers.labels == ours.labels


def test_template_that_is_not_prefix_preserving_is_refused(tiny_tokenizer, eot):
    bad = copy.deepcopy(tiny_tokenizer)
    bad.chat_template = "{{ messages | length }}" + NO_MARKERS  # the header changes with every turn
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    with pytest.raises(LabelError, match="not prefix-preserving"):
        tokenize_conversation(bad, msgs, eot_ids=eot)


def test_template_that_never_trains_end_of_turn_is_refused(tiny_tokenizer, eot):
    bad = copy.deepcopy(tiny_tokenizer)
    bad.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    ex = tokenize_conversation(bad, msgs, eot_ids=eot)
    with pytest.raises(LabelError, match="end-of-turn token is never trained"):
        check_labels([ex], ["a.jsonl:1"])


def test_example_without_trained_token_is_refused_with_its_line(tiny_tokenizer, eot):
    good = tokenize_conversation(
        tiny_tokenizer, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], eot_ids=eot
    )
    empty = tokenize_conversation(
        tiny_tokenizer,
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0}],
        eot_ids=eot,
    )
    with pytest.raises(LabelError, match=r"1 example\(s\) have no trained token: data.jsonl:7"):
        check_labels([good, empty], ["data.jsonl:3", "data.jsonl:7"])
    report = check_labels([good], ["data.jsonl:3"])
    assert report.role_trained == {"assistant": 2} and report.turns_ending_in_eot == 1


def test_pad_right_pads_ids_labels_and_mask_on_the_right():
    from tunesmith.train.masking import IGNORE_INDEX, TokenizedExample, pad_right

    short = TokenizedExample(input_ids=[5, 6], labels=[IGNORE_INDEX, 6])
    long = TokenizedExample(input_ids=[7, 8, 9], labels=[IGNORE_INDEX, 8, 9])
    batch = pad_right([short, long], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 0], [7, 8, 9]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, IGNORE_INDEX], [IGNORE_INDEX, 8, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
