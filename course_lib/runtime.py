"""Where the code runs and at what scale: device, seeds, the budget switch, the cache folder.

Every notebook and command reads the budget from one place, ``COURSE_BUDGET``:

* ``smoke``: CI and nbval; tiny widths and a few steps, every code path runs in seconds.
* ``cpu``: a student without a GPU; 32x32 images and narrow nets, the real result in minutes.
* ``gpu``: Colab or a lab GPU; the papers' small-scale settings at 64x64.

Unset, it is ``gpu`` when CUDA is available, else ``cpu``.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import torch

BUDGETS = ("smoke", "cpu", "gpu")
T = TypeVar("T")


class BudgetError(ValueError):
    """COURSE_BUDGET (or a --budget flag) named something that is not a budget."""


def parse_budget(name: str | None) -> str:
    """Normalise a budget name (' CPU ' -> 'cpu'); None means the machine's default."""
    if name is None or not str(name).strip():
        return "gpu" if torch.cuda.is_available() else "cpu"
    clean = str(name).strip().lower()
    if clean not in BUDGETS:
        raise BudgetError(
            f"Unknown budget {name!r}. Use one of {', '.join(BUDGETS)} "
            "(for example COURSE_BUDGET=smoke, or --budget cpu)."
        )
    return clean


def budget() -> str:
    """The budget in force: COURSE_BUDGET if set, else gpu with CUDA and cpu without."""
    return parse_budget(os.environ.get("COURSE_BUDGET"))


def pick(smoke: T, cpu: T, gpu: T, *, budget_name: str | None = None) -> T:
    """Choose the value for the budget in force (or for ``budget_name``)."""
    name = parse_budget(budget_name) if budget_name is not None else budget()
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[name]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)  # absent from some older or non-Apple builds
    return mps is not None and mps.is_available()


def get_device() -> torch.device:
    """cuda > mps > cpu; COURSE_DEVICE (e.g. 'cpu', 'cuda:1') overrides."""
    wanted = os.environ.get("COURSE_DEVICE", "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"COURSE_DEVICE={wanted!r} is not a device name ({err}); try 'cpu' or 'cuda'.") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"COURSE_DEVICE={wanted!r} but CUDA is not available here; unset it or use 'cpu'.")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"COURSE_DEVICE={wanted!r} but this machine has {torch.cuda.device_count()} CUDA "
                             f"device(s), numbered from 0; use 'cuda' or 'cuda:0'.")
        if device.type == "mps" and not _mps_available():
            raise ValueError(f"COURSE_DEVICE={wanted!r} but Apple's MPS is not available here; unset it or use 'cpu'.")
        if device.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"COURSE_DEVICE={wanted!r}: the course runs on 'cpu', 'cuda' or 'mps'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX), read from /proc/cpuinfo.

    There, convolutions under bf16 autocast run about 1.6x faster than in float32; elsewhere bf16 is
    emulated and slower, so the cpu budget uses it only where this says True (Linux; False elsewhere).
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_budget_bf16(budget_name: str, device: torch.device) -> bool:
    """Whether a face recipe trains under bf16 autocast (with channels_last): only at the cpu budget, on
    a CPU, and where that CPU computes bf16 natively (``cpu_has_native_bf16``)."""
    return budget_name == "cpu" and device.type == "cpu" and cpu_has_native_bf16()


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded the same.

    Training code draws from explicit torch generators; seeding the global RNGs here only makes
    layer initialisation and any third-party randomness repeatable too.
    """
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # numpy is optional for the core
        pass
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def cache_dir(*parts: str) -> Path:
    """A folder for cached renders, features and trained metric networks (COURSE_CACHE overrides)."""
    root = Path(os.environ.get("COURSE_CACHE") or Path.home() / ".cache" / "course_lib")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(*parts: str) -> Path:
    """Where data scripts put real datasets (COURSE_DATA overrides; default under the cache)."""
    root = Path(os.environ.get("COURSE_DATA") or cache_dir("data"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_dir(*parts: str) -> Path:
    """Where notebooks and commands write figures (COURSE_OUT overrides; default ./runs)."""
    path = Path(os.environ.get("COURSE_OUT") or "runs").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def describe() -> str:
    """One line for a notebook's setup cell: torch version, device, budget, threads."""
    device = get_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return (
        f"torch {torch.__version__} | device: {name} | budget: {budget()} "
        f"| CPU threads: {torch.get_num_threads()}"
    )
