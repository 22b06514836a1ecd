"""The labelled-positions loss: the same value and gradients as the model's own loss, and TRL's path where it can't."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from tunesmith.train import lm_loss
from tunesmith.train.lm_loss import labelled_loss, lm_parts


@pytest.fixture()
def model(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)


def batch(vocab: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # right padding
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :4] = -100  # the prompt
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("chunked", [False, True])
def test_matches_the_models_own_loss_and_gradients(model, monkeypatch, chunked):
    if chunked:  # force TRL's chunked kernel, the path for large vocabularies
        monkeypatch.setattr(lm_loss, "LOGITS_LIMIT", 0)
    inputs = batch(model.config.vocab_size)
    reference = model(**inputs, use_cache=False).loss  # transformers' mean over the labelled positions
    reference.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    loss, count, correct = labelled_loss(model, *lm_parts(model), inputs)
    loss.backward()
    assert int(count) == int((inputs["labels"][:, 1:] != -100).sum())
    assert 0 <= int(correct) <= int(count)
    assert loss.item() == pytest.approx(reference.item(), abs=1e-6)
    assert all(torch.allclose(p.grad, expected[n], atol=1e-6) for n, p in model.named_parameters())


def test_divides_by_the_whole_batchs_count(model):
    inputs = batch(model.config.vocab_size)
    mean, count, _ = labelled_loss(model, *lm_parts(model), inputs)
    scaled, _, _ = labelled_loss(model, *lm_parts(model), inputs, num_items_in_batch=2 * count)
    assert scaled.item() == pytest.approx(mean.item() / 2, rel=1e-6)


def test_keeps_trls_path_where_the_head_is_not_plain(model):
    assert lm_parts(get_peft_model(model, LoraConfig(target_modules=["q_proj"]))) is not None  # head untouched
    with_head = AutoModelForCausalLM.from_config(model.config)
    assert lm_parts(get_peft_model(with_head, LoraConfig(target_modules=["lm_head"]))) is None
    for field, value in (("final_logit_softcapping", 30.0), ("logits_scaling", 8.0)):  # Gemma, Granite
        changed = AutoModelForCausalLM.from_config(model.config)
        setattr(changed.config, field, value)
        assert lm_parts(changed) is None


def test_gives_way_when_the_decoder_cuts_its_hidden_states(model):
    """Gemma 4's decoder honours logits_to_keep itself: the loss must come from TRL's path, not a misaligned one."""
    decoder, head = lm_parts(model)
    cut = decoder.register_forward_hook(lambda m, a, out: type(out)(last_hidden_state=out[0][:, -1:]))
    try:
        assert labelled_loss(model, decoder, head, batch(model.config.vocab_size)) is None
    finally:
        cut.remove()
