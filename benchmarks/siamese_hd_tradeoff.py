"""Lecture 12 (siamese-hd): every G measured at the cpu scale as one point, style closed against seam score.

    python benchmarks/siamese_hd_tradeoff.py

Reads what the other siamese-hd benchmarks wrote (no training): the variant runs of
``siamese_hd_variants_cpu.jsonl`` and the recipe's seeds in ``siamese_hd_cpu.json`` (whose naive model,
trained on one S x S crop of each 2S x 2S crop, now counts among the naive variants), and draws the
tiled translation's seam score (x) against the share of the style distance it closed (y), with the
corner the issue's bars ask for (seam <= 1.3, at least half closed) shaded; a run that fell apart (seam
above ``OFF_AXES``) is counted in the legend but not drawn. Writes
benchmarks/results/siamese_hd_tradeoff.png and prints how many points fall in that corner. A point is
one G: a few variant runs were measured twice (at two marks, or as the last G beside its average).
"""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from siamese_hd import RESULTS, SEAM_BAR, STYLE_BAR  # noqa: E402  (the benchmark beside this script)

from course_lib.plotting import save_figure  # noqa: E402


BRIGHTNESS = "variants, Combo, D shown brightness"
OFF_AXES = 3.0  # a seam score above this is a run that fell apart: counted, not drawn (it would squash the rest)


def shows_brightness(changed: dict) -> bool:
    """A variant whose D is shown more of the base layer than the recipe's 15 px detail layer: the
    base luminance (also centred per crop), the pixels, or a detail window of 31 px or more."""
    return str(changed.get("d_sees", "")).startswith(("detail+luma", "image")) or changed.get("detail_window", 0) >= 31


def load_points() -> dict[str, list[tuple[float, float]]]:
    """{group: [(seam, style closed), ...]} for the variant runs (Combo / naive) and the recipe's seeds."""
    groups: dict[str, list[tuple[float, float]]] = {"variants, Combo": [], BRIGHTNESS: [], "variants, naive": [],
                                                    "the recipe, Combo": [], "the recipe, naive": []}
    for line in (RESULTS / "siamese_hd_variants_cpu.jsonl").read_text().splitlines():
        row = json.loads(line)
        if {"factor", "tile"} & row["changed"].keys():  # measured at another scale than the lecture's: left out
            continue
        if row.get("naive"):  # the recipe's naive model learns from the Combo's pixels since session 19
            group = "the recipe, naive" if row["changed"] == {"naive_quarters": True} else "variants, naive"
        else:
            group = BRIGHTNESS if shows_brightness(row["changed"]) else "variants, Combo"
        groups[group].append((row["seam_combo"], row["style_closed_combo"]))  # the G it was given
    for row in json.loads((RESULTS / "siamese_hd_cpu.json").read_text())["quality"]:
        groups["the recipe, Combo"].append((row["seam_combo"], row["style_closed_combo"]))
        groups["variants, naive"].append((row["seam_naive"], row["style_closed_naive"]))  # one S x S crop of each
    return groups


def main() -> None:
    groups = load_points()
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.fill_between([0.8, SEAM_BAR], STYLE_BAR, 0.7, color="tab:green", alpha=0.15,
                    label=f"the bars: seam <= {SEAM_BAR}, >= {STYLE_BAR:.0%} closed")
    styles = {"variants, Combo": dict(marker="o", color="tab:blue", alpha=0.45),
              BRIGHTNESS: dict(marker="D", color="tab:purple", alpha=0.6),
              "variants, naive": dict(marker="s", color="tab:orange", alpha=0.45),
              "the recipe, Combo": dict(marker="*", color="tab:blue", s=160, edgecolor="k"),
              "the recipe, naive": dict(marker="*", color="tab:orange", s=160, edgecolor="k")}
    shown = {name: [p for p in pts if p[0] <= OFF_AXES] for name, pts in groups.items()}
    for name, points in shown.items():
        if points:
            xs, ys = zip(*points)
            off = len(groups[name]) - len(points)
            ax.scatter(xs, ys, label=f"{name} ({len(points)}" + (f", {off} off the axes: seam > {OFF_AXES:g})" if off else ")"),
                       **styles[name])
    ax.set_xlim(0.8, max(2.2, max(x for pts in shown.values() for x, _ in pts) + 0.05))
    ax.set_ylim(min(0.0, min(y for pts in shown.values() for _, y in pts)) - 0.05, 0.7)
    ax.set_xlabel("seam score of the tiled translation (1 = no visible seam)")
    ax.set_ylabel("share of the style distance closed")
    ax.set_title("Every cpu-scale G measured for lecture 12 (held-out astronaut)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)  # below: the cloud fills the axes
    out = save_figure(fig, RESULTS / "siamese_hd_tradeoff.png", dpi=90)
    every = [p for pts in groups.values() for p in pts]
    inside = [p for p in every if p[0] <= SEAM_BAR and p[1] >= STYLE_BAR]
    print(f"{len(every)} G's, {len(inside)} in the bars' corner; the most closed with seam <= {SEAM_BAR}: "
          f"{max(y for x, y in every if x <= SEAM_BAR):.1%}; wrote {out}")


if __name__ == "__main__":
    main()
