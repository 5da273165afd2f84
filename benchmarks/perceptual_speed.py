"""Speed: Johnson et al.'s transform net (one pass) against Gatys et al.'s 500 L-BFGS iterations.

    flock /tmp/course_cpu.lock .venv/bin/python benchmarks/perceptual_speed.py [--sizes 256 1024]

Both at 256x256 and 1024x1024 in the same run, on this machine's device, with the loss network that
course_lib picks (the baseline's cost is mostly that network's forward and backward passes; the
transform net does not use it). The transform net is the paper's (width 32, 5 residual blocks, 1.68M
parameters, instance norm); its speed does not depend on its weights, so it is not trained here.

* transform net: mean of 5 passes after a warm-up (2 at 1024), batch of one image, no autograd;
* baseline at 256: all 500 L-BFGS iterations timed (content image as the start);
* baseline at 1024: **timed over 20 iterations and extrapolated to 500** (x25), as the issue asks: a
  full run would take tens of minutes on a CPU. L-BFGS iterations cost about the same throughout
  (one function evaluation each, no line search), so the extrapolation is linear.

Writes benchmarks/results/perceptual_speed.json and .md. The paper (Titan X GPU, VGG16): 256 px 15 ms
vs 15.86 s (about 1000x); 1024 px 0.21 s vs 214.4 s.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
try:
    import course_lib  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE.parent))

from course_lib import runtime  # noqa: E402
from course_lib.models.loss_network import load_loss_network  # noqa: E402
from course_lib.models.transform_net import TransformNet, TransformNetConfig, n_params  # noqa: E402
from course_lib.recipes import perceptual  # noqa: E402

FULL = perceptual.GATYS_ITERATIONS
TIMED_AT_1024 = 20


def measure(size: int, L, crit, progress: bool) -> dict:
    device = next(L.parameters()).device
    content = perceptual.big_photo(size, "flower")  # held-out photo, longer side = size
    content = torch.nn.functional.interpolate(content[None], size=(size, size), mode="bilinear",
                                              align_corners=False).clamp(-1, 1).to(device)  # square, as the paper
    torch.manual_seed(0)
    net = TransformNet(TransformNetConfig()).to(device).eval()
    fast_ms = perceptual.ms_per_image(net, content, repeats=5 if size <= 512 else 2)
    iterations = FULL if size <= 512 else TIMED_AT_1024
    _, info = perceptual.gatys(content, crit, iterations, progress=progress)
    per_iteration_ms = info["seconds"] * 1000 / info["iterations"]
    baseline_ms = per_iteration_ms * FULL
    return {"size": size, "transform_net_ms": round(fast_ms, 1),
            "baseline_iterations_timed": info["iterations"], "baseline_function_evaluations": info["function_evaluations"],
            "baseline_ms_per_iteration": round(per_iteration_ms, 1),
            "baseline_500_ms": round(baseline_ms, 1), "extrapolated": info["iterations"] < FULL,
            "speedup": round(baseline_ms / fast_ms, 1), "transform_net_params": n_params(net)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    L = load_loss_network()
    device = next(L.parameters()).device
    crit = perceptual.StyleCriterion(L, perceptual.style_image("immunohistochemistry", 256))
    rows = [measure(size, L, crit, not args.quiet) for size in args.sizes]
    result = {
        "what": "ms per image: transform net (one pass) vs Gatys et al. (500 L-BFGS iterations), same run",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type} ({platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "loss_network": L.description,
        "date": _dt.date.today().isoformat(), "note": f"1024 px baseline: {TIMED_AT_1024} iterations timed, "
        f"extrapolated linearly to {FULL}", "rows": rows, "describe": runtime.describe(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "perceptual_speed.json").write_text(json.dumps(result, indent=2))
    lines = [f"# Perceptual losses: speed ({result['date']}, {result['device']}, {result['torch_threads']} threads)", "",
             f"Loss network: {L.description}.", "",
             "| size | transform net (ms) | baseline: iterations timed | baseline ms / iteration | baseline, 500 iterations (ms) | speedup |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        note = " (extrapolated)" if r["extrapolated"] else ""
        lines.append(f"| {r['size']} | {r['transform_net_ms']} | {r['baseline_iterations_timed']} "
                     f"({r['baseline_function_evaluations']} evaluations) | {r['baseline_ms_per_iteration']} | "
                     f"{r['baseline_500_ms']}{note} | {r['speedup']}x |")
    lines += ["", result["note"] + "."]
    (out / "perceptual_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
