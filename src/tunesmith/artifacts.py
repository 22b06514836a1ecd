"""Artifact directories and their manifests (DESIGN.md, "Artifacts").

Every stage writes one directory, and never leaves it half-written: it writes into a temporary sibling and renames
it into place when everything succeeded. The manifest records what made the directory and a sha256 of every input
and output, so any figure can be traced back to the data behind it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import tunesmith
from tunesmith.errors import DataError, OutputError
from tunesmith.manifests import manifest_type

LIBRARIES = ("torch", "transformers", "tokenizers", "peft", "trl", "datasets", "accelerate")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"tunesmith": tunesmith.__version__, "python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _hash_tree(path: Path) -> dict[str, str]:
    if path.is_file():
        return {path.name: sha256_file(path)}
    return {
        str(p.relative_to(path)): sha256_file(p)
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Write through a temporary sibling and a rename, so a reader never sees half a file and a failed write
    leaves the old one. `mode` defaults to the usual umask permissions (mkstemp alone makes owner-only files,
    and outputs are meant to be shared)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def finite(obj: Any) -> Any:
    """`obj` with every NaN, Infinity and -Infinity replaced by None, the null that JSON has.

    A figure can be undefined (a mean over a failed metric, a perplexity that overflowed); Python's json would write
    it as a bare `NaN` or `Infinity`, which no strict JSON reader accepts. The readers of results.json read the null
    back as NaN (evals/results.py)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, **options: Any) -> str:
    """Strict JSON, as every file tunesmith writes holds it: undefined numbers become null (`finite`), and
    allow_nan=False makes one that slipped through (a numpy float a `default` turned back) an error, not a file."""
    return json.dumps(finite(obj), allow_nan=False, ensure_ascii=False, **options)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, dumps(obj, indent=2, default=str) + "\n")


def write_manifest(
    out_dir: str | Path,
    *,
    stage: str,
    config: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
    counts: dict[str, Any] | None = None,
    started_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `manifest.json` into `out_dir`, hashing every file already there as an output."""
    out_dir = Path(out_dir)
    manifest: dict[str, Any] = {
        "stage": stage,
        "command": sys.argv,
        "config": config or {},
        "versions": library_versions(),
        "inputs": [],
        "outputs": _hash_tree(out_dir),
        "counts": counts or {},
        "started_at": (started_at or datetime.now(UTC)).isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            manifest["inputs"].append({"path": str(p), "files": _hash_tree(p)})
        elif p.exists():
            manifest["inputs"].append({"path": str(p), "sha256": sha256_file(p)})
        else:  # a Hub id, for instance
            manifest["inputs"].append({"path": str(p), "sha256": None})
    if extra:
        manifest.update(extra)
    manifest_type(stage).model_validate(manifest)  # the readers' contract (manifests.py), checked at the writer
    write_json_atomic(out_dir / "manifest.json", manifest)
    return manifest


OVERWRITE_HINT = "choose another path, move it away, or pass --overwrite to replace it"


def is_artifact(path: Path) -> bool:
    """A directory tunesmith wrote: it holds a manifest.json that names its stage."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "stage" in manifest


def check_output(final: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = ()) -> None:
    """Refuse an output that would destroy what tunesmith did not write, or the inputs being read.

    Called before the work starts (so a long command fails at once) and again by `atomic_dir`. An empty directory,
    or a tunesmith artifact, may be replaced; anything else needs `overwrite`. No input may lie inside the output,
    even with `overwrite`: replacing the output would delete it.
    """
    final = Path(final)
    target = final.resolve()
    for item in inputs:
        p = Path(item)
        if not p.exists():
            continue
        rp = p.resolve()
        if rp == target or target in rp.parents:
            raise OutputError(
                f"the output {final} holds the input {p}: writing it would delete the input",
                hint="choose an output path outside the inputs",
                file=final,
            )
    if not final.exists() and not final.is_symlink():
        return
    if final.is_dir() and not final.is_symlink() and (is_artifact(final) or not any(final.iterdir())):
        return
    if not overwrite:
        what = "a file" if final.is_file() else "a directory not written by tunesmith (no manifest.json)"
        raise OutputError(f"the output {final} exists and is {what}", hint=OVERWRITE_HINT, file=final)


@contextlib.contextmanager
def _writable(final: Path) -> Iterator[None]:
    """Turn an OS refusal (read-only parent, a file where a folder should be) into an error the user can act on."""
    try:
        yield
    except OSError as e:
        raise OutputError(
            f"cannot write {final}: {e.strerror or e}",
            hint="check that the parent directory exists and is writable, or choose another path",
            file=final,
        ) from None


@contextlib.contextmanager
def atomic_dir(final: str | Path, *, overwrite: bool = False, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary directory that replaces `final` only if the block finishes without an exception.

    `final` may be replaced when it is a tunesmith artifact or empty; anything else only with `overwrite`
    (see `check_output`). The previous version stays in place until the new one is complete.
    """
    final = Path(final)
    check_output(final, overwrite=overwrite, inputs=inputs)
    with _writable(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it owner-only; the final directory is meant to be shared
    try:
        yield tmp
        check_output(final, overwrite=overwrite, inputs=inputs)  # it may have appeared while we worked
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        with _writable(final):
            replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(tmp: Path, final: Path) -> None:
    """Put the finished directory `tmp` (a sibling of `final`) in place of `final`.

    The previous `final` steps aside first (os.replace cannot put a folder onto a non-empty one) and is removed
    only once the new one is in place. Callers decide whether `final` may be replaced (`check_output`).
    """
    if final.exists() or final.is_symlink():
        old = final.with_name(f".{final.name}.old")
        _remove(old)
        os.replace(final, old)
        os.replace(tmp, final)
        _remove(old)
    else:
        os.replace(tmp, final)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_file_checked(
    path: str | Path, text_lines: Iterable[str], *, overwrite: bool = False, inputs: Sequence[str | Path] = ()
) -> None:
    """Write a single-file output (an export) atomically, under the same rules as `atomic_dir`.

    A file cannot say who wrote it, so an existing one is replaced only with `overwrite`; a directory never is.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"the output {path} is a directory", hint="pass the path of a file", file=path)
    for item in inputs:
        p = Path(item).resolve()
        if path.resolve() == p or p in path.resolve().parents:
            raise OutputError(
                f"the output {path} is inside the input {item}", hint="write it outside the dataset", file=path
            )
    if path.exists() and not overwrite:
        raise OutputError(f"the output {path} exists", hint=OVERWRITE_HINT, file=path)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for line in text_lines:
                f.write(line)
        os.chmod(tmp, 0o666 & ~_umask())
        with _writable(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line; a line that is not JSON is a DataError at its file:line."""
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except (ValueError, RecursionError) as e:
                    raise DataError(
                        f"invalid JSON: {getattr(e, 'msg', type(e).__name__)}",
                        hint="this file should be written by tunesmith; prepare it again",
                        file=path,
                        line=n,
                    ) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text: {e.reason}", file=path, hint="prepare it again") from None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_jsonl(path)]


def write_jsonl(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """One strict JSON object a line (`dumps`): a dataset or a log that any JSON reader, and a vendor's upload,
    accepts."""
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(dumps(row) + "\n")
