"""Lecture 12 (siamese-hd): the seam bar seed by seed, the Combo's seam score against the naive model's.

    python benchmarks/siamese_hd_seeds.py

Reads what the other siamese-hd benchmarks wrote (no training): each of ``SETS`` pairs the Combo's
seeds with the naive model's, each side either the seeds of ``benchmarks/siamese_hd.py`` in
``siamese_hd_cpu.json`` or the rows ``<prefix>_s<seed>`` of ``siamese_hd_variants_cpu.jsonl`` (a
change of the recipe run through the benchmark, or one model trained with ``siamese_hd_variants.py``).
For each set it prints how many seeds have the Combo below the naive model, the paired differences
(naive minus Combo: mean, standard deviation, paired t-test and Wilcoxon signed-rank p-values, for the
seam score and the seam band) and the style closed, and draws each seed as one point, naive seam (x)
against Combo seam (y): below the diagonal the bar "Combo lower" holds.
Writes benchmarks/results/siamese_hd_seeds.png.
"""
from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402
from siamese_hd import RESULTS, SEAM_BAR  # noqa: E402  (the benchmark beside this script)

from course_lib.plotting import save_figure  # noqa: E402

# name: (the Combo's rows, the naive model's rows), each a row prefix of siamese_hd_variants_cpu.jsonl or None for
# the recipe's seeds in siamese_hd_cpu.json (which trained the naive model on one S x S crop of each 2S x 2S crop)
SETS = {
    "naive on one crop of each (sessions 12-18)": (None, None),
    "naive on the Combo's pixels (the recipe)": (None, "nq"),
    "closed paintings as fakes": ("negk7", "negk7nv"),
    "batch 4 (not 8)": ("b4r", "b4rnv"),
}
KEYS = ("seam", "seam_band", "style_closed")


def load_seeds() -> dict[str, dict[int, dict[str, float]]]:
    """{set: {seed: {"seam_combo", "seam_naive", "seam_band_combo", ...}}} for each of SETS with at least one
    seed that has both models."""
    bench = {row["seed"]: {f"{k}_{who}": row[f"{k}_{who}"] for k in KEYS for who in ("combo", "naive")}
             for row in json.loads((RESULTS / "siamese_hd_cpu.json").read_text())["quality"]}
    rows = [json.loads(line) for line in (RESULTS / "siamese_hd_variants_cpu.jsonl").read_text().splitlines()]

    def side(prefix: str | None, who: str) -> dict[int, dict[str, float]]:
        if prefix is None:
            return {seed: {f"{k}_{who}": v[f"{k}_{who}"] for k in KEYS} for seed, v in bench.items()}
        found = {}
        for row in rows:
            match = re.fullmatch(rf"{prefix}_s(\d+)@2500", row["run"])
            if match:  # a variant row keeps the G it measured under "*_combo", whichever model that G is
                found[int(match.group(1))] = {f"{k}_{who}": row[f"{k}_combo"] for k in KEYS}
        return found

    out = {}
    for name, (combo_prefix, naive_prefix) in SETS.items():
        combo, naive = side(combo_prefix, "combo"), side(naive_prefix, "naive")
        seeds = {seed: {**combo[seed], **naive[seed]} for seed in sorted(combo.keys() & naive.keys())}
        if seeds:
            out[name] = seeds
    return out


def paired(seeds: dict[int, dict[str, float]]) -> dict[str, float]:
    """Naive minus Combo over the seeds, for the seam score and the seam band; the style closed."""
    out: dict[str, float] = {"seeds": len(seeds)}
    for k in ("seam", "seam_band"):
        naive = np.array([v[f"{k}_naive"] for v in seeds.values()])
        combo = np.array([v[f"{k}_combo"] for v in seeds.values()])
        gap, test = naive - combo, stats.ttest_rel(naive, combo)
        out.update({f"{k}_combo_lower": int((gap > 0).sum()), f"{k}_gap_mean": float(gap.mean()),
                    f"{k}_gap_sd": float(gap.std(ddof=1)), f"{k}_t": float(test.statistic), f"{k}_p": float(test.pvalue),
                    f"{k}_wilcoxon_p": float(stats.wilcoxon(gap).pvalue)})
    # read as a normal distribution of gaps, the chance that one run has the Combo's seam above the naive one's
    out["p_one_run_misses"] = float(stats.norm.cdf(-out["seam_gap_mean"] / out["seam_gap_sd"]))
    for who in ("combo", "naive"):
        out[f"style_closed_{who}"] = float(np.mean([v[f"style_closed_{who}"] for v in seeds.values()]))
    return out


def main() -> None:
    sets = load_seeds()
    fig, ax = plt.subplots(figsize=(6, 5.6))
    colours = dict(zip(SETS, ["tab:gray", "tab:blue", "tab:green", "tab:purple"]))
    for name, seeds in sets.items():
        s = paired(seeds)
        print(f"{name}: Combo below naive on {s['seam_combo_lower']} of {s['seeds']} seeds; naive minus Combo "
              f"{s['seam_gap_mean']:.3f} (sd {s['seam_gap_sd']:.3f}), t = {s['seam_t']:.2f}, p = {s['seam_p']:.2g} "
              f"(Wilcoxon {s['seam_wilcoxon_p']:.2g}); seam band {s['seam_band_gap_mean']:.3f}, p = {s['seam_band_p']:.2g}; "
              f"one run misses with p = {s['p_one_run_misses']:.2f}; style closed Combo {s['style_closed_combo']:.1%}, "
              f"naive {s['style_closed_naive']:.1%}")
        xs = [v["seam_naive"] for v in seeds.values()]
        ys = [v["seam_combo"] for v in seeds.values()]
        ax.scatter(xs, ys, color=colours[name], edgecolor="k", s=50, zorder=3,
                   label=f"{name}: Combo lower on {s['seam_combo_lower']} of {s['seeds']} (p = {s['seam_p']:.2g})")
        for seed, x, y in zip(seeds, xs, ys):
            ax.annotate(str(seed), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7, color=colours[name])
    lo, hi = 0.9, 1.45
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
    ax.fill_between([lo, hi], [lo, hi], hi, color="tab:red", alpha=0.08, label="above the diagonal: the bar missed")
    ax.axhline(SEAM_BAR, color="tab:orange", ls="--", lw=0.8, label=f"Combo seam bar: {SEAM_BAR}")
    ax.set_xlim(lo, hi); ax.set_ylim(lo, hi); ax.set_aspect("equal")
    ax.set_xlabel("naive model's seam score"); ax.set_ylabel("Combo model's seam score")
    ax.set_title("Lecture 12 at the cpu budget, one point per seed")
    ax.legend(fontsize=7, loc="upper left")
    out = save_figure(fig, RESULTS / "siamese_hd_seeds.png", dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
