"""Writing files so that an interrupted write never leaves a half file behind.

Everything course_lib saves (checkpoints, cached renders, cached statistics, metrics.json) goes
through ``atomic_save`` or ``atomic_write_text``: write to a temporary file in the same folder, then
``os.replace`` it over the target. A crash mid-write leaves the previous good file in place.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

import torch


# What reading a file that is not ours (truncated, another program's, an older layout) raises from
# safe_load or from indexing into what it returned: a cache catches these and rebuilds.
FOREIGN_FILE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


def _atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the mode any new file would get, so a
        # shared cache or run folder stays readable by the others it is shared with.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save ``obj`` to ``path`` atomically; returns the path."""
    return _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return _atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """torch.load with ``weights_only=True`` and a clear message when the file is missing or broken."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No file at {path}. Check the path (or train first to create it).")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign files
        raise ValueError(
            f"Could not read {path} as a course_lib file ({type(err).__name__}: {err}). "
            "It may be truncated or from another program; delete it and run again to recreate it."
        ) from None


def cached_network(path: str | os.PathLike, build, train, settings: dict) -> tuple[torch.nn.Module, Any]:
    """A trained evaluation network and its held-out score, from ``path`` or trained once and saved there.

    ``build()`` makes an untrained network of the right shape; ``train()`` returns ``(network, score)``.
    An unreadable or stale file (another layout) is retrained and overwritten, never a crash.
    """
    path = Path(path)
    if path.is_file():
        try:
            state = safe_load(path)
            if isinstance(state, dict) and isinstance(state.get("state"), dict):  # not a tensor or list someone saved
                net = build()
                net.load_state_dict(state["state"])
                return net.eval(), state["accuracy"]
        except (*FOREIGN_FILE_ERRORS, RuntimeError):  # RuntimeError: load_state_dict of another layout
            pass  # retrain below
    net, score = train()
    atomic_save({"state": net.state_dict(), "accuracy": score, "settings": settings}, path)
    return net.eval(), score


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks (weights files are hundreds of MB)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
