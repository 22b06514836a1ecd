"""Export: the merged model computes what the adapter model computes, and loads without peft."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tunesmith.errors import TunesmithError
from tunesmith.train.export import ADAPTER_FILES, export_adapter, export_merged, load_run

PROMPTS = [
    [{"role": "user", "content": "Where is my order?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do I reset my password?"}],
    [{"role": "user", "content": "Can I change the delivery address after paying for express shipping?"}],
]


def _make_run(root, tiny_model_dir, *, method="lora", revision=None):
    """A run directory as the recipe writes it, with a random (non-zero) LoRA so the adapter changes logits."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules="all-linear",
        init_lora_weights=False,  # random B: an identity adapter would make every comparison trivially pass
        use_dora=method == "dora",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, cfg)
    if method == "dora":  # DoRA starts with magnitudes equal to the weight norms: move them off that point too
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_magnitude_vector" in name:
                    p.mul_(1 + 0.1 * torch.randn_like(p))
    run = root / f"run-{method}"
    model.save_pretrained(run / "adapter")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run / "adapter")
    manifest = {
        "stage": "train",
        "method": method,
        "base_model": {"id": str(tiny_model_dir), "resolved": str(tiny_model_dir), "revision": revision},
        "dataset": {"dataset_hash": "d" * 64},
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def _batch(tok):
    texts = [tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in PROMPTS]
    tok.padding_side = "right"
    return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        out = model(**batch).logits
    mask = batch["attention_mask"].bool()
    return out[mask]  # real tokens only: (tokens, vocab)


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_merged_logits_equal_adapter_logits(tmp_path, tiny_model_dir, method):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = _make_run(tmp_path, tiny_model_dir, method=method)
    out = tmp_path / "merged"
    result = export_merged(run, out)
    assert result.kind == "merged" and result.out_dir == out

    tok = AutoTokenizer.from_pretrained(out)
    batch = _batch(tok)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    base_logits = _logits(base, batch)
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), run / "adapter"
    )
    adapter_logits = _logits(adapted, batch)
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert not hasattr(merged, "peft_config")
    merged_logits = _logits(merged, batch)

    diff = (merged_logits - adapter_logits).abs().max().item()
    effect = (adapter_logits - base_logits).abs().max().item()
    print(f"{method}: merged vs adapter max abs diff {diff:.2e}; adapter vs base {effect:.2e}")
    assert effect > 1e-2, "the adapter does not change the logits, so the comparison proves nothing"
    assert diff <= 1e-4


def test_merged_dir_is_a_plain_model_with_manifest(tmp_path, tiny_model_dir):
    run = _make_run(tmp_path, tiny_model_dir)
    out = tmp_path / "merged"
    export_merged(run, out)
    names = {p.name for p in out.iterdir()}
    assert "model.safetensors" in names
    assert {"config.json", "generation_config.json", "tokenizer_config.json", "manifest.json"} <= names
    assert not names & set(ADAPTER_FILES)
    assert not any(n.startswith(".") for n in names)  # no temporary leftovers
    assert not list(tmp_path.glob(".merged*"))  # the atomic temp dir is gone
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "export" and manifest["export"] == "merged"
    assert manifest["run"]["path"] == str(run.resolve())
    assert manifest["run"]["dataset"]["dataset_hash"] == "d" * 64
    assert manifest["base_model"]["resolved"] == str(tiny_model_dir)
    assert "model.safetensors" in manifest["outputs"]


def test_failed_merge_leaves_previous_export_in_place(tmp_path, tiny_model_dir):
    run = _make_run(tmp_path, tiny_model_dir)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["base_model"] = {"id": "models/gone", "resolved": str(tmp_path / "gone"), "revision": None}
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "merged"
    out.mkdir()
    (out / "keep.txt").write_text("previous export")
    (out / "manifest.json").write_text(json.dumps({"stage": "export"}))  # a previous tunesmith export
    with pytest.raises(TunesmithError, match="base model of the run is gone") as e:
        export_merged(run, out)
    assert str(tmp_path / "gone") in e.value.message and "--base" in e.value.hint
    assert (out / "keep.txt").read_text() == "previous export"
    export_merged(run, out, base=str(tiny_model_dir))  # --base fixes it
    assert (out / "model.safetensors").exists() and not (out / "keep.txt").exists()


def test_merge_refuses_a_folder_tunesmith_did_not_write(tmp_path, tiny_model_dir):
    run = _make_run(tmp_path, tiny_model_dir)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file")
    with pytest.raises(TunesmithError, match="not written by tunesmith"):
        export_merged(run, out)
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_adapter_export_pins_base_and_revision(tmp_path, tiny_model_dir):
    from peft import PeftConfig

    run = _make_run(tmp_path, tiny_model_dir, revision="0123abc")
    out = tmp_path / "adapter-out"
    result = export_adapter(run, out)
    assert result.base == str(tiny_model_dir)
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(tiny_model_dir)
    assert cfg["revision"] == "0123abc"
    assert PeftConfig.from_pretrained(out).revision == "0123abc"
    assert (out / "adapter_model.safetensors").read_bytes() == (run / "adapter/adapter_model.safetensors").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["export"] == "adapter"
    assert manifest["base_model"] == {"id": str(tiny_model_dir), "resolved": str(tiny_model_dir), "revision": "0123abc"}
    # --base overrides what the run recorded, e.g. the Hub id a local copy came from
    export_adapter(run, out, base="org/base-model")
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "org/base-model"


def test_full_fine_tune_exports_as_is_and_has_no_adapter(tmp_path, tiny_model_dir):
    run = tmp_path / "run-full"
    shutil.copytree(tiny_model_dir, run / "model")
    (run / "manifest.json").write_text(
        json.dumps({"method": "full", "base_model": {"id": "x", "resolved": "x", "revision": None}})
    )
    out = tmp_path / "full-out"
    result = export_merged(run, out)
    assert result.base is None
    assert (out / "model.safetensors").read_bytes() == (run / "model/model.safetensors").read_bytes()
    assert json.loads((out / "manifest.json").read_text())["note"] == "full fine-tune, copied as is"
    with pytest.raises(TunesmithError) as e:
        export_adapter(run, tmp_path / "adapter-out")
    assert e.value.exit_code == 2
    assert "full fine-tune" in e.value.message and "--merged" in e.value.hint
    assert not (tmp_path / "adapter-out").exists()


def test_missing_or_empty_run_dir_names_path_and_hint(tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(TunesmithError) as e:
        load_run(missing)
    assert str(missing) in str(e.value) and "tunesmith train" in e.value.hint
    assert e.value.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TunesmithError, match="holds no trained model") as e:
        export_merged(empty, tmp_path / "out")
    assert e.value.file == str(empty)
    assert not (tmp_path / "out").exists()


def test_cli_export_both_and_usage_error(tmp_path, tiny_model_dir):
    import typer
    from typer.testing import CliRunner

    from tunesmith.cli.export import export

    app = typer.Typer()
    app.command("export")(export)
    app.command("noop")(lambda: None)  # two commands, so typer keeps the subcommand name
    run = _make_run(tmp_path, tiny_model_dir)
    runner = CliRunner()
    res = runner.invoke(app, ["export", str(run), "--merged", str(tmp_path / "m"), "--adapter", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m/model.safetensors").exists() and (tmp_path / "a/adapter_config.json").exists()
    res = runner.invoke(app, ["export", str(run)])
    assert isinstance(res.exception, TunesmithError) and "--merged" in res.exception.message
