"""Reading your own images: one file, or a whole folder, as tensors in [-1, 1].

Every lecture can train on a real set instead of the procedural faces, for example a Kaggle anime-face
set unpacked by ``data_scripts/get_anime_faces.py``::

    from course_lib.data.folders import load_image, load_image_folder
    photo = load_image("my_cat.jpg", max_side=512)   # (3, H, W), float32 in [-1, 1]
    faces = load_image_folder(root, size=64)         # (N, 3, 64, 64), float32 in [-1, 1]

Whatever the file holds, the result is RGB:

* grayscale (``L``, ``I;16``, ``1``), palette (``P``), ``CMYK`` and ``YCbCr`` images are converted
  to RGB (16-bit grayscale is scaled down to 8 bits, not clipped; CMYK is converted without its
  colour profile);
* images with transparency (``RGBA``, ``LA``, palettes with a transparent colour) are composited
  **over white**, so a transparent background becomes white rather than whatever colour the
  invisible pixels happen to store;
* the EXIF orientation is applied, so a phone photo comes out the right way up;
* animated GIF/WebP files give their first frame.

Bad input stops with an :class:`ImageDataError` (a ``ValueError``) that names the file or folder, what
was wrong and what to do, never with a traceback from inside Pillow.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from course_lib.runtime import cache_dir
from course_lib.storage import atomic_save, safe_load

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageDataError",
    "ImageDataWarning",
    "image_to_tensor",
    "is_image_name",
    "list_image_files",
    "load_image",
    "load_image_folder",
    "tensor_to_pil",
    "to_rgb",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
_CACHE_VERSION = 1  # bump when the decoding below changes, so old caches are not reused
_RESAMPLE = Image.Resampling.LANCZOS  # antialiased when shrinking
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar")


class ImageDataError(ValueError):
    """An image file or folder cannot be used; the message says what was wrong and what to do."""


class ImageDataWarning(UserWarning):
    """Some files in an image folder were skipped (unreadable) or had to be upsampled."""


# --------------------------------------------------------------------------------------------
# One image
# --------------------------------------------------------------------------------------------
def _has_transparency(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow image -> an 8-bit RGB image (see the module docstring for each mode)."""
    if img.mode == "RGB":
        return img
    if _has_transparency(img):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(img).astype(np.float64)  # (H, W)
        if img.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257.0  # 0..65535 -> 0..255
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if img.mode == "F":
        values = np.asarray(img).astype(np.float64)
        if values.max(initial=0) <= 1.0:  # float images are usually stored in [0, 1]
            values = values * 255.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, ...


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """A Pillow image (any mode) -> float32 tensor (3, H, W) in [-1, 1]."""
    array = np.asarray(to_rgb(img), dtype=np.uint8)  # (H, W, 3)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """A tensor in [-1, 1], shaped (3, H, W), (1, H, W) or (H, W), -> an RGB or L Pillow image.

    Values outside [-1, 1] are clipped; the tensor may live on any device and require grad.
    """
    t = tensor.detach().float().cpu()
    if t.dim() == 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 3 and t.shape[0] != 3:
        raise ImageDataError(f"Expected a (3, H, W) or (1, H, W) tensor, got shape {tuple(tensor.shape)}.")
    if t.dim() not in (2, 3):
        raise ImageDataError(
            f"Expected one image, (3, H, W) or (H, W), got shape {tuple(tensor.shape)}; index a batch first."
        )
    pixels = t.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    if pixels.dim() == 3:
        return Image.fromarray(pixels.permute(1, 2, 0).numpy())
    return Image.fromarray(pixels.numpy())


def _open(path: Path, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Open, fully decode and orient one image as RGB; any failure -> ImageDataError."""
    if not path.exists():
        raise ImageDataError(f"No file at {path}. Check the path (relative paths start from {Path.cwd()}).")
    if path.is_dir():
        raise ImageDataError(
            f"{path} is a folder, not an image file. To read every image in it, use load_image_folder(path, size)."
        )
    try:
        with Image.open(path) as img:
            if draft_size is not None and img.format == "JPEG":
                img.draft("RGB", draft_size)  # let libjpeg decode at a reduced scale (still >= draft_size)
            img.load()
            try:
                oriented = ImageOps.exif_transpose(img)
            except Exception:  # a malformed EXIF block should not cost a good image
                oriented = img
            return to_rgb(oriented).copy()
    except ImageDataError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageDataError(
            f"{path} is too large for Pillow's safety limit ({err}). Downsize it with an image editor first."
        ) from None
    except UnidentifiedImageError:
        raise ImageDataError(
            f"Could not read {path}: not a recognised image format. If it is an image, it may be corrupt; "
            "open it in an image viewer or download it again. Otherwise move it out of the way."
        ) from None
    except PermissionError:
        raise ImageDataError(f"No permission to read {path}; check the file's permissions.") from None
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, ... for broken files
        raise ImageDataError(
            f"Could not read {path} as an image ({type(err).__name__}: {err}). The file is probably truncated "
            "or corrupt; open it in an image viewer, or download it again."
        ) from None


