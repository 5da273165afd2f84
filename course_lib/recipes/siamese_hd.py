"""Lecture 12's run: a patch generator trained through the Combo model against a Siamese D.

    python -m course_lib train siamese-hd --budget cpu --out runs/siamese-hd
    python -m course_lib sample runs/siamese-hd --out astronaut.pt   # the held-out photo, translated

``run`` trains two models on the same unpaired crops (``course_lib.data.painterly``) with the same
losses and the shared ``Trainer``:

* **Combo** (the method): G translates the four S x S quarters of a 2S x 2S photo crop independently,
  D judges the reassembled 2S x 2S image against 2S x 2S painting crops;
* **naive** (the baseline): G trained directly on S x S crops, D judging S x S crops. At smoke and cpu
  (``naive_quarters``) these are the four quarters of the Combo's own 2S x 2S crops: the same pixels,
  the same G passes and D pixels per update, so that the two models differ only in whether D sees the
  quarters put back together;

then translates the held-out photo tile by tile with each (``translate_full``), and with the Combo's
G applied to the whole image at once, and measures seams (``seam_score``) and style distance to the
photo's painterly version (``StyleMeter``). Per budget: smoke S = 8 (every path in seconds), cpu
S = 32 on photos downscaled x2, gpu S = 64 (the article's tile) on photos downscaled x2; 2,500 updates
each at both. More updates made things worse in every run we measured (on an H100, seed 0, see
benchmarks/results/h100.md): the cpu-scale Combo after 2,500 / 5,000 / 10,000
updates had seams 1.29 / 1.86 / 2.22 and closed 21% / 20% / -16% of the style distance; the gpu-scale
one after 2,500 / 5,000, seams 2.00 / 2.22 and 18% / 11%. What is measured and sampled is an
exponential moving average of G (decay 0.999; our choice, not the article's): a single G's translation
flickers from step to step. At cpu, 0.999 instead of 0.995 lowered the Combo's seam score from 1.22 /
1.41 to 1.06 / 1.22 (seeds 0 / 1; benchmarks/results/siamese_hd_cpu.md).

The cpu budget's recipe (``CPU_RECIPE``, our choices, measured in siamese_hd_cpu.md):
* a faster schedule than the article's: lr 1e-3 instead of 2e-4, falling linearly to 0 over the
  second half of the run (``lr_decay_from``), and D's detail layer over 15 px instead of 7. With it
  the Combo closed 35.8% / 35.0% of the style distance instead of 18.6% / 15.5% (seeds 0 / 1);
* the author's zero padding in G (Keras' "same"; why, in ``course_lib.models.siamese_hd``) and two D
  updates per G update: seams 1.03 / 1.00 against the naive model's 1.12 / 1.27, style closed
  32.2% / 28.1% (seeds 0 / 1);
* the naive model on the four quarters of the Combo's crops (``naive_quarters``), not on one S x S crop
  of each, a quarter of the pixels: its seams rise with the pixels it learns from, its style does not.
  Over seeds 0-11 its seams were 1.16-1.42 (one crop of each: 1.03-1.31) against the Combo's 1.00-1.12,
  the Combo below it on all twelve (on nine with one crop of each); 27% of the style distance closed
  either way.
Not in it: paintings with their dark lines closed away shown to D as fakes (``negative_weight``). Over
seeds 0-11 they lowered both models' seams, the naive model's more, and the Combo closed 24.8% of the
style distance on average instead of 34.0% (siamese_hd_cpu.md); lecture 12's exercise 12.
The cpu budget's batch stays at 8: at 4 the Combo's seams and style held over seeds 0-11, but the naive
model's, on one crop of each, fell to the Combo's, and the Combo was below it on four seeds of twelve.
The gpu budget keeps the article's rate and our reflect padding: its figures above were measured
with them. The cpu recipe at that scale (trained on a CPU, seed 0) collapsed: by 1,250 updates G
painted every tile white (siamese_hd_cpu.md).
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import losses
from ..data.painterly import PaintingDomains, close_dark_lines
from ..layers import check_odd_window
from ..models import siamese_hd as shd
from ..registry import dataset
from ..runtime import get_device, pick
from ..storage import safe_load
from ..training import StepContext, Trainer, linear_lr_decay


# the cpu budget's recipe where it departs from the article's rate and our model defaults (see the module
# doc); smoke runs the same path
CPU_RECIPE = dict(lr=1e-3, detail_window=15, lr_decay_from=0.5, padding="zeros", n_critic=2, naive_quarters=True)


def settings(budget_name: str) -> dict:
    """Everything a run depends on, per budget (the notebook and the command line share it)."""
    return pick(
        smoke=dict(tile=8, factor=2.0, max_side=256, g_width=4, g_blocks=1, d_width=4, lenvec=16, batch_size=4,
                   **CPU_RECIPE, steps=6, naive_steps=6, ema_decay=0.9, log_every=1),
        cpu=dict(tile=32, factor=2.0, g_width=16, g_blocks=1, d_width=16, lenvec=128, batch_size=8,
                 **CPU_RECIPE, steps=2500, naive_steps=2500, ema_decay=0.999, log_every=10),
        gpu=dict(tile=64, factor=2.0, g_width=32, g_blocks=3, d_width=32, lenvec=128, batch_size=16,
                 steps=2500, naive_steps=2500, ema_decay=0.999, log_every=25),
        budget_name=budget_name,
    )


def model_config(s: dict) -> shd.SiameseHDConfig:
    """The model's config from a budget's settings (or a recorded config): every SiameseHDConfig field
    they name; the rest (steps, factor, ...) is the run's, and the config's defaults fill the gaps."""
    names = {f.name for f in fields(shd.SiameseHDConfig)}
    return shd.SiameseHDConfig(**{k: (tuple(v) if k == "betas" else v) for k, v in s.items() if k in names})


@dataclass
class SiameseObjective:
    """Pasini's losses for ``Trainer`` (batches are (A crops, B crops)); formulas in ``course_lib.losses``.

    D: D1 + D2 + w (D3 + mse + pair margin);  G: G1 + w (G2 + mse) + w_id |G(B) - B|, w = ``travel_weight``,
    w_id = ``identity_weight``, with D1 = ||D(B)||^2, D2 = max(0, margin - ||D(AB)||)^2, D3 = G2 = 1 - cos
    of the transformation vectors, G1 = ||D(AB)||^2; mse and the pair margin are borrowed from TraVeLGAN /
    MelGAN-VC, the identity term from CycleGAN (see ``course_lib.models.siamese_hd``).
    ``combo=False`` is the naive baseline: AB = G(A) on single S x S crops. ``negative_weight`` > 0 adds
    that weight times max(0, margin - ||D(C)||)^2 to D's loss, C = the paintings with their dark lines
    closed away (``close_dark_lines``, ``closing`` px): D must push a painting without its strokes off as
    a fake, as CartoonGAN (Chen et al. 2018) shows its D cartoons with smoothed edges.
    """

    margin: float = 2.0  # borrowed from MelGAN-VC
    travel_weight: float = 10.0
    identity_weight: float = 5.0  # borrowed from CycleGAN
    mse_weight: float = 1.0  # the squared-distance term, relative to the cosine inside the TraVeL weight
    combo: bool = True
    negative_weight: float = 0.0  # > 0: paintings with their dark lines closed away are pushed off as fakes too
    closing: int = 7  # the closing's window (px): lines narrower than this are closed away
    g_uses_batch = True  # the G step needs photos to translate

    def __post_init__(self) -> None:
        if self.negative_weight:  # a bad window fails here, when the run is set up, not at its first step
            check_odd_window(self.closing, "closing")

    def translate(self, G: nn.Module, a: Tensor) -> Tensor:
        return shd.combo(G, a) if self.combo else G(a)

    def d_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext):
        a, b = batch  # (B, 3, 2S, 2S) each (S x S for the naive model)
        with torch.no_grad():  # G is fixed in this step
            ab = self.translate(G, a)
        v_a, v_ab, v_b = D(torch.cat([a, ab, b])).chunk(3)  # one pass: D has no batch statistics
        d1 = losses.squared_norm_loss(v_b)
        d2 = losses.margin_loss(v_ab, self.margin)
        d3 = losses.travel_cosine_loss(v_a, v_ab)
        mse = losses.travel_mse_loss(v_a, v_ab)
        pair = losses.travel_pair_margin_loss(v_a, self.margin)
        loss = d1 + d2 + self.travel_weight * (d3 + self.mse_weight * mse + pair)
        stats = {"D1_real": d1.detach(), "D2_fake_margin": d2.detach(), "D3_travel_cos": d3.detach(),
                 "D_travel_mse": mse.detach(), "D_pair_margin": pair.detach()}
        if self.negative_weight:  # a painting without its strokes is not a painting: D must tell them apart
            closed = losses.margin_loss(D(close_dark_lines(b, self.closing)), self.margin)
            loss = loss + self.negative_weight * closed
            stats["D_closed_margin"] = closed.detach()
        return loss, {"d_loss": loss.detach(), **stats}

    def g_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext):
        a, b = batch
        ab = self.translate(G, a)
        v_a, v_ab = D(torch.cat([a, ab])).chunk(2)
        g1 = losses.squared_norm_loss(v_ab)
        g2 = losses.travel_cosine_loss(v_a, v_ab)
        mse = losses.travel_mse_loss(v_a, v_ab)
        loss = g1 + self.travel_weight * (g2 + self.mse_weight * mse)
        stats = {"G1_pull": g1.detach(), "G2_travel_cos": g2.detach(), "G_travel_mse": mse.detach()}
        if self.identity_weight:  # a painting should come back unchanged: anchors the colours D does not see
            identity = (self.translate(G, b) - b).abs().mean()
            loss = loss + self.identity_weight * identity
            stats["G_identity"] = identity.detach()
        return loss, {"g_loss": loss.detach(), **stats}


class _HalfCrops:
    """The naive baseline's data: one random S x S crop of each 2S x 2S crop (same scale), or with
    ``quarters`` all four S x S quarters of each, the very pixels the Combo's G and D see."""

    def __init__(self, batches, quarters: bool = False) -> None:
        self.batches, self.quarters = batches, quarters

    def next(self, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        a, b = self.batches.next(generator)
        s = a.shape[-1] // 2
        if self.quarters:
            return shd.split_tiles(a, s), shd.split_tiles(b, s)
        top, left = (int(v) for v in torch.randint(0, s + 1, (2,), generator=generator))
        return a[..., top:top + s, left:left + s], b[..., top:top + s, left:left + s]


TRAINER_OPTIONS = {  # settings make_trainer reads besides the model config's fields
    "n_critic": "D updates per G update (default 1)",
    "lr_decay_from": "both rates fall linearly to 0 from this share of the run (default: no decay)",
    "permute_colours": "shuffle each crop's RGB channels (default False)",
    "min_activity": "redraw training crops with less structure than this (data.painterly.activity; default 0)",
    "rotate": "turn each crop by a random multiple of 90 degrees (default False)",
    "negative_weight": "weight of the closed paintings shown to D as fakes (default 0: none)",
    "closing": "their closing window in px, odd (data.painterly.close_dark_lines; default 7)",
    "naive_quarters": "the naive model learns from the four quarters of every crop (default False: one S x S crop of each)",
}


def make_trainer(data: PaintingDomains, s: dict, seed: int = 0, device=None, naive: bool = False,
                 record: dict | None = None) -> Trainer:
    """A ready Trainer for the Combo model (default) or the naive baseline, on ``data``'s crops.

    Besides the budget's settings, ``s`` may name the ``TRAINER_OPTIONS`` and ``lr_d`` (D's own rate, a
    config field): options for ``benchmarks/siamese_hd_variants.py``, measured in siamese_hd_cpu.md.
    The decay ends at ``s["steps"]`` (``s["naive_steps"]`` for the naive model)."""
    cfg = model_config(s)
    torch.manual_seed(seed)  # layer initialisation
    G, D = shd.build(cfg, naive=naive)
    opt_G, opt_D = shd.make_optimizers(G, D, cfg)
    batches = data.batches(cfg.batch_size, permute_colours=s.get("permute_colours", False),
                           min_activity=s.get("min_activity", 0.0), rotate=s.get("rotate", False))
    objective = SiameseObjective(margin=cfg.margin, travel_weight=cfg.travel_weight,
                                 identity_weight=cfg.identity_weight, mse_weight=cfg.travel_mse_weight, combo=not naive,
                                 negative_weight=s.get("negative_weight", 0.0), closing=s.get("closing", 7))
    tr = Trainer(G, D, objective, opt_G, opt_D, _HalfCrops(batches, s.get("naive_quarters", False)) if naive else batches, z_dim=1,
                 n_critic=s.get("n_critic", 1), ema_decay=s.get("ema_decay"), device=device, seed=seed,
                 log_every=s["log_every"], config=record or {})
    if s.get("lr_decay_from") is not None:  # both learning rates fall linearly to 0 over the last part
        steps = s["naive_steps"] if naive else s["steps"]
        tr.callbacks.insert(0, linear_lr_decay([opt_G, opt_D], int(s["lr_decay_from"] * steps), steps))
    return tr


def load_data(s: dict, seed: int = 0) -> PaintingDomains:
    return dataset("painterly", crop=2 * s["tile"], factor=s["factor"], seed=seed, max_side=s.get("max_side"))


# --- Evaluation ------------------------------------------------------------------------------------
def translations(G_combo: nn.Module, G_naive: nn.Module | None, photo: Tensor, tile: int) -> dict[str, Tensor]:
    """The held-out photo translated every way the lecture compares (all the input's size)."""
    out = {"combo (tiles)": shd.translate_full(G_combo, photo, tile),
           "combo (whole image)": shd.translate_whole(G_combo, photo)}
    if G_naive is not None:
        out["naive (tiles)"] = shd.translate_full(G_naive, photo, tile)
    return out


def _key(name: str) -> str:
    """'combo (tiles)' -> 'combo', 'combo (whole image)' -> 'combo_whole' (metric names)."""
    return name.split()[0] + ("_whole" if "whole" in name else "")


def evaluate(G_combo: nn.Module, G_naive: nn.Module | None, data: PaintingDomains, tile: int) -> dict:
    """Seam scores, style and aligned feature distances to painterly(held-out photo), share closed."""
    from ..metrics.translation import StyleMeter, seam_band, seam_score

    G_combo.eval()
    if G_naive is not None:
        G_naive.eval()
    outs = translations(G_combo, G_naive, data.heldout, tile)
    m = {"seam_photo": seam_score(data.heldout, tile), "seam_band_photo": seam_band(data.heldout, tile)}
    for name, y in outs.items():
        m[f"seam_{_key(name)}"] = seam_score(y, tile)
        m[f"seam_band_{_key(name)}"] = seam_band(y, tile)
    if data.heldout_painting is None:  # real paintings: no ground truth to measure style against
        return {k: round(float(v), 4) for k, v in m.items()}
    meter = StyleMeter(data.heldout_painting)
    m["style_photo"] = photo_style = meter.style_distance(data.heldout)
    m["feature_photo"] = meter.feature_distance(data.heldout)
    for name, y in outs.items():
        key = _key(name)
        m[f"style_{key}"] = meter.style_distance(y)
        m[f"feature_{key}"] = meter.feature_distance(y)
        m[f"style_closed_{key}"] = 1.0 - m[f"style_{key}"] / photo_style
        # the position-by-position distance too: it also charges any change of geometry, which the
        # TraVeL losses allow, so the bar is read on the style (Gram) distance and this is reported beside it
        m[f"feature_closed_{key}"] = 1.0 - m[f"feature_{key}"] / m["feature_photo"]
    return {k: round(float(v), 4) for k, v in m.items()}


# --- The command-line run --------------------------------------------------------------------------
def _record(s: dict, budget_name: str, seed: int, steps: int, source: str) -> dict:
    return {"model": "siamese-hd", "model_config": asdict(model_config(s)), "data": "painterly",
            "budget": budget_name, "seed": seed, "steps": steps, "settings": s, "data_source": source}


def _train(tr: Trainer, steps: int, ckpt: Path, resume: bool, progress: bool, desc: str) -> float:
    tr.checkpoint_path, tr.checkpoint_every = ckpt, max(10, steps // 10)
    if resume and ckpt.is_file():
        tr.check_resumable(ckpt)
        tr.load(ckpt)
        print(f"resumed {desc} from {ckpt} at step {tr.step}", file=sys.stderr)
    t0 = time.perf_counter()
    tr.fit(steps, progress=progress, desc=desc)
    return time.perf_counter() - t0


def run(data: str, budget: str, seed: int, out, steps: int | None = None, resume: bool = False,
        progress: bool = True) -> dict:
    """Train Combo and naive, translate the held-out photo, measure; write figures and checkpoints."""
    from .. import plotting

    if data != "painterly":
        raise ValueError(f"siamese-hd trains on the 'painterly' domains, not {data!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = settings(budget)
    n_steps, n_naive = steps or s["steps"], steps or s["naive_steps"]
    domains = load_data(s, seed)
    print(f"data: {domains.source}", file=sys.stderr)
    record = _record(s, budget, seed, n_steps, domains.source)
    combo_tr = make_trainer(domains, s, seed, record=record)
    naive_tr = make_trainer(domains, s, seed, naive=True, record={**record, "model": "siamese-hd-naive", "steps": n_naive})
    t_combo = _train(combo_tr, n_steps, out / "checkpoint.pt", resume, progress, "siamese-hd Combo")
    t_naive = _train(naive_tr, n_naive, out / "naive.pt", resume, progress, "siamese-hd naive")
    metrics = {"model": "siamese-hd", "data": data, "data_source": domains.source, "budget": budget,
               "device": str(combo_tr.device), "steps": combo_tr.step, "naive_steps": naive_tr.step,
               "seconds_combo": round(t_combo, 1), "seconds_naive": round(t_naive, 1), "settings": record}
    G_combo, G_naive = combo_tr.sampler(), naive_tr.sampler()  # the moving averages of G
    metrics.update(evaluate(G_combo, G_naive, domains, s["tile"]))
    import matplotlib.pyplot as plt

    outs = translations(G_combo, G_naive, domains.heldout, s["tile"])
    panels = {"held-out photo": domains.heldout, **outs}
    if domains.heldout_painting is not None:
        panels["painterly (ground truth)"] = domains.heldout_painting
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (name, img) in zip(axes, panels.items()):
        key = _key(name)
        extra = "".join(f"\n{what} {metrics[f'{what}_{key}']:.2f}" for what in ("seam", "style") if f"{what}_{key}" in metrics)
        plotting.show_grid(img.unsqueeze(0), ax=ax, title=name + extra)
    plotting.save_figure(fig, out / "comparison.png")
    plotting.save_figure(loss_terms_figure(combo_tr.history), out / "losses.png")
    plt.close("all")
    return metrics


def loss_terms_figure(history: list[dict], smooth: int = 10):
    """The three D terms and the two G terms over training, plus the borrowed ones and the closed paintings'
    margin where the run has them."""
    import matplotlib.pyplot as plt

    from ..plotting import moving_average

    steps = [h["step"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.6))
    d_keys = ("D1_real", "D2_fake_margin", "D3_travel_cos", "D_travel_mse", "D_pair_margin", "D_closed_margin")
    for key in [k for k in d_keys if k in history[0]]:
        ax1.plot(steps, moving_average([h[key] for h in history], smooth), label=key,
                 linestyle="-" if key[1].isdigit() else ":")
    for key in [k for k in ("G1_pull", "G2_travel_cos", "G_travel_mse", "G_identity") if k in history[0]]:
        ax2.plot(steps, moving_average([h[key] for h in history], smooth), label=key,
                 linestyle="-" if key[1].isdigit() else ":")
    for ax, who in ((ax1, "D"), (ax2, "G")):
        ax.set_xlabel("G updates"); ax.set_yscale("symlog", linthresh=1e-2); ax.legend(fontsize=8)
        ax.set_title(f"{who}'s loss terms (unweighted; dotted: borrowed)")
    fig.tight_layout()
    return fig


# --- Checkpoints -----------------------------------------------------------------------------------
def build_generator(record: dict) -> shd.Generator:
    return shd.Generator(model_config(record["model_config"]))


def sample_from_checkpoint(state: dict, n: int = 1, seed: int = 0, label: int | None = None) -> Tensor:
    """The held-out photo translated tile by tile, (1, 3, H, W) at the training resolution.

    A translation model has no noise to sample: ``n`` and ``seed`` do not change the result.
    """
    if label is not None:
        raise ValueError("siamese-hd is not a conditional model: drop --label.")
    record = state.get("config") or {}
    G = build_generator(record)
    G.load_state_dict(state.get("G_ema") or state["G"])
    G.eval()
    s = record["settings"]
    domains = load_data(s, record.get("seed", 0))
    return shd.translate_full(G, domains.heldout, s["tile"]).unsqueeze(0)


def load_generator(path: str | Path, device=None) -> shd.Generator:
    """G (its moving average when the run kept one) from a checkpoint written by ``run`` (or the
    notebook), on ``device``, in eval mode."""
    state = safe_load(path, map_location="cpu")
    G = build_generator(state["config"])
    G.load_state_dict(state.get("G_ema") or state["G"])
    return G.to(device or get_device()).eval()
