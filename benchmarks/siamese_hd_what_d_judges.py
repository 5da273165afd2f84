"""Lecture 12 (siamese-hd): what the recipe's Siamese D calls a painting, and whether G draws the outlines.

    python benchmarks/siamese_hd_what_d_judges.py [--seed 0] [--settings '{"travel_mse_weight": 0.1}']
        [--paintings-of-the-photos] [--out results.jsonl]

Trains the Combo model at the cpu budget (with ``--settings`` over the recipe) and, after 500, 1,500 and
2,500 updates, measures ``diagnosis.d_distances``: how far D puts the paintings (B), the photos (A), G's
translations of them, and the photos' own painterly versions (the perfect answer), whole and with
only some parts of the transform (dark strokes only, canvas texture only), from its origin, where D1
pulls the paintings. Then the held-out photo's tiled translation: ``diagnosis.stroke_darkening`` and
the recipe's ``evaluate``.

``--paintings-of-the-photos`` is a diagnosis, not a method: domain B becomes the painterly versions of
the training photos themselves (crops still drawn independently, so unpaired), so that the paintings
share the photos' subjects. What changes then is what the paintings' subjects cost. The held-out
photo is still never seen. About 6 minutes on one thread.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

from course_lib.data.painterly import PainterlyStyle, painted_photos
from course_lib.models import siamese_hd as shd
from course_lib.recipes import siamese_hd as recipe
from course_lib.recipes import siamese_hd_diagnosis as diagnosis
from records import emit  # benchmarks/records.py: a script's own folder is on sys.path

STYLES = {"whole": PainterlyStyle(),
          "dark strokes only": dataclasses.replace(PainterlyStyle(), radius=1, levels=256, canvas=0.0),
          "canvas texture only": dataclasses.replace(PainterlyStyle(), radius=1, levels=256, stroke_darkness=0.0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settings", default="{}", help="JSON over the cpu budget's settings")
    p.add_argument("--paintings-of-the-photos", action="store_true")
    p.add_argument("--out", help="JSON-lines file the result is appended to")
    args = p.parse_args()
    s = {**recipe.settings("cpu"), **json.loads(args.settings)}
    data = recipe.load_data(s, args.seed)
    if args.paintings_of_the_photos:
        data.domain_b = painted_photos(s["factor"], max_side=s.get("max_side"))
    painted = {name: painted_photos(s["factor"], style, s.get("max_side")) for name, style in STYLES.items()}
    tr = recipe.make_trainer(data, s, args.seed)
    t0, row = time.perf_counter(), {"settings": json.loads(args.settings), "seed": args.seed,
                                     "paintings_of_the_photos": args.paintings_of_the_photos}
    for mark in (500, 1500, 2500):
        tr.fit(mark, progress=False)
        dist = {}
        for name, images in painted.items():
            d = diagnosis.d_distances(tr.D, tr.G, data, images)
            dist.update({k: v for k, v in d.items() if k != "the photos' painterly versions"})
            dist[f"painterly versions ({name})"] = d["the photos' painterly versions"]
        row[f"d_distances@{mark}"] = dist
        print(mark, json.dumps(dist), flush=True)
    row["train_seconds"] = round(time.perf_counter() - t0, 1)
    G = tr.sampler().eval()
    tiles = shd.translate_full(G, data.heldout, s["tile"])
    row["stroke_darkening"] = diagnosis.stroke_darkening({"painting": data.heldout_painting, "combo": tiles}, data)
    row.update(recipe.evaluate(G, None, data, s["tile"]))
    emit(row, args.out)


if __name__ == "__main__":
    main()
