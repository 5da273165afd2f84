"""Lecture 12's diagnoses: why the Combo's translation closes a third of the style distance, not half.

Each reads what training never sees (the held-out photo's painterly version, or the training photos'
own painterly versions): measurements for the lecture and ``benchmarks/``, never a training signal.

* ``style_by_layer``: how much of the style distance lives in the layer the detail-layer D sees.
* ``stroke_darkening``: whether a translation draws the painting's dark outlines (they are most of
  the distance: ``benchmarks/siamese_hd_style_parts.py``), or darkens elsewhere.
* ``d_distances``: what D's "painting" is: how far D puts the paintings, the photos, G's translations
  and the photos' own painterly versions (the perfect answer) from the origin, where D1 pulls the
  paintings.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.painterly import PaintingDomains, random_crops
from ..layers import luminance
from ..models import siamese_hd as shd


def with_mean_luminance(image: Tensor, reference: Tensor) -> Tensor:
    """``image`` made brighter or darker, all channels alike, until its mean luminance is ``reference``'s."""
    shift = luminance(shd._as_batch(reference)).mean() - luminance(shd._as_batch(image)).mean()
    return (image + shift).clamp(-1, 1)


def layer_swaps(photo: Tensor, painting: Tensor, window: int) -> dict[str, Tensor]:
    """The photo and its painterly version split at D's detail window, into the *base* layer
    (``local_mean``: palette and brightness, which the detail-layer D does not see) and the *detail*
    layer (the rest, which it sees), and recombined across; plus the photo with the painting's mean
    luminance. "photo base + painting detail" is what a G would paint if it matched D's view
    perfectly and left the rest alone."""
    base = lambda x: shd.local_mean(shd._as_batch(x), window)[0]  # noqa: E731  ((3, H, W) images)
    return {"photo base + painting detail": (base(photo) + painting - base(painting)).clamp(-1, 1),
            "painting base + photo detail": (base(painting) + photo - base(photo)).clamp(-1, 1),
            "photo, painting's mean luminance": with_mean_luminance(photo, painting)}


def style_by_layer(data: PaintingDomains, window: int, translated: dict[str, Tensor] | None = None) -> dict[str, float]:
    """Where the held-out photo's style distance lives: the share of it (1 = all) closed by each of
    ``layer_swaps``, and by each ``translated`` image as it is and with its mean luminance moved to the
    painting's. A diagnosis that reads the ground truth, never a result."""
    from ..metrics.translation import StyleMeter

    photo, painting = data.heldout, data.heldout_painting
    if painting is None:
        raise ValueError("style_by_layer needs the painterly ground truth: real paintings have none.")
    meter = StyleMeter(painting)
    versions = layer_swaps(photo, painting, window)
    for name, y in (translated or {}).items():
        versions[name] = y
        versions[f"{name}, painting's mean luminance"] = with_mean_luminance(y, painting)
    return {name: round(meter.closed(y, photo), 4) for name, y in versions.items()}


STROKE_ON, STROKE_OFF = 0.5, 0.05  # stroke_map levels that count as "on a stroke" / "away from strokes"


def stroke_darkening(images: dict[str, Tensor], data: PaintingDomains) -> dict[str, dict[str, float]]:
    """For each (3, H, W) image of the held-out photo at the training scale: its mean luminance minus
    the photo's, on the painting's strokes (``data.heldout_strokes`` >= 0.5) and away from them
    (< 0.05). The painterly version darkens the strokes a lot and leaves the rest; a translation that
    learnt the outlines does the same, one that dims the photo darkens both."""
    if data.heldout_strokes is None:
        raise ValueError("stroke_darkening needs the painterly ground truth: real paintings have none.")
    on, off = data.heldout_strokes[0] >= STROKE_ON, data.heldout_strokes[0] < STROKE_OFF
    base = luminance(shd._as_batch(data.heldout))[0, 0]
    out = {}
    for name, y in images.items():
        change = luminance(shd._as_batch(y))[0, 0] - base  # (H, W)
        out[name] = {"on strokes": round(float(change[on].mean()), 4), "off strokes": round(float(change[off].mean()), 4)}
    return out


@torch.no_grad()
def d_distances(D: nn.Module, G: nn.Module, data: PaintingDomains, painted_a: list[Tensor], n: int = 64,
                seed: int = 7) -> dict[str, float]:
    """Mean ||D(x)|| over ``n`` crops (D's input size) of: the paintings (B), the photos (A), G's Combo
    translations of those photo crops, and the same crops of ``painted_a``, the photos' own painterly
    versions (aligned with ``data.domain_a``, same sizes): the translation G is after. D1 pulls the
    paintings to 0 and D2 pushes translations out past the margin, so a D that judged the style alone
    would put the perfect answer near the paintings. D and G are left in the mode they came in."""
    if [tuple(x.shape) for x in painted_a] != [tuple(x.shape) for x in data.domain_a]:
        raise ValueError("painted_a must be the photos' painterly versions, one per photo of data.domain_a, "
                         "same sizes (painterly at full size, then downscale by the data's factor).")
    size = D.image_size
    crops = lambda images, s: random_crops(images, n, size, torch.Generator().manual_seed(s))  # noqa: E731
    photos, painted = crops(data.domain_a, seed), crops(painted_a, seed)  # same draws: the same places
    was_training = D.training, G.training
    D.eval(), G.eval()  # no power-iteration step of spectral norm while measuring
    norm = lambda x: float(torch.cat([D(c) for c in x.split(16)]).norm(dim=1).mean())  # noqa: E731
    out = {"paintings (B)": norm(crops(data.domain_b, seed + 1)), "photos (A)": norm(photos),
           "G's translations of the photos": norm(shd.combo(G, photos)),
           "the photos' painterly versions": norm(painted)}
    D.train(was_training[0]), G.train(was_training[1])
    return {k: round(v, 3) for k, v in out.items()}
