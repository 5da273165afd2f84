"""Lecture 01's DCGAN at the cpu budget's scale (32x32 faces, its updates), and variants of it, measured.

    python benchmarks/dcgan_variants.py base='{}' g64='{"g_width": 64}' --out /tmp/variants.jsonl
    python benchmarks/dcgan_variants.py --table /tmp/variants.jsonl [more.jsonl ...]   # the markdown table

Each NAME=JSON overrides the cpu settings of ``course_lib.recipes.dcgan`` (keys below, in ``BASE``),
trains on the machine's device (COURSE_DEVICE overrides) and, after 3,000, 5,000 and 6,000 updates,
measures lecture 01's FD (the face-feature network's space, 2,000 samples, ``FaceEvaluator`` at the cpu
budget) divided by the blurred-real baseline's, for the raw G and for moving averages of G with
several decays (the recipe keeps one, 0.99 at cpu), plus the attribute gaps and the memorisation check.
One JSON line per measurement is appended to ``--out`` as soon as it exists, so a run cut short keeps
what it measured; start several processes on one GPU to sweep in parallel. It is the same network,
data and loss as the recipe, but its own loop over ``Trainer``: a variant may change the group size of
D's minibatch standard deviation (``mbstd_group``, Karras et al. 2018; 0 for none; rows recorded before
it was in the recipe say ``"batch"`` where it was taken over the whole batch), add spectral norm
(``spectral_norm``, Miyato et al. 2018), or R1 on D at another strength (``r1_gamma``, 0 for none;
``r1_every``, Mescheder et al. 2018), or a G whose last layer gives half-width features at full size and
a 3x3 convolution to RGB (``g_refine``), or upsample in G by nearest-neighbour resizing and a 3x3
convolution instead of transposed convolutions (``g_upsample="nearest"``, Odena et al. 2016), or give G
and D different learning rates; ``objective="wgan-gp"`` trains lecture 05's WGAN-GP on faces instead
(its cpu settings, in ``WGAN_GP``), where ``gp_every`` and ``drift`` are ``WGANGPObjective``'s
(lazy penalty, ProGAN's drift term). ``amp`` and ``channels_last`` left at None are the Trainer's
defaults (on with CUDA, off on a CPU): to match the cpu recipe on a CPU with native bf16, pass
``"amp": true, "channels_last": true``.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import torch
from torch import nn

from course_lib import evaluation
from course_lib.metrics.faces import FaceEvaluator
from course_lib.models import dcgan
from course_lib.recipes import dcgan as dcgan_recipe, wgan as wgan_recipe
from course_lib.objectives import GANObjective, WGANGPObjective
from course_lib.registry import dataset
from course_lib.runtime import get_device
from course_lib.training import TensorBatches, Trainer, ema_update, linear_lr_decay, refresh_batchnorm

_DC, _GP = dcgan_recipe.settings("cpu"), wgan_recipe.face_settings("cpu")  # the sizes come from the recipes
BASE = dict(g_width=_DC["g_width"], d_width=_DC["d_width"], steps=_DC["steps"], batch_size=_DC["batch_size"],
            n_train=_DC["n_train"], lr_g=_DC["lr"], lr_d=_DC["lr"], betas=[0.5, 0.999],
            mbstd_group=_DC["mbstd_group"], seed=0, amp=None, channels_last=None,
            lr_decay_from=_DC["lr_decay_from"], objective="gan", n_critic=1, d_norm="batch", gp_weight=10.0,
            spectral_norm=False, g_upsample="transposed", r1_gamma=_DC["r1_gamma"], r1_every=_DC["r1_every"],
            g_refine=False, gp_every=1, drift=0.0)
# objective "wgan-gp" starts from lecture 05's cpu face settings (``recipes.wgan``) instead; overrides still apply
WGAN_GP = dict(objective="wgan-gp", n_critic=_GP["n_critic"], d_norm="none", g_width=_GP["width"],
               d_width=_GP["d_width"], batch_size=_GP["batch_size"], lr_g=_GP["lr"], lr_d=_GP["lr"],
               betas=list(_GP["betas"]), steps=_GP["steps"], lr_decay_from=_GP["lr_decay_from"], r1_gamma=0.0,
               mbstd_group=_GP["mbstd_group"], gp_every=_GP["gp_every"], drift=_GP["drift"])
# rows recorded before a setting existed ran without it
LEGACY = dict(r1_gamma=0.0, r1_every=1, g_refine=False, lr_decay_from=None, gp_every=1, drift=0.0)
MARKS = (3000, 5000, 6000, 12_000, 24_000)
EMA_DECAYS = (0.99, 0.995, 0.998, 0.999)


def recipe_settings(objective: str) -> dict:
    """The cpu recipe a variant starts from: lecture 01's DCGAN, or lecture 05's WGAN-GP on faces."""
    return {**BASE, **(WGAN_GP if objective == "wgan-gp" else {})}


def build(s: dict) -> tuple[nn.Module, nn.Module]:
    cfg = dcgan.DCGANConfig(image_size=32, g_width=s["g_width"], d_width=s["d_width"], batch_size=s["batch_size"],
                            d_norm=s["d_norm"], mbstd_group=s["mbstd_group"])
    torch.manual_seed(s["seed"])
    G, D = dcgan.build(cfg)
    if s["g_upsample"] == "nearest":  # resize-convolution (Odena et al. 2016): no checkerboard by construction
        for i, m in enumerate(G.net):
            if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2):
                G.net[i] = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                         nn.Conv2d(m.in_channels, m.out_channels, 3, 1, 1, bias=m.bias is not None))
                dcgan.init_dcgan_weights(G.net[i][1])
    if s["g_refine"]:  # the last transposed conv gives half-width features at full size, then a 3x3 conv to RGB
        last = G.net[-2]
        c = last.in_channels
        G.net[-2] = nn.Sequential(nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2),
                                  nn.ReLU(True), nn.Conv2d(c // 2, 3, 3, 1, 1))
        G.net[-2].apply(dcgan.init_dcgan_weights)
    if s["spectral_norm"]:  # every D convolution divided by its largest singular value (Miyato et al. 2018)
        for m in list(D.modules()):
            if isinstance(m, nn.Conv2d):
                torch.nn.utils.parametrizations.spectral_norm(m)
    return G, D


def samples(G: nn.Module, z: torch.Tensor, device) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([G(part.to(device)).float().cpu() for part in z.split(500)])


def run_variant(name: str, overrides: dict, ev: FaceEvaluator, blurred: float, out_path: str) -> None:
    s = {**recipe_settings(overrides.get("objective", "gan")), **overrides}
    device = get_device()
    data = dataset("anime", size=32, n=s["n_train"])
    G, D = build(s)
    opt_G = torch.optim.Adam(G.parameters(), s["lr_g"], betas=tuple(s["betas"]))
    opt_D = torch.optim.Adam(D.parameters(), s["lr_d"], betas=tuple(s["betas"]))
    if s["objective"] == "wgan-gp":
        objective = WGANGPObjective(gp_weight=s["gp_weight"], gp_every=s["gp_every"], drift=s["drift"])
    else:
        objective = GANObjective(r1_gamma=s["r1_gamma"], r1_every=s["r1_every"])
    tr = Trainer(G, D, objective, opt_G, opt_D, TensorBatches(data.images, batch_size=s["batch_size"]), z_dim=100,
                 device=device, seed=s["seed"], amp=s["amp"], channels_last=s["channels_last"], log_every=50,
                 n_critic=s["n_critic"])
    averages = {d: copy.deepcopy(tr.G).eval().requires_grad_(False) for d in EMA_DECAYS}
    tr.callbacks.append(lambda t: [ema_update(g, t.G, d) for d, g in averages.items()])
    if s["lr_decay_from"] is not None:  # both learning rates fall linearly to 0 from this fraction of the run
        tr.callbacks.append(linear_lr_decay([opt_G, opt_D], int(s["lr_decay_from"] * s["steps"]), s["steps"]))
    z = evaluation.fixed_noise(2000, 100, evaluation.EVAL_NOISE_SEED)
    t0 = time.perf_counter()
    for mark in [m for m in MARKS if m < s["steps"]] + [s["steps"]]:
        tr.fit(mark, progress=False)
        seconds = time.perf_counter() - t0
        tr.G.eval()
        ratios = {"raw": ev.fd(samples(tr.G, z, device)) / blurred}
        tr.G.train()
        for decay, g in averages.items():
            refresh_batchnorm(g, tr.refresh_noise())
            ratios[str(decay)] = ev.fd(samples(g, z, device)) / blurred
        ema = samples(averages[0.99], z, device)  # the cpu recipe's average: gaps and memorisation
        row = {"name": name, "step": mark, "train_seconds": round(seconds, 1), "device": str(device),
               "fd_over_blurred": {k: round(v, 4) for k, v in ratios.items()},
               "attribute_gap": {k: round(v, 3) for k, v in ev.attribute_gap(ema).items()},
               "memorisation_passed": ev.memorisation(ema, data.images)["passed"], "settings": s}
        print(json.dumps(row), flush=True)
        with open(out_path, "a") as f:
            f.write(json.dumps(row) + "\n")


def with_mbstd_group(settings: dict) -> dict:
    """Rows recorded before the recipe had D's minibatch std say ``mbstd`` (true or false) instead."""
    if "mbstd" not in settings:
        return settings
    s = {k: v for k, v in settings.items() if k != "mbstd"}
    s["mbstd_group"] = (settings.get("mbstd_group") or "batch") if settings["mbstd"] else 0
    return s


