"""Lecture 12 (siamese-hd): how much of the style distance each part of the painterly transform is worth.

    python benchmarks/siamese_hd_style_parts.py [G.pt ...]

The style bar asks a translation of the held-out photo to close half of its style distance to
painterly(photo) (made at full size, then downscaled like the training data). This applies the
transform itself, whole or with parts switched off, and prints the share each version closes: what a
G that learnt only those parts could reach. No training; about a minute on 2 cores.

It also splits the painting into the two layers of the recipe's D (``course_lib.models.siamese_hd``):
the *detail* layer D sees (the image minus its local mean over the detail window) and the *base* layer
it does not (that local mean: palette and brightness). "The photo's base + the painting's detail" is
the most a G could reach if it matched D's view perfectly and left the rest alone. Given G's saved by
``benchmarks/siamese_hd_variants.py train``, it measures each G's tiled translation too, as it is and
with only its mean luminance moved to the painting's (a diagnosis that uses the ground truth, not a
result).
"""
from __future__ import annotations

import dataclasses
import sys

import torch

from course_lib.data.painterly import HELDOUT, PainterlyStyle, downscale, painterly
from course_lib.data.photos import photo
from course_lib.metrics.translation import StyleMeter
from course_lib.models import siamese_hd as shd
from course_lib.recipes import siamese_hd as recipe
from course_lib.recipes import siamese_hd_diagnosis as diagnosis

PARTS = {  # name: PainterlyStyle fields that switch parts off (radius 1: the smallest smoothing window)
    "no canvas texture": dict(canvas=0.0),
    "no dark strokes": dict(stroke_darkness=0.0),
    "no posterising": dict(levels=256),
    "canvas texture only": dict(radius=1, levels=256, stroke_darkness=0.0),
    "dark strokes only": dict(radius=1, levels=256, canvas=0.0),
    "posterising only": dict(radius=1, stroke_darkness=0.0, canvas=0.0),
}


def main(g_paths: list[str]) -> None:
    s = recipe.settings("cpu")
    factor, window = s["factor"], s["detail_window"]
    data = recipe.load_data(s)  # the held-out photo and its painterly version, at the training scale
    held, source = photo(HELDOUT), data.heldout
    meter = StyleMeter(data.heldout_painting)
    print(f"photo: style distance {meter.style_distance(source):.4f} (0% closed)")
    versions = {"the whole transform at the training scale": painterly(source)}
    versions.update({name: downscale(painterly(held, dataclasses.replace(PainterlyStyle(), **kw)), factor)
                     for name, kw in PARTS.items()})
    for name, image in versions.items():
        print(f"{name:45s} {meter.closed(image, source):6.1%} closed")
    translated = {}
    for path in g_paths:
        for key, e in torch.load(path, map_location="cpu", weights_only=False).items():
            G = shd.Generator(recipe.model_config(e["settings"])).eval()
            G.load_state_dict(e["G"])
            translated[f"G {key}"] = shd.translate_full(G, source, e["settings"]["tile"])
    print(f"\nsplit at D's detail window ({window} px):")
    for name, share in diagnosis.style_by_layer(data, window, translated).items():
        print(f"{name:45s} {share:6.1%} closed")


if __name__ == "__main__":
    main(sys.argv[1:])
