"""Are these faces yet? Frechet distance in the feature space of a face-attribute network.

FID's Inception network costs about 0.2 s an image on two CPU cores; a lecture needs a quality
curve with many points. So the course trains its own small feature network on procedural faces,
to read the five known attributes (hair colour and style, eye colour, face shape, mouth). Its
penultimate layer (128 numbers) is the feature space; the Frechet distance (FD) in it is as cheap
as a forward pass.

A feature network is only trusted if it reads every attribute at least 95% right on faces it never
saw; otherwise no score is reported. Networks are cached per (face generator version, settings),
so one trained at smoke scale never feeds cpu figures.

Every FD is read against baselines measured in the same space:
  floor     another held-out real set (what a perfect G would score)
  ceiling   an untrained G
  blurred   real faces blurred with a 1 px Gaussian (close, but visibly soft)
  one hair  real faces all of one hair colour (what a collapsed G looks like)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import anime
from ..runtime import cache_dir, pick
from ..storage import cached_network
from .frechet import GaussianStats, frechet_distance, gaussian_stats

# the face sets' seeds live with the faces (data.anime)
from ..data.anime import FEATURE_TRAIN_SEED, HELDOUT_SEED, REFERENCE_SEED
MIN_ACCURACY = 0.95


@dataclass(frozen=True)
class FaceNetSettings:
    size: int
    n_train: int
    epochs: int
    n_test: int = 2000
    width: int = 32
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = FEATURE_TRAIN_SEED

    def cache_key(self) -> str:
        return (f"facenet-gen{anime.GENERATOR_VERSION}-s{self.size}-n{self.n_train}-t{self.n_test}-e{self.epochs}"
                f"-w{self.width}-b{self.batch_size}-lr{self.lr:g}-seed{self.seed}")


def settings_for(size: int, budget_name: str | None = None, seed: int = FEATURE_TRAIN_SEED) -> FaceNetSettings:
    """The feature network's training scale per budget (smoke: seconds, and never reported).

    ``seed`` picks another network of the same recipe (faces and initialisation); the course's figures
    all use FEATURE_TRAIN_SEED, and benchmarks/face_metric_seeds.py measures how much that choice moves them.
    """
    n_train, epochs, n_test = pick(smoke=(512, 1, 200), cpu=(12_000, 6, 2000), gpu=(30_000, 8, 2000),
                                   budget_name=budget_name)
    return FaceNetSettings(size=size, n_train=n_train, epochs=epochs, n_test=n_test, seed=seed)


class FaceFeatureNet(nn.Module):
    """A small CNN: image (B, 3, S, S) -> 128 features -> one linear head per attribute."""

    FEATURES = 128

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.body = nn.Sequential(
            *block(3, w), *block(w, w), nn.MaxPool2d(2),  # (B, w, S/2, S/2)
            *block(w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, S/4, S/4)
            *block(2 * w, 4 * w), nn.MaxPool2d(2),  # (B, 4w, S/8, S/8)
            *block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(2),  # (B, 4w, 2, 2) for any S >= 16
            nn.Flatten(),
            nn.Linear(16 * w, self.FEATURES),
            nn.ReLU(True),
        )
        self.heads = nn.ModuleDict({k: nn.Linear(self.FEATURES, len(v)) for k, v in anime.ATTRIBUTES.items()})

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)  # (B, 128)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        f = self.features(x)
        return {k: head(f) for k, head in self.heads.items()}


@torch.no_grad()
def extract(net: FaceFeatureNet, images: Tensor, batch_size: int = 500) -> Tensor:
    """Features of (N, 3, S, S) images, (N, 128) on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    return torch.cat([net.features(images[i : i + batch_size].to(device)).float().cpu()
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def read_attributes(net: FaceFeatureNet, images: Tensor, batch_size: int = 500) -> dict[str, Tensor]:
    """What the network reads on each image: the most likely value of every attribute, (N,) on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    outs = [net(images[i : i + batch_size].to(device)) for i in range(0, len(images), batch_size)]
    return {k: torch.cat([o[k].argmax(1).cpu() for o in outs]) for k in anime.ATTRIBUTES}


def attribute_accuracy(net: FaceFeatureNet, images: Tensor, labels: dict[str, Tensor]) -> dict[str, float]:
    read = read_attributes(net, images)
    return {k: float((read[k] == labels[k]).float().mean()) for k in anime.ATTRIBUTES}


def attribute_shares(net: FaceFeatureNet, images: Tensor) -> dict[str, Tensor]:
    """For each attribute, the share of ``images`` the network reads as each of its values (sums to 1).

    On a G's samples beside held-out real faces this says *which* attributes G gets wrong (a collapsed
    eye colour, a missing mouth), which one FD number cannot.
    """
    read = read_attributes(net, images)
    return {k: torch.bincount(read[k], minlength=len(v)).float() / len(images) for k, v in anime.ATTRIBUTES.items()}


def share_gap(p: Tensor, q: Tensor) -> float:
    """Total variation distance between two share vectors: 0 same, 1 disjoint."""
    return 0.5 * float((p - q).abs().sum())


def train_face_net(settings: FaceNetSettings, progress: bool = True) -> tuple[FaceFeatureNet, dict[str, float]]:
    """Train the attribute reader on its own seed; held-out accuracy on the REFERENCE_SEED set."""
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)  # layer initialisation
    images, labels = anime.procedural_faces(settings.n_train, settings.size, seed=settings.seed)
    net = FaceFeatureNet(settings.width)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    steps_per_epoch = max(1, settings.n_train // settings.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.lr, total_steps=settings.epochs * steps_per_epoch)
    bar = tqdm(total=settings.epochs * steps_per_epoch, desc="face-feature net", disable=not progress, mininterval=1.0)
    for _ in range(settings.epochs):
        net.train()
        perm = torch.randperm(settings.n_train, generator=g)
        for s in range(steps_per_epoch):
            idx = perm[s * settings.batch_size : (s + 1) * settings.batch_size]
            out = net(images[idx])
            loss = sum(F.cross_entropy(out[k], labels[k][idx]) for k in anime.ATTRIBUTES)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
    bar.close()
    test_images, test_labels = anime.procedural_faces(settings.n_test, settings.size, seed=REFERENCE_SEED)
    return net.eval(), attribute_accuracy(net, test_images, test_labels)


def face_feature_net(size: int, budget_name: str | None = None, progress: bool = True,
                     seed: int = FEATURE_TRAIN_SEED) -> tuple[FaceFeatureNet, dict[str, float]]:
    """The cached feature network for this image size, budget and seed (trained on first use)."""
    settings = settings_for(size, budget_name, seed)
    net, accuracy = cached_network(cache_dir("metrics") / f"{settings.cache_key()}.pt", lambda: FaceFeatureNet(settings.width),
                                   lambda: train_face_net(settings, progress), asdict(settings))
    return net, dict(accuracy)


def gaussian_blur(images: Tensor, sigma: float = 1.0) -> Tensor:
    """Separable Gaussian blur (reflect padding), radius 3 sigma."""
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()
    c = images.shape[1]
    out = F.pad(images, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def nearest_distances(queries: Tensor, pool: Tensor, chunk: int = 1000) -> Tensor:
    """For each query feature vector, the Euclidean distance to its nearest vector in ``pool``."""
    return torch.cat([torch.cdist(queries[i : i + chunk], pool).min(1).values for i in range(0, len(queries), chunk)])


class FaceEvaluator:
    """FD of generated faces in the face-feature space, with its baselines and a memorisation check.

    >>> ev = FaceEvaluator(size=32)              # trains or loads the feature net, renders the real sets
    >>> ev.fd(samples)                           # samples: (N, 3, 32, 32) in [-1, 1]; N = 2,000 is standard
    >>> ev.baselines(untrained_samples)          # floor, ceiling, blurred, one hair colour
    """

    def __init__(self, size: int, n: int = 2000, budget_name: str | None = None, progress: bool = True,
                 net_seed: int = FEATURE_TRAIN_SEED) -> None:
        self.size, self.n = size, n
        self.net, self.accuracy = face_feature_net(size, budget_name, progress, net_seed)
        self.reportable = min(self.accuracy.values()) >= MIN_ACCURACY
        reference, _ = anime.procedural_faces(n, size, seed=REFERENCE_SEED)
        self.reference_stats = self.stats(reference)
        self._baselines: dict[str, float] | None = None

    def stats(self, images: Tensor) -> GaussianStats:
        return gaussian_stats(extract(self.net, images))

    def fd(self, images: Tensor) -> float:
        """FD between ``images`` and the held-out reference set."""
        return frechet_distance(self.stats(images), self.reference_stats)

    def baselines(self, untrained_samples: Tensor | None = None) -> dict[str, float]:
        """FD of the reference baselines (computed once) and, if given, of an untrained G's samples."""
        if self._baselines is None:
            params = anime.sample_params(self.n, seed=HELDOUT_SEED)
            heldout = anime.render_faces(params, self.size)
            one_hair = anime.render_faces({**params, "hair_colour": torch.zeros_like(params["hair_colour"])}, self.size)
            self._baselines = {
                "real_heldout": self.fd(heldout),
                "real_blurred": self.fd(gaussian_blur(heldout, 1.0)),
                "real_one_hair_colour": self.fd(one_hair),
            }
        out = dict(self._baselines)
        if untrained_samples is not None:
            out["untrained_G"] = self.fd(untrained_samples)
        return out

    @staticmethod
    def normalised(fd_g: float, fd_untrained: float, fd_real: float) -> float:
        """(FD_untrained - FD_G) / (FD_untrained - FD_real): 0 for an untrained G, 1 for real faces."""
        return (fd_untrained - fd_g) / max(fd_untrained - fd_real, 1e-12)

    def attribute_gap(self, samples: Tensor) -> dict[str, float]:
        """Per attribute, the total variation between what the network reads on ``samples`` and on
        held-out real faces (0: the same mix of values, 1: nothing in common)."""
        heldout = attribute_shares(self.net, anime.procedural_faces(self.n, self.size, seed=HELDOUT_SEED)[0])
        return {k: share_gap(v, heldout[k]) for k, v in attribute_shares(self.net, samples).items()}

    def memorisation(self, samples: Tensor, train_images: Tensor) -> dict[str, float | bool]:
        """Does G copy its training faces? Compare nearest-training-face distances with held-out faces'.

        A G that memorised would sit closer to training faces than new real faces do.
        """
        train_f = extract(self.net, train_images)
        heldout = anime.procedural_faces(min(self.n, len(samples)), self.size, seed=HELDOUT_SEED)[0]
        d_samples = nearest_distances(extract(self.net, samples), train_f).mean().item()
        d_heldout = nearest_distances(extract(self.net, heldout), train_f).mean().item()
        return {"samples_to_train": d_samples, "heldout_to_train": d_heldout, "passed": d_samples >= d_heldout}


def quality_curve_callback(evaluator: FaceEvaluator, sample_fn: Callable[[int], Tensor], steps) -> tuple[list, Callable]:
    """A training callback that records (step, FD) at the given steps; returns (records, callback)."""
    from ..training import at_steps

    records: list[tuple[int, float]] = []

    def measure(tr) -> None:
        records.append((tr.step, evaluator.fd(sample_fn(evaluator.n))))

    return records, at_steps(steps, measure)
