"""storage: atomic writes, readable errors, cached evaluation networks, file digests."""
import hashlib

import pytest
import torch
from torch import nn

from course_lib.storage import atomic_save, cached_network, file_digest, safe_load


def test_safe_load_explains_a_missing_and_a_broken_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No file at"):
        safe_load(tmp_path / "nope.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="delete it and run again"):
        safe_load(tmp_path / "broken.pt")


def test_cached_network_trains_once_then_loads(tmp_path):
    calls = []

    def train():
        calls.append(1)
        net = nn.Linear(3, 2)
        return net, 0.97

    path = tmp_path / "net.pt"
    first, score = cached_network(path, lambda: nn.Linear(3, 2), train, {"width": 3})
    second, score2 = cached_network(path, lambda: nn.Linear(3, 2), train, {"width": 3})
    assert calls == [1] and score == score2 == 0.97
    assert torch.equal(first.weight, second.weight) and not second.training


def test_cached_network_retrains_over_a_stale_or_broken_file(tmp_path):
    path = tmp_path / "net.pt"
    atomic_save({"state": nn.Linear(5, 5).state_dict(), "accuracy": 0.5}, path)  # another layout
    net, score = cached_network(path, lambda: nn.Linear(3, 2), lambda: (nn.Linear(3, 2), 0.9), {})
    assert score == 0.9 and net.weight.shape == (2, 3)
    path.write_bytes(b"garbage")
    net, score = cached_network(path, lambda: nn.Linear(3, 2), lambda: (nn.Linear(3, 2), 0.8), {})
    assert score == 0.8 and safe_load(path)["accuracy"] == 0.8


def test_file_digest_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 5000  # more than one 1 MiB block
    (tmp_path / "f").write_bytes(data)
    assert file_digest(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert file_digest(tmp_path / "f", "sha1") == hashlib.sha1(data).hexdigest()


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = atomic_save({"x": 1}, tmp_path / "a.pt")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600: caches may be shared


def test_cached_network_retrains_over_a_foreign_object(tmp_path):
    path = tmp_path / "net.pt"
    for foreign in (torch.zeros(3), [1, 2], {"state": [1]}):
        atomic_save(foreign, path)
        net, score = cached_network(path, lambda: nn.Linear(3, 2), lambda: (nn.Linear(3, 2), 0.7), {})
        assert score == 0.7 and safe_load(path)["accuracy"] == 0.7


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot be saved")


def test_atomic_save_leaves_the_old_file_and_no_temporary_when_a_write_fails(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"x": 1}, path)
    good = path.read_bytes()
    with pytest.raises(RuntimeError, match="cannot be saved"):
        atomic_save({"x": _Unpicklable()}, path)
    assert path.read_bytes() == good
    assert list(tmp_path.glob(".ckpt.pt.*.tmp")) == []
