"""Bring a real anime-face set into the course, on purpose and safely.

The lectures train on procedural anime faces by default (course_lib.data, no download). To use a real
set instead, give this script an archive you already have, or let it call the Kaggle CLI with your own
Kaggle token:

    python data_scripts/get_anime_faces.py --archive ~/Downloads/archive.zip
    python data_scripts/get_anime_faces.py --archive faces.tar.gz --sha256 <hex> --out data/anime
    python data_scripts/get_anime_faces.py --kaggle splcher/animefacedataset

What it does:

* records the archive's SHA-256, the number of files extracted, the date and the source in
  ``OUT/SOURCE.json`` and prints them (``--sha256 HEX`` checks the archive first: on a mismatch
  nothing is extracted);
* extracts only image files, safely (see data_scripts/_safe_extract.py): members with absolute paths,
  drive letters, '..' components, links, devices or FIFOs are skipped and listed; an archive bomb is
  refused; the set is unpacked into a temporary folder next to OUT and renamed into place at the end,
  so an interrupted run leaves nothing half-done;
* never touches the network, except through the Kaggle CLI when ``--kaggle`` is given. It never asks
  for, reads or stores your Kaggle token; the CLI reads it from where Kaggle's instructions put it.

Then, in a notebook: ``load_image_folder(OUT, size=64)`` (course_lib.data.folders).
The default OUT is ``course_lib.runtime.data_dir("anime_faces")`` (COURSE_DATA overrides its root).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
try:
    import course_lib  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(_HERE.parent))

from _safe_extract import (  # noqa: E402
    DEFAULT_MAX_BYTES,
    ArchiveError,
    safe_extract,
    sha256_of,
    staged_dir,
    verify_sha256,
)
from course_lib.data.folders import is_image_name  # noqa: E402
from course_lib.runtime import data_dir  # noqa: E402

EXAMPLE_SLUG = "splcher/animefacedataset"  # "Anime Face Dataset", about 63k faces, 400 MB zip


class SetupError(RuntimeError):
    """Something the user has to install or configure first (the message says what)."""


def keep_image(relative_path: str) -> bool:
    """Keep image files only; skip macOS resource forks ('__MACOSX/', '._x.png') and hidden files."""
    parts = relative_path.split("/")
    return "__MACOSX" not in parts[:-1] and not any(p.startswith(".") for p in parts[:-1]) and is_image_name(parts[-1])


def _kaggle_credentials_present() -> bool:
    """Whether the Kaggle CLI will find a token. Only checks that it exists; never reads it."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    folders = [os.environ.get("KAGGLE_CONFIG_DIR"), Path.home() / ".kaggle"]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    folders.append(Path(xdg) / "kaggle" if xdg else Path.home() / ".config" / "kaggle")
    return any(folder and (Path(folder) / "kaggle.json").is_file() for folder in folders)


def download_with_kaggle(slug: str, into: Path) -> Path:
    """Run ``kaggle datasets download SLUG -p INTO`` with the user's own CLI and token; return the zip."""
    if "/" not in slug or slug.count("/") != 1 or any(c.isspace() for c in slug) or slug.startswith("-"):
        raise SetupError(f"{slug!r} is not a Kaggle dataset slug; it looks like OWNER/NAME, e.g. {EXAMPLE_SLUG}.")
    exe = shutil.which("kaggle")
    if exe is None:
        raise SetupError(
            "The Kaggle command-line tool is not installed (no `kaggle` on PATH). Install it with\n"
            "    pip install kaggle\n"
            "or download the archive from kaggle.com in your browser and run\n"
            "    python data_scripts/get_anime_faces.py --archive PATH/TO/archive.zip"
        )
    if not _kaggle_credentials_present():
        raise SetupError(
            "The Kaggle CLI is installed but has no API token. On kaggle.com open Settings -> API -> "
            "'Create New Token'; it downloads kaggle.json. Save it as ~/.kaggle/kaggle.json and run "
            "`chmod 600 ~/.kaggle/kaggle.json`\n(or set KAGGLE_USERNAME and KAGGLE_KEY). This script never "
            "asks for or stores your token. Or download the archive in your browser and use --archive."
        )
    before = set(into.iterdir())
    print(f"Running: kaggle datasets download {slug} -p {into}", flush=True)
    result = subprocess.run([exe, "datasets", "download", slug, "-p", str(into)], check=False)
    if result.returncode != 0:
        raise SetupError(
            f"`kaggle datasets download {slug}` failed (exit code {result.returncode}; its message is above). "
            "Check the slug on kaggle.com, that you accepted the dataset's terms there, and your token."
        )
    new = sorted(p for p in set(into.iterdir()) - before if p.is_file())
    if not new:
        raise SetupError(f"The Kaggle CLI reported success but wrote no file into {into}.")
    return max(new, key=lambda p: p.stat().st_size)


