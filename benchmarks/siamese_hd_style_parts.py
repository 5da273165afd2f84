"""Lecture 12 (siamese-hd): how much of the style distance each part of the painterly transform is worth.

    python benchmarks/siamese_hd_style_parts.py

The style bar asks a translation of the held-out photo to close half of its style distance to
painterly(photo) (made at full size, then downscaled like the training data). This applies the
transform itself, whole or with parts switched off, and prints the share each version closes: what a
G that learnt only those parts could reach. No training; about a minute on 2 cores.
"""
from __future__ import annotations

import dataclasses

from course_lib.data.painterly import HELDOUT, PainterlyStyle, downscale, painterly
from course_lib.data.photos import photo
from course_lib.metrics.translation import StyleMeter
from course_lib.recipes import siamese_hd as recipe

PARTS = {  # name: PainterlyStyle fields that switch parts off (radius 1: the smallest smoothing window)
    "no canvas texture": dict(canvas=0.0),
    "no dark strokes": dict(stroke_darkness=0.0),
    "no posterising": dict(levels=256),
    "canvas texture only": dict(radius=1, levels=256, stroke_darkness=0.0),
    "dark strokes only": dict(radius=1, levels=256, canvas=0.0),
    "posterising only": dict(radius=1, stroke_darkness=0.0, canvas=0.0),
}


def main() -> None:
    factor = recipe.settings("cpu")["factor"]
    held = photo(HELDOUT)
    source = downscale(held, factor)
    meter = StyleMeter(downscale(painterly(held), factor))
    print(f"photo: style distance {meter.style_distance(source):.4f} (0% closed)")
    versions = {"the whole transform at the training scale": painterly(source)}
    versions.update({name: downscale(painterly(held, dataclasses.replace(PainterlyStyle(), **kw)), factor)
                     for name, kw in PARTS.items()})
    for name, image in versions.items():
        print(f"{name:45s} {meter.closed(image, source):6.1%} closed")


if __name__ == "__main__":
    main()