def load_image(path: str | os.PathLike, max_side: int | None = None) -> torch.Tensor:
    """Read one image as a float32 tensor (3, H, W) in [-1, 1].

    Grayscale, palette, CMYK and 16-bit images become RGB; transparent pixels (RGBA, LA, palette
    transparency) are composited over white; the EXIF orientation is applied. With ``max_side``, an
    image whose longer side is larger is shrunk (antialiased, aspect ratio kept) so that its longer
    side is ``max_side``; smaller images are left as they are.

    Raises ImageDataError for a missing path, a folder, or a file that is not a readable image.
    """
    if max_side is not None and (not isinstance(max_side, int) or max_side < 1):
        raise ImageDataError(f"max_side must be a positive integer or None, got {max_side!r}.")
    path = Path(path)
    draft = None
    if max_side is not None:
        try:
            with Image.open(path) as probe:
                width, height = probe.size
            scale = max_side / max(width, height)
            if scale < 1:
                draft = (max(1, int(width * scale)), max(1, int(height * scale)))
        except Exception:
            pass  # _open reports the problem properly
    img = _open(path, draft_size=draft)
    if max_side is not None and max(img.size) > max_side:
        width, height = img.size
        scale = max_side / max(width, height)
        new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        img = img.resize(new_size, _RESAMPLE)
    return image_to_tensor(img)