def fetch(
    archive: Path,
    out: Path,
    *,
    source: str,
    expected_sha256: str | None = None,
    force: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = True,
) -> dict:
    """Verify (optionally), extract the images of ``archive`` into ``out`` atomically, write SOURCE.json."""
    if expected_sha256:
        digest = verify_sha256(archive, expected_sha256, progress=progress)
        print(f"SHA-256 verified: {digest}", flush=True)
    else:
        digest = sha256_of(archive, progress=progress)
    with staged_dir(out, replace=force) as stage:
        report = safe_extract(archive, stage, keep=keep_image, atomic=False, max_bytes=max_bytes, progress=progress)
        report.dest = out  # where the files will be once the staging folder is renamed
        print(report.summary(), flush=True)
        if not report.extracted:
            raise ArchiveError(
                f"{archive} holds no image files (.jpg, .png, ...): {report.members} entries, "
                f"{len(report.not_kept)} other files, {len(report.refused)} refused. Is it the right archive?"
            )
        record = {
            "source": source,
            "archive": archive.name,
            "archive_sha256": digest,
            "sha256_verified": bool(expected_sha256),
            "archive_bytes": archive.stat().st_size,
            "files_extracted": len(report.extracted),
            "bytes_extracted": report.bytes_written,
            "not_kept": len(report.not_kept),
            "refused": [{"member": name, "reason": why} for name, why in report.refused],
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "script": "data_scripts/get_anime_faces.py",
        }
        (stage / "SOURCE.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Extract a real anime-face set (an archive you have, or a Kaggle download) for the course.",
        epilog=f"Example: --archive ~/Downloads/archive.zip, or --kaggle {EXAMPLE_SLUG} (needs your own Kaggle token).",
    )
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--archive", type=Path, help="a .zip, .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz you already have")
    src.add_argument("--kaggle", metavar="OWNER/NAME", help="download with the Kaggle CLI and your own token")
    parser.add_argument("--out", type=Path, default=None,
                        help="destination folder (default: course_lib.runtime.data_dir('anime_faces'))")
    parser.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the archive; checked before extracting")
    parser.add_argument("--force", action="store_true", help="replace an existing, non-empty destination")
    parser.add_argument("--max-gb", type=float, default=DEFAULT_MAX_BYTES / 2**30,
                        help="refuse archives that unpack to more than this many GiB "
                             "(archive-bomb guard; default %(default).0f)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (0 success, 1 a problem explained on stderr)."""
    args = build_parser().parse_args(argv)
    out = (args.out.expanduser() if args.out is not None else data_dir("anime_faces")).absolute()
    progress = not args.no_progress
    try:
        if args.archive is not None:
            archive = args.archive.expanduser().absolute()
            record = fetch(archive, out, source=f"archive:{archive}", expected_sha256=args.sha256,
                           force=args.force, max_bytes=int(args.max_gb * 2**30), progress=progress)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".kaggle-download-", dir=out.parent) as tmp:
                archive = download_with_kaggle(args.kaggle, Path(tmp))
                record = fetch(archive, out, source=f"kaggle:{args.kaggle}", expected_sha256=args.sha256,
                               force=args.force, max_bytes=int(args.max_gb * 2**30), progress=progress)
    except (ArchiveError, SetupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"source:          {record['source']}")
    print(f"archive SHA-256: {record['archive_sha256']}" + (" (verified)" if record["sha256_verified"] else ""))
    print(f"files extracted: {record['files_extracted']} images into {out}")
    print(f"date:            {record['date']}")
    print(f"recorded in      {out / 'SOURCE.json'}")
    print(f"Use it with:     load_image_folder({str(out)!r}, size=64)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
