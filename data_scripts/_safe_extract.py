"""Safe extraction of dataset archives (zip, tar, tar.gz, tar.bz2, tar.xz), shared by the data scripts.

The data scripts unpack archives that come from elsewhere (a Kaggle download, a file a student was
given), so an archive is treated as untrusted input:

* Every write goes through this module: members are read as byte streams and written with
  ``open(path, "xb")`` under a fresh folder. Nothing is ever handed to ``extractall``.
* Refused members (reported, never written): absolute paths (``/etc/x``, ``\\\\server\\x``), drive
  letters and colons (``C:x``, NTFS streams), ``..`` components, NUL bytes, symlinks, hardlinks,
  device files, FIFOs, encrypted zip members, and a second member that maps to a path already
  written (case-insensitively, so nothing is overwritten on macOS or Windows either).
* Refused members are **skipped and reported**, not fatal, by default: real archives carry the odd
  symlink or ``__MACOSX`` entry and one of those should not cost the whole set, while skipping is
  safe because a refused member is never written anywhere. Pass ``strict=True`` to abort instead;
  the check happens before the first byte is written, so an aborted run writes nothing.
* A bomb guard: an archive with more than ``max_members`` entries, or whose kept files add up to more
  than ``max_bytes`` (or than the free disk space), is refused before extraction starts; the bytes
  actually written are counted too.
* The extraction is staged in a temporary folder next to ``dest`` and renamed into place only when
  it is complete, so an interrupted run leaves no half-extracted set behind.

Public API::

    report = safe_extract(archive, dest, keep=lambda name: name.endswith(".png"))
    print(report.summary())
    digest = sha256_of(archive)
    with staged_dir(final) as stage: ...   # write a folder that appears all at once, or not at all
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

__all__ = [
    "ArchiveError",
    "ChecksumError",
    "ExtractReport",
    "UnsafeArchiveError",
    "check_member_name",
    "safe_extract",
    "sha256_of",
    "staged_dir",
    "verify_sha256",
]

DEFAULT_MAX_MEMBERS = 1_000_000
DEFAULT_MAX_BYTES = 32 * 2**30  # 32 GiB: far above any dataset the course uses
_CHUNK = 2**20


class ArchiveError(ValueError):
    """An archive cannot be used: not found, not an archive, or unreadable."""


class UnsafeArchiveError(ArchiveError):
    """An archive was refused as a whole: too many members, too large, or unsafe members in strict mode."""


class ChecksumError(ArchiveError):
    """A file's SHA-256 differs from the one expected."""


@dataclass
class ExtractReport:
    """What ``safe_extract`` did. Paths in ``extracted`` are relative to ``dest``, '/'-separated."""

    archive: Path
    dest: Path
    kind: str  # "zip" or "tar"
    members: int = 0  # entries in the archive, directories included
    extracted: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (member name, reason)
    not_kept: list[str] = field(default_factory=list)  # safe files that ``keep`` turned down
    bytes_written: int = 0

    def summary(self, max_listed: int = 10) -> str:
        """A few lines for the terminal: counts, then each refused member with its reason."""
        lines = [
            f"{self.archive.name}: {self.members} entries ({self.kind}); extracted {len(self.extracted)} files "
            f"({self.bytes_written / 2**20:.1f} MiB) to {self.dest}; not kept (filtered out): "
            f"{len(self.not_kept)}; refused as unsafe: {len(self.refused)}"
        ]
        for name, reason in self.refused[:max_listed]:
            lines.append(f"  refused {name!r}: {reason}")
        if len(self.refused) > max_listed:
            lines.append(f"  ... and {len(self.refused) - max_listed} more refused")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------------
def sha256_of(path: str | os.PathLike, progress: bool = False) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (a tqdm bar when ``progress`` and the file is large)."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"No file at {path}; check the path.")
    digest = hashlib.sha256()
    size = path.stat().st_size
    bar = None
    if progress and size > 64 * 2**20:
        from tqdm.auto import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"SHA-256 {path.name}")
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, progress: bool = False) -> str:
    """Return the file's SHA-256 if it equals ``expected`` (hex, any case); else raise ChecksumError."""
    wanted = expected.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", wanted):
        raise ChecksumError(f"{expected!r} is not a SHA-256 (64 hexadecimal digits).")
    actual = sha256_of(path, progress=progress)
    if actual != wanted:
        raise ChecksumError(
            f"SHA-256 mismatch for {path}:\n  expected {wanted}\n  found    {actual}\n"
            "The file is not the one expected (a different version, or a truncated or corrupted download). "
            "Nothing was extracted. Download it again, or drop --sha256 if you trust this file."
        )
    return actual


