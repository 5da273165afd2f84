"""The "anime" dataset name: real faces if a real set was unpacked, else procedural ones."""
from __future__ import annotations

from pathlib import Path

from . import DataSet
from ..runtime import data_dir


def real_anime_root() -> Path | None:
    """The folder data_scripts/get_anime_faces.py fills, if it holds any images (else None)."""
    from .folders import list_image_files

    root = data_dir("anime_faces")
    files, _ = list_image_files(root)
    return root if files else None


def anime_data(size: int, n: int, seed: int | None = None, allow_real: bool = True) -> DataSet:
    """Real anime faces when data_scripts/get_anime_faces.py has been run, else procedural ones.

    ``seed`` picks the procedural training set; leave it None (``anime.GAN_TRAIN_SEED``): the course's
    measurements (feature net, FD reference, held-out baselines) use other seeds, which are refused here,
    so a GAN's run seed never turns its evaluation faces into training faces.
    """
    from . import anime

    seed = anime.GAN_TRAIN_SEED if seed is None else seed
    if seed in anime.MEASUREMENT_SEEDS:
        raise ValueError(f"Procedural-face seed {seed} is reserved for measuring GANs (seeds {anime.MEASUREMENT_SEEDS}); "
                         "train on the default set (seed=None) or pick a seed outside those.")
    root = real_anime_root() if allow_real else None
    if root is not None:
        from .folders import load_image_folder

        images = load_image_folder(root, size, max_images=n)
        return DataSet("anime", images, None, f"real anime faces from {root} ({len(images):,} at {size}x{size})", False)
    images, labels = anime.procedural_faces(n, size, seed=seed)
    source = f"procedural anime faces (generator v{anime.GENERATOR_VERSION}, seed {seed}, {n:,} faces, {size}x{size})"
    return DataSet("anime", images, labels, source, True)