def table(paths: list[str]) -> str:
    rows = [json.loads(line) for p in paths for line in open(p) if line.strip()]
    finals = {}
    for r in rows:  # the last mark of each variant
        if r["step"] >= finals.get(r["name"], {"step": -1})["step"]:
            finals[r["name"]] = r
    lines = ["| variant | changed | updates | FD/blurred raw G | EMA 0.99 | 0.995 | 0.998 | 0.999 | eye-colour gap | memorisation |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(finals.items()):
        base = recipe_settings(r["settings"].get("objective", "gan"))
        settings = with_mbstd_group({**LEGACY, **r["settings"]})
        ignored = {"objective"} | ({"r1_every"} if settings["r1_gamma"] == 0 else set())  # no R1: its schedule is moot
        changed = {k: v for k, v in settings.items() if base.get(k) != v and k not in ignored}
        f = {k: f"{v:.3f}" for k, v in r["fd_over_blurred"].items()}
        label = ("wgan-gp " if base["objective"] == "wgan-gp" else "") + (json.dumps(changed) if changed else "none")
        lines.append(f"| {name} | {label} | {r['step']:,} | {f['raw']} | "
                     f"{f.get('0.99', '-')} | {f.get('0.995', '-')} | {f.get('0.998', '-')} | {f['0.999']} | {r['attribute_gap']['eye_colour']:.2f} | "
                     f"{'passed' if r['memorisation_passed'] else 'FAILED'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variants", nargs="*", help="NAME=JSON overrides of BASE")
    p.add_argument("--out", help="JSON-lines file the measurements are appended to")
    p.add_argument("--table", nargs="+", metavar="JSONL", help="print the markdown table of finished runs")
    args = p.parse_args()
    if args.table:
        print(table(args.table))
        return
    if not args.out or not args.variants:
        p.error("give NAME=JSON variants and --out FILE (or --table FILES)")
    parsed = []
    for arg in args.variants:
        name, sep, text = arg.partition("=")
        try:
            parsed.append((name, json.loads(text or "{}")))
        except json.JSONDecodeError as err:
            sys.exit(f"{arg!r}: the part after '=' must be JSON, e.g. g64='{{\"g_width\": 64}}' ({err})")
        unknown = set(parsed[-1][1]) - set(BASE)
        if unknown:
            sys.exit(f"{name}: unknown setting(s) {sorted(unknown)}; known: {sorted(BASE)}")
    ev = FaceEvaluator(32, n=2000, budget_name="cpu", progress=False)
    torch.manual_seed(0)
    untrained = dcgan.Generator(dcgan.DCGANConfig(image_size=32, g_width=32, d_width=32)).eval()
    blurred = ev.baselines(samples(untrained, evaluation.fixed_noise(2000, 100, evaluation.EVAL_NOISE_SEED), "cpu"))["real_blurred"]
    for name, overrides in parsed:
        run_variant(name, overrides, ev, blurred, args.out)


if __name__ == "__main__":
    main()