# --------------------------------------------------------------------------------------------
# Member checks
# --------------------------------------------------------------------------------------------
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_member_name(name: str) -> tuple[str | None, str]:
    """Map an archive member name to a safe relative path.

    Returns ``(relative_posix_path, "")`` when the name is safe, ``(None, reason)`` when it is refused,
    and ``("", "")`` for names that only denote the archive's root (``./``). Backslashes count as
    separators, so a zip made on Windows cannot smuggle ``..\\x`` past the check.
    """
    if "\x00" in name:
        return None, "NUL byte in the name"
    unified = name.replace("\\", "/")
    if unified.startswith("/"):
        return None, "absolute path"
    if _DRIVE.match(unified):
        return None, "drive letter"
    parts = [part for part in unified.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        return None, "'..' component (would write outside the destination)"
    if any(":" in part for part in parts):
        return None, "':' in the name (drive letter or Windows stream)"
    return "/".join(parts), ""


@dataclass
class _Planned:
    name: str  # name in the archive
    rel: str  # safe relative path under dest
    size: int  # declared uncompressed size
    handle: object  # ZipInfo or TarInfo


def _zip_type_problem(info: zipfile.ZipInfo) -> str:
    """'' for a regular file or folder in a zip; else why it is refused."""
    if info.flag_bits & 0x1:
        return "encrypted member"
    mode = info.external_attr >> 16  # Unix mode, when the zip was made on Unix
    kind = stat.S_IFMT(mode)
    if kind in (0, stat.S_IFREG, stat.S_IFDIR):
        return ""
    if kind == stat.S_IFLNK:
        return "symlink"
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        return "device file"
    if kind == stat.S_IFIFO:
        return "FIFO"
    return "not a regular file"


def _tar_type_problem(info: tarfile.TarInfo) -> str:
    """'' for a regular file or folder in a tar; else why it is refused."""
    if info.isreg() or info.isdir():
        return ""
    if info.issym():
        return f"symlink (to {info.linkname!r})"
    if info.islnk():
        return f"hardlink (to {info.linkname!r})"
    if info.ischr() or info.isblk():
        return "device file"
    if info.isfifo():
        return "FIFO"
    return "not a regular file"


def _archive_kind(path: Path) -> str:
    if not path.exists():
        raise ArchiveError(f"No file at {path}; check the path to the archive.")
    if path.is_dir():
        raise ArchiveError(
            f"{path} is a folder, not an archive. Pass the .zip/.tar/.tar.gz file itself "
            "(a folder of images can be read directly with course_lib.data.folders.load_image_folder)."
        )
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, tarfile.TarError, EOFError):
        pass
    raise ArchiveError(
        f"{path} is not a zip or tar archive (.zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz). If it is a .7z or "
        ".rar, unpack it with its own tool, then pack the images as a .zip (or read the folder directly)."
    )


