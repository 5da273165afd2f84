import pytest
import torch

from course_lib import runtime


@pytest.mark.parametrize("raw,expected", [("smoke", "smoke"), (" CPU ", "cpu"), ("gpu", "gpu")])
def test_budget_parsing(monkeypatch, raw, expected):
    monkeypatch.setenv("COURSE_BUDGET", raw)
    assert runtime.budget() == expected


def test_unset_budget_follows_the_machine(monkeypatch):
    monkeypatch.delenv("COURSE_BUDGET")
    assert runtime.budget() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_unknown_budget_says_what_to_use(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "fast")
    with pytest.raises(runtime.BudgetError, match="smoke, cpu, gpu"):
        runtime.budget()


def test_pick_follows_the_budget(monkeypatch):
    assert runtime.pick(smoke=1, cpu=2, gpu=3) == 1
    monkeypatch.setenv("COURSE_BUDGET", "gpu")
    assert runtime.pick(smoke=1, cpu=2, gpu=3) == 3
    assert runtime.pick(smoke=1, cpu=2, gpu=3, budget_name="cpu") == 2


def test_device_override(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "not-a-device")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        runtime.get_device()
    if not (torch.backends.mps.is_available()):
        monkeypatch.setenv("COURSE_DEVICE", "mps")
        with pytest.raises(ValueError, match="MPS is not available"):
            runtime.get_device()
    if torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", f"cuda:{torch.cuda.device_count()}")
        with pytest.raises(ValueError, match="numbered from 0"):
            runtime.get_device()


def test_seed_everything_repeats_draws():
    g1 = runtime.seed_everything(3)
    a = torch.randn(4), torch.randn(2, generator=g1)
    g2 = runtime.seed_everything(3)
    b = torch.randn(4), torch.randn(2, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "x"))
    assert runtime.cache_dir("faces") == tmp_path / "x" / "faces"
    assert (tmp_path / "x" / "faces").is_dir()
