"""Import a GGUF model (llama.cpp, Ollama) into a plain transformers folder that every stage loads.

transformers reads GGUF files with the `gguf` package and dequantises them to float tensors, but refuses to
`save_pretrained` a model loaded that way ("quantized with gguf and is not serializable"), and reading the GGUF
again costs every stage ~20 s. So we load it once, move the weights into a fresh model of the same class
(built on the meta device, so nothing is initialised twice), and save that with its tokenizer and chat template.
The folder then behaves like any `save_pretrained` folder: offline, safetensors, no `gguf` needed to read it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tunesmith.artifacts import atomic_dir, sha256_file, write_manifest
from tunesmith.errors import ModelError
from tunesmith.models.chat import ready_for_chat


def gguf_architecture(path: Path) -> str:
    """The `general.architecture` field of a GGUF file, read from its header without loading the tensors."""
    try:
        from gguf import GGUFReader
    except ImportError:  # pragma: no cover - gguf is a dependency
        raise ModelError("reading GGUF files needs the `gguf` package", hint="pip install gguf") from None
    try:
        reader = GGUFReader(str(path))
        field = reader.fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except (KeyError, ValueError, IndexError, OSError) as e:
        raise ModelError(
            f"{path} is not a readable GGUF file: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
            hint="pass a .gguf file written by llama.cpp's convert script or pulled by Ollama",
        ) from None


def supported_architectures() -> list[str]:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer"))


def import_gguf(gguf_file: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write `out/` (config, model.safetensors, tokenizer, chat template, manifest.json) from one GGUF file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    src = Path(gguf_file).expanduser().resolve()
    out = Path(out)
    if not src.is_file():
        raise ModelError(f"GGUF file not found: {src}", hint="pass the path of a .gguf file")
    arch = gguf_architecture(src)
    if arch not in supported_architectures():
        raise ModelError(
            f"{src.name}: transformers cannot read the GGUF architecture '{arch}'",
            hint="supported GGUF architectures: " + ", ".join(supported_architectures()),
        )
    if out.exists() and not overwrite and not (out / "manifest.json").exists():
        raise ModelError(f"{out} exists and was not written by tunesmith", hint="choose another --out")
    started = datetime.now(UTC)
    verbosity = hf_logging.get_verbosity()
    # the dequantisation progress bar and GGUF notices, once per import
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise ModelError(f"cannot read {src.name}: {str(e).splitlines()[0]}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantised floats now; the saved folder is plain
    with torch.device("meta"):
        fresh = type(loaded)(config)
    fresh.load_state_dict(loaded.state_dict(), assign=True, strict=True)
    fresh.tie_weights()
    fresh.generation_config = loaded.generation_config
    ready_for_chat(
        tokenizer,
        ModelError(
            f"{src.name} has no chat template in its metadata",
            hint="tunesmith trains chat models; use an instruct GGUF (its tokenizer.chat_template field)",
        ),
    )
    with atomic_dir(out) as tmp:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_manifest(
            tmp,
            stage="model-import",
            config={"gguf_file": str(src), "architecture": arch},
            inputs=[src],
            counts={"parameters": sum(p.numel() for p in fresh.parameters())},
            started_at=started,
        )
    return out


def cached_import(gguf_file: Path, cache_root: Path) -> Path:
    """The imported folder for `gguf_file` under `cache_root`, keyed by the file's content; imported once."""
    digest = sha256_file(gguf_file)[:12]
    target = cache_root / f"{gguf_file.stem}-{digest}"
    if not (target / "config.json").exists():
        import_gguf(gguf_file, target, overwrite=True)
    return target