# --------------------------------------------------------------------------------------------
# A folder of images
# --------------------------------------------------------------------------------------------
def is_image_name(name: str) -> bool:
    """True for names with an image extension (case-insensitive), excluding hidden and macOS '._' files."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def list_image_files(root: str | os.PathLike) -> tuple[list[Path], int]:
    """All image files under ``root`` (recursively, following symlinked folders once), sorted.

    Returns ``(images, n_files)``: the image paths sorted by their path relative to ``root`` (folder by
    folder, so the order is the same on every machine), and how many files were seen in all. Hidden
    files and folders (names starting with '.') and ``__MACOSX`` folders are ignored.
    """
    root = Path(root)
    images: list[Path] = []
    n_files = 0
    seen_dirs: set[str] = set()
    errors: list[OSError] = []
    for current, dirs, files in os.walk(root, followlinks=True, onerror=errors.append):
        real = os.path.realpath(current)
        if real in seen_dirs:  # a symlink loop
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs[:] = [d for d in dirs if not _skip_dir(d)]
        for name in files:
            if name.startswith("."):
                continue
            n_files += 1
            if is_image_name(name):
                images.append(Path(current) / name)
    if errors and not images and n_files == 0:
        err = errors[0]
        raise ImageDataError(f"Could not list the folder {root} ({type(err).__name__}: {err}); check its permissions.")
    images.sort(key=lambda p: p.relative_to(root).parts)
    return images, n_files


def _load_square(path: Path, size: int) -> tuple[np.ndarray | None, str, bool]:
    """Decode, center-crop to a square, resize to ``size``.

    Returns ``(pixels, error, upsampled)``: uint8 (size, size, 3) or None when unreadable, the error
    message, and whether the image was smaller than ``size`` (so it had to be enlarged).
    """
    try:
        img = _open(path, draft_size=(size, size))
    except ImageDataError as err:
        return None, str(err), False
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    img = img.crop(box)  # crop first: resize(box=...) would let the filter see pixels outside the square
    if side != size:
        img = img.resize((size, size), _RESAMPLE)
    return np.array(img, dtype=np.uint8), "", side < size  # a writable copy


def _cache_key(root: Path, size: int, max_images: int | None, files: list[Path]) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{_CACHE_VERSION}|{root}|{size}|{max_images}\n".encode())
    for path in files:
        try:
            info = path.stat()
            stamp = f"{info.st_size}\t{info.st_mtime_ns}"
        except OSError:  # vanished since it was listed: it will be reported as unreadable
            stamp = "missing"
        digest.update(f"{path.relative_to(root).as_posix()}\t{stamp}\n".encode())
    return digest.hexdigest()


def _warn_skipped(root: Path, skipped: list[str], n_candidates: int, upsampled: int, size: int) -> None:
    if skipped:
        names = ", ".join(skipped[:3]) + (f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else "")
        warnings.warn(
            f"Skipped {len(skipped)} of {n_candidates} image files in {root} that could not be read "
            f"(corrupt, truncated or not images): {names}. Delete or replace them to silence this warning.",
            ImageDataWarning,
            stacklevel=3,
        )
    if upsampled:
        warnings.warn(
            f"{upsampled} images in {root} are smaller than {size}x{size} and were upsampled (blurry); "
            "consider a smaller size.",
            ImageDataWarning,
            stacklevel=3,
        )


def load_image_folder(
    root: str | os.PathLike,
    size: int,
    max_images: int | None = None,
    progress: bool = True,
    hint: str | None = None,
    *,
    use_cache: bool = True,
    workers: int | None = None,
) -> torch.Tensor:
    """Read the images under ``root`` as a float32 tensor (N, 3, size, size) in [-1, 1].

    ``root`` is an ImageFolder-style tree: images directly in it, or in class subfolders at any depth
    (labels are not returned). Files with the extensions in ``IMAGE_EXTENSIONS`` (any case) are read
    in sorted path order, so the result is the same on every run and machine. Each image is converted
    to RGB (transparency over white, EXIF orientation applied, see the module docstring),
    center-cropped to a square and resized (antialiased) to ``size`` x ``size``.

    Args:
        size: the side of the square images returned.
        max_images: read only the first ``max_images`` readable images (in sorted order); None reads all.
        progress: show a tqdm bar when there are many files to decode.
        hint: appended to error messages, e.g. how to fetch the data
            ("run data_scripts/get_anime_faces.py --archive PATH").
        use_cache: the decoded images are cached as uint8 under ``cache_dir("folders")``, keyed by the
            folder's resolved path, ``size``, ``max_images`` and the sorted file list with each file's
            size and modification time, so a second call is fast and any changed file triggers a re-read.
        workers: decoding threads (default: up to 8, one per CPU core).

    Unreadable files among good ones are skipped with one ImageDataWarning listing up to 3 names.
    Raises ImageDataError for a missing folder, a file instead of a folder, a folder with no image
    files, or one where no image could be read.
    """
    tail = f" {hint.strip()}" if hint else ""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ImageDataError(f"size must be a positive integer (the side of the square images), got {size!r}.")
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1):
        raise ImageDataError(f"max_images must be a positive integer or None, got {max_images!r}.")
    given = Path(root).expanduser()
    if not given.exists():
        raise ImageDataError(f"No folder at {given} (resolved: {given.absolute()}).{tail or ' Check the path.'}")
    if not given.is_dir():
        if given.name.lower().endswith(_ARCHIVE_SUFFIXES):
            extra = (" It looks like an archive: extract it first "
                     "(e.g. python data_scripts/get_anime_faces.py --archive PATH).")
        elif is_image_name(given.name):
            extra = " To read a single image, use load_image(path)."
        else:
            extra = ""
        raise ImageDataError(f"{given} is a file, not a folder. Pass the folder that holds the images.{extra}{tail}")
    root_path = given.resolve()
    files, n_files = list_image_files(root_path)
    exts = " ".join(IMAGE_EXTENSIONS)
    if not files:
        if n_files == 0:
            raise ImageDataError(
                f"The folder {root_path} is empty: found 0 files (looked for {exts}, in subfolders too).{tail}"
            )
        raise ImageDataError(
            f"Found {n_files} files in {root_path} but none is an image: looked for the extensions {exts} "
            f"(any case, in subfolders too). Point to the folder that holds the images.{tail}"
        )

    key = _cache_key(root_path, size, max_images, files)
    cache_path = cache_dir("folders") / f"{root_path.name[:40]}-{size}-{key[:24]}.pt"
    if use_cache and cache_path.is_file():
        try:
            cached = safe_load(cache_path)
            images = cached["images"]
            if cached.get("key") == key and images.dtype == torch.uint8 and tuple(images.shape[1:]) == (3, size, size):
                _warn_skipped(root_path, list(cached.get("skipped", [])), len(files), 0, size)
                return images.float().div_(127.5).sub_(1.0)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # a broken or foreign cache file: decode again and overwrite it

    want = len(files) if max_images is None else min(max_images, len(files))
    out = torch.empty((want, 3, size, size), dtype=torch.uint8)  # (N, 3, size, size)
    filled, upsampled = 0, 0
    skipped: list[str] = []
    first_error = ""
    n_workers = workers or max(1, min(8, os.cpu_count() or 1))
    from tqdm.auto import tqdm

    bar = tqdm(total=want, desc=f"decode {root_path.name}", unit="img", disable=not progress or len(files) < 500)
    position = 0
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        while filled < want and position < len(files):
            # Decode about as many files as are still needed (more only if some turn out unreadable).
            batch = files[position : position + min(512, max(want - filled, 4 * n_workers))]
            position += len(batch)
            for path, (array, error, small) in zip(batch, pool.map(lambda p: _load_square(p, size), batch)):
                if array is None:
                    skipped.append(path.relative_to(root_path).as_posix())
                    first_error = first_error or error
                    continue
                if filled < want:
                    out[filled] = torch.from_numpy(array).permute(2, 0, 1)
                    filled += 1
                    upsampled += int(small)
                    bar.update(1)
    bar.close()

    if filled == 0:
        raise ImageDataError(
            f"Found {len(files)} files with image extensions in {root_path}, but none could be read as an image "
            f"(they may be corrupt, truncated, or not images despite the extension). First error: {first_error}{tail}"
        )
    images = out[:filled].clone() if filled < want else out
    if use_cache:
        try:
            atomic_save({"key": key, "root": str(root_path), "images": images, "skipped": skipped}, cache_path)
        except OSError as err:
            warnings.warn(f"Could not write the image cache {cache_path} ({err}); the next call decodes again.",
                          ImageDataWarning, stacklevel=2)
    _warn_skipped(root_path, skipped, len(files), upsampled, size)
    return images.float().div_(127.5).sub_(1.0)