# --------------------------------------------------------------------------------------------
# Staging: a folder that appears complete or not at all
# --------------------------------------------------------------------------------------------
def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``final``; on success rename it to ``final``.

    ``final`` may be missing or an empty folder. If it holds files, ``replace=True`` swaps it out (the
    old folder is deleted only after the new one is in place); otherwise ArchiveError. On any exception
    the temporary folder is deleted and ``final`` is left as it was.
    """
    final = Path(final).absolute()
    if final.is_symlink():  # a link to a data folder elsewhere: fill the folder it points to
        final = final.resolve()
    if final.exists() and not _is_empty_dir(final):
        if not final.is_dir() or final.is_symlink():
            raise ArchiveError(f"{final} exists and is a file, not a folder; choose another destination.")
        if not replace:
            count = sum(1 for _ in final.rglob("*"))
            raise ArchiveError(
                f"{final} already holds {count} entries. Pass --force (replace=True) to replace them, "
                "or choose another destination."
            )
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield stage
        old = None
        if final.exists():
            if _is_empty_dir(final):
                final.rmdir()
            else:  # replace=True: move the old set aside, put the new one in place, then delete the old
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
                old.rmdir()
                os.rename(final, old)
        os.rename(stage, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------
def _plan(archive_obj, kind: str, keep: Callable[[str], bool] | None, report: ExtractReport) -> list[_Planned]:
    """Classify every member (extract / refuse / not kept / folder) without writing anything."""
    planned: list[_Planned] = []
    taken: dict[str, str] = {}  # casefolded relative path -> "file" or "dir"
    infos = archive_obj.infolist() if kind == "zip" else archive_obj.getmembers()
    report.members = len(infos)
    for info in infos:
        name = info.filename if kind == "zip" else info.name
        problem = _zip_type_problem(info) if kind == "zip" else _tar_type_problem(info)
        if problem:
            report.refused.append((name, problem))
            continue
        rel, reason = check_member_name(name)
        if rel is None:
            report.refused.append((name, reason))
            continue
        is_dir = info.is_dir() if kind == "zip" else info.isdir()
        if is_dir or not rel:
            continue  # folders are created as needed for the files under them
        # Compare paths the way case-insensitive, normalising file systems (macOS, Windows) would.
        folded = unicodedata.normalize("NFC", rel).casefold()
        key = folded
        parents = ["/".join(folded.split("/")[:i]) for i in range(1, folded.count("/") + 1)]
        if key in taken:
            report.refused.append((name, "duplicate of a path already extracted"))
            continue
        if any(taken.get(parent) == "file" for parent in parents):
            report.refused.append((name, "a file of the same name as one of its folders was extracted"))
            continue
        if keep is not None and not keep(rel):
            report.not_kept.append(rel)
            continue
        taken[key] = "file"
        for parent in parents:
            taken.setdefault(parent, "dir")
        size = info.file_size if kind == "zip" else info.size
        planned.append(_Planned(name, rel, int(size), info))
    return planned


def _write_member(source, target: Path, budget_left: int) -> int:
    """Copy a member stream to a new file; return its size. Aborts if the byte budget runs out."""
    written = 0
    with open(target, "xb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > budget_left:
                raise UnsafeArchiveError(
                    f"The archive's files are larger than they declare, past the size limit, at {target.name}; "
                    "extraction stopped and nothing was kept. The archive may be corrupt or malicious."
                )
            out.write(chunk)
    return written


def safe_extract(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    keep: Callable[[str], bool] | None = None,
    *,
    strict: bool = False,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    atomic: bool = True,
    replace: bool = False,
    progress: bool = True,
) -> ExtractReport:
    """Extract the regular files of a zip or tar archive into ``dest``, refusing anything unsafe.

    Args:
        archive: a .zip, .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz (recognised by content, not name).
        dest: the folder to create. With ``atomic=True`` (default) it must be missing or empty (or
            ``replace=True``): files are extracted into a temporary sibling folder that is renamed to
            ``dest`` only once everything is written. With ``atomic=False`` files are written straight
            into ``dest`` (use this inside your own ``staged_dir``); it must not already hold them.
        keep: ``keep(relative_path) -> bool`` chooses which safe files to write (e.g. images only);
            the others are listed in ``report.not_kept``. None keeps every file.
        strict: abort (UnsafeArchiveError, nothing written) if any member is refused, instead of
            skipping and reporting it.
        max_members, max_bytes: the bomb guard (entries in the archive; uncompressed bytes of the kept
            files). Exceeding either raises UnsafeArchiveError before anything is written.
        progress: a tqdm bar while writing.

    Returns an ExtractReport (``print(report.summary())`` shows the refused members and why).
    """
    archive = Path(archive)
    dest = Path(dest).absolute()
    kind = _archive_kind(archive)
    report = ExtractReport(archive=archive, dest=dest, kind=kind)
    try:
        opened = zipfile.ZipFile(archive) if kind == "zip" else tarfile.open(archive, "r:*")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise ArchiveError(f"Could not open {archive} ({type(err).__name__}: {err}); it may be truncated.") from None
    with opened:
        try:
            planned = _plan(opened, kind, keep, report)
        except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
            raise ArchiveError(
                f"Could not read the list of files in {archive} ({type(err).__name__}: {err}); "
                "the archive is probably truncated or corrupt. Download it again."
            ) from None
        if report.members > max_members:
            raise UnsafeArchiveError(
                f"{archive} has {report.members:,} entries, more than the limit of {max_members:,}. "
                "This looks like an archive bomb or the wrong file; if you trust it, raise max_members."
            )
        total = sum(item.size for item in planned)
        if total > max_bytes:
            raise UnsafeArchiveError(
                f"{archive} would unpack to {total / 2**30:.2f} GiB, more than the limit of "
                f"{max_bytes / 2**30:.2f} GiB. This looks like an archive bomb or the wrong file; "
                "if you trust it, raise the limit (max_bytes, or the script's --max-gb)."
            )
        if strict and report.refused:
            listed = "; ".join(f"{name!r}: {why}" for name, why in report.refused[:5])
            raise UnsafeArchiveError(
                f"{archive} contains {len(report.refused)} unsafe members ({listed}); nothing was extracted."
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(dest.parent).free
        if total > free:
            raise ArchiveError(
                f"Extracting needs {total / 2**30:.2f} GiB but only {free / 2**30:.2f} GiB is free under "
                f"{dest.parent}; free some space or choose another destination."
            )

        def write_all(root: Path) -> None:
            from tqdm.auto import tqdm

            budget_left = max_bytes
            for item in tqdm(planned, desc=f"extract {archive.name}", unit="file", disable=not progress,
                             mininterval=0.5):
                target = root.joinpath(*item.rel.split("/"))
                # Belt and braces: the name check already rules this out.
                if os.path.commonpath([str(root), str(target.absolute())]) != str(root):
                    raise UnsafeArchiveError(f"Refusing to write {item.name!r} outside {root}.")
                target.parent.mkdir(parents=True, exist_ok=True)
                if kind == "zip":
                    source = opened.open(item.handle)
                else:
                    source = opened.extractfile(item.handle)
                    if source is None:  # not a regular file after all
                        report.refused.append((item.name, "not a regular file"))
                        continue
                try:
                    with source:
                        size = _write_member(source, target, budget_left)
                except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
                    if isinstance(err, FileExistsError):
                        raise UnsafeArchiveError(f"{target} already exists; refusing to overwrite it.") from None
                    raise ArchiveError(
                        f"Could not read {item.name!r} from {archive} ({type(err).__name__}: {err}); the archive "
                        "is probably truncated or corrupt. Nothing was kept; download it again."
                    ) from None
                budget_left -= size
                report.bytes_written += size
                report.extracted.append(item.rel)

        if atomic:
            with staged_dir(dest, replace=replace) as stage:
                write_all(stage)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            write_all(dest)
    return report
