"""Fetch torchvision's VGG16 ImageNet weights into torch's cache, on purpose and checked.

Lecture 14's perceptual losses use VGG16 (the paper's loss network) only when its weights are already
in torch's cache; otherwise they use the TF-Inception network that `make install` provides. Run this
once, online, to switch the lecture to VGG16:

    python data_scripts/get_vgg16.py                 # 528 MB into <torch hub dir>/checkpoints/
    python data_scripts/get_vgg16.py --sha256 HEX    # also require this exact SHA-256
    python data_scripts/get_vgg16.py --check         # only check a file already there

What it does: downloads ``VGG16_Weights.IMAGENET1K_V1`` (https://download.pytorch.org/models/vgg16-397923af.pth)
to a temporary file next to the target, computes its SHA-256, requires it to start with the 8 hex
digits in the file name (torchvision's own naming rule, also what torch.hub checks) and, with
``--sha256``, to equal the digest given; only then renames it into place. It prints and records the
full SHA-256 it saw in ``vgg16-397923af.pth.SOURCE.json``. The cache folder is torch's
(``torch.hub.get_dir()``, which follows TORCH_HOME), so torchvision itself finds the file too.
Nothing else in the course ever downloads these weights.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
try:
    import course_lib  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(_HERE.parent))

from course_lib.models import loss_network as lossnet  # noqa: E402
from course_lib.storage import file_digest  # noqa: E402


def check(path: Path, sha256: str | None) -> str:
    """The file's SHA-256, after checking it against the name's prefix (and ``sha256`` if given)."""
    seen = file_digest(path, "sha256")
    if not seen.startswith(lossnet.VGG16_SHA256_PREFIX):
        raise SystemExit(f"error: {path} has SHA-256 {seen}, which does not start with "
                         f"{lossnet.VGG16_SHA256_PREFIX} as its name says: the download is damaged or not VGG16.")
    if sha256 and seen != sha256.lower():
        raise SystemExit(f"error: {path} has SHA-256 {seen}, not the {sha256} you asked for.")
    return seen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sha256", default=None, help="require this exact SHA-256 (64 hex digits)")
    p.add_argument("--check", action="store_true", help="do not download; check the cached file")
    p.add_argument("--force", action="store_true", help="download again even if the file is there")
    args = p.parse_args(argv)
    target = lossnet.vgg16_cache_path()
    if args.check or (target.is_file() and not args.force):
        if not target.is_file():
            raise SystemExit(f"error: no file at {target}; run without --check to download it.")
        seen = check(target, args.sha256)
        print(f"{target} is VGG16 (SHA-256 {seen}); lecture 14 will use it as its loss network.")
        return 0
    import torch.hub

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    print(f"downloading {lossnet.VGG16_URL}\n         to {target}")
    try:
        torch.hub.download_url_to_file(lossnet.VGG16_URL, str(tmp), hash_prefix=None, progress=True)
        seen = check(tmp, args.sha256)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    record = {"url": lossnet.VGG16_URL, "sha256": seen, "bytes": target.stat().st_size,
              "fetched": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    target.with_name(target.name + ".SOURCE.json").write_text(json.dumps(record, indent=2))
    print(f"OK: SHA-256 {seen}; lecture 14 will now use VGG16 as its loss network.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
