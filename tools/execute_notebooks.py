"""Execute lecture notebooks at the cpu budget (gpu where CUDA is present) and save them with outputs.

    python tools/execute_notebooks.py notebooks/01_gan_basics_anime.ipynb [...]

Used by `make outputs`. Each notebook runs in a fresh kernel with a fresh output folder (so nothing
is loaded from an earlier run), ``runs/outputs/<notebook>/`` (git-ignored), where its figures and
files stay for a look after the run; PNG outputs are downscaled and re-encoded so that every committed
notebook stays under 2 MB and a reader on the web sees real results before running anything.
The wall time of each notebook is printed, with the budget and the device.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import shutil
import time
from pathlib import Path

MAX_BYTES = 2_000_000


def shrink_png(data: str, max_width: int) -> str:
    """Downscale a base64 PNG to at most max_width pixels wide and quantise it to 256 colours."""
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    if img.width > max_width:
        img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    img = img.quantize(256, method=Image.Quantize.MEDIANCUT)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


def shrink_notebook(nb, max_width: int) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                data["image/png"] = shrink_png(data["image/png"], max_width)


def main() -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--budget", default=None, help="default: gpu with CUDA, else cpu")
    parser.add_argument("--timeout", type=int, default=3600, help="per cell, seconds")
    parser.add_argument("--no-save", action="store_true", help="only time them (do not write the notebooks)")
    parser.add_argument("--out-root", default="runs/outputs", help="each notebook's figures go to OUT_ROOT/<name>/")
    parser.add_argument("--record", default="benchmarks/results/notebook_times.json",
                        help="JSON file the wall times are merged into")
    args = parser.parse_args()

    import torch

    budget = args.budget or ("gpu" if torch.cuda.is_available() else "cpu")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    status = 0
    for path in map(Path, args.notebooks):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:  # start from a clean page
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        out = (Path(args.out_root) / path.stem).resolve()  # absolute: kernels run in notebooks/
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        env = {"COURSE_BUDGET": budget, "COURSE_OUT": str(out)}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        t0 = time.perf_counter()
        try:
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except CellExecutionError as err:  # keep what ran, to read the failure in context
            failed = out / f"{path.stem}.failed.ipynb"
            nbformat.write(nb, failed)
            print(f"{path}: FAILED after {time.perf_counter() - t0:.0f} s; executed part in {failed}\n{err}")
            status = 1
            continue
        finally:
            for k, v in old.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        seconds = time.perf_counter() - t0
        record(args.record, path.stem, budget, device, seconds)
        if args.no_save:
            print(f"{path}: {seconds:.0f} s at budget {budget} on {device}")
            continue
        for width in (900, 700, 500):
            shrink_notebook(nb, width)
            text = nbformat.writes(nb)
            if len(text.encode()) < MAX_BYTES:
                break
        path.write_text(text)
        print(f"{path}: {seconds:.0f} s at budget {budget} on {device}; {len(text.encode()) / 1e6:.2f} MB")
    return status


def record(file: str, name: str, budget: str, device: str, seconds: float) -> None:
    """Merge one notebook's wall time into the results table (benchmarks/results/notebook_times.json)."""
    import datetime
    import json

    path = Path(file)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = json.loads(path.read_text()) if path.is_file() else {}
    table.setdefault(name, {})[budget] = {
        "seconds": round(seconds, 1), "device": device, "torch_threads": __import__("torch").get_num_threads(),
        "date": datetime.date.today().isoformat(),
    }
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
