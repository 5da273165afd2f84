"""Fetch lecture 12's real domains: public-domain Van Gogh scans and landscape photos, checksummed.

The lecture trains offline on photos and a painterly transform of photos (course_lib.data.painterly).
With network access, this script brings real paintings and photos instead, from a list of URLs
(``data_scripts/vangogh_list.tsv``: domain, name, url, sha256, licence, page):

    python data_scripts/get_vangogh.py                       # into course_lib.runtime.data_dir("vangogh")
    python data_scripts/get_vangogh.py --dry-run             # print what it would fetch; no network
    python data_scripts/get_vangogh.py --list my_list.tsv --out data/vangogh

Checksums, honestly:

* An entry whose sha256 column holds a hash is verified against it; on a mismatch the file is thrown
  away and the run fails for that entry.
* The shipped list has no hashes yet (it was written offline, where no file could be seen). For such
  entries the script works on **trust on first use**: it records the SHA-256 of the first download in
  ``OUT/SHA256SUMS.json``, says so, and checks every later download against that record. Paste the
  printed hashes into the list to pin them for everyone.
* Every file must open as an image (Pillow) and stay under ``--max-mb``; it is written to a temporary
  name and renamed into place only when all checks passed. ``OUT/SOURCE.json`` records, per file, the
  URL, SHA-256, how it was verified (listed / recorded earlier / first use), licence and date.

Nothing is fetched at import time; the network is touched only by ``main`` (and not with --dry-run).
Then: ``photo_painting_crops(photos_dir=OUT / "photo", paintings_dir=OUT / "painting")``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
try:
    import course_lib  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(_HERE.parent))

from _safe_extract import ArchiveError, ChecksumError, sha256_of  # noqa: E402

DEFAULT_LIST = _HERE / "vangogh_list.tsv"
DOMAINS = ("painting", "photo")
USER_AGENT = "gan-course-data-script/1.0 (educational; https://github.com/gan-course/gan-course)"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")

urlopen = urllib.request.urlopen  # the one door to the network (tests replace it)


@dataclass(frozen=True)
class Entry:
    domain: str
    name: str
    url: str
    sha256: str | None  # None: not known yet (trust on first use)
    licence: str
    page: str


def read_list(path: str | os.PathLike) -> list[Entry]:
    """Parse a list file; a clear error names the line that is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"No list file at {path}.")
    entries, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            raise ArchiveError(f"{path}:{number}: expected 6 tab-separated columns "
                               f"(domain, name, url, sha256, licence, page), got {len(cols)}.")
        domain, name, url, digest, licence, page = (c.strip() for c in cols)
        if domain not in DOMAINS:
            raise ArchiveError(f"{path}:{number}: domain must be one of {', '.join(DOMAINS)}, got {domain!r}.")
        if not _NAME.match(name):
            raise ArchiveError(f"{path}:{number}: name {name!r} must be lower-case letters, digits, '_' or '-'.")
        if not url.startswith("https://"):
            raise ArchiveError(f"{path}:{number}: only https:// URLs are fetched, got {url!r}.")
        digest = digest.lower()
        if digest != "-" and not _HEX.match(digest):
            raise ArchiveError(f"{path}:{number}: sha256 must be 64 hex digits or '-', got {digest!r}.")
        if (domain, name) in seen:
            raise ArchiveError(f"{path}:{number}: {domain}/{name} is listed twice.")
        seen.add((domain, name))
        entries.append(Entry(domain, name, url, None if digest == "-" else digest, licence, page))
    if not entries:
        raise ArchiveError(f"{path} lists no files.")
    return entries


def download(url: str, dest: Path, max_bytes: int, timeout: float = 60.0) -> int:
    """Stream ``url`` into ``dest``; refuse more than ``max_bytes``. Returns the size."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    size = 0
    with urlopen(request, timeout=timeout) as response, open(dest, "wb") as handle:
        while chunk := response.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise ArchiveError(f"{url} is larger than {max_bytes / 2**20:.0f} MB; refused (raise --max-mb).")
            handle.write(chunk)
    if size == 0:
        raise ArchiveError(f"{url} returned an empty file.")
    return size


def _check_image(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            return img.size
    except Exception as err:
        raise ArchiveError(f"The download is not a readable image ({type(err).__name__}: {err}).") from None


def fetch_entry(entry: Entry, out: Path, recorded: dict[str, str], max_bytes: int) -> dict:
    """Fetch one file into OUT/domain/name.jpg (unless already there and verified); return its record."""
    key = f"{entry.domain}/{entry.name}"
    target = out / entry.domain / f"{entry.name}.jpg"
    expected = entry.sha256 or recorded.get(key)
    how = "listed" if entry.sha256 else ("recorded earlier" if key in recorded else "first use")
    if target.is_file() and expected and sha256_of(target) == expected:
        return {"file": str(target.relative_to(out)), "sha256": expected, "verified": how, "fetched": False}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        size = download(entry.url, tmp, max_bytes)
        digest = sha256_of(tmp)
        if expected and digest != expected:
            raise ChecksumError(f"SHA-256 mismatch for {key} ({how}):\n  expected {expected}\n  found    {digest}\n"
                                "The server sent another file than before (re-encoded or replaced). It was not kept. "
                                "Check the page, then update the list (or delete its line in SHA256SUMS.json).")
        width, height = _check_image(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if how == "first use":
        recorded[key] = digest
        print(f"  trust on first use: recorded SHA-256 {digest} for {key} (nothing to check it against yet)")
    return {"file": str(target.relative_to(out)), "sha256": digest, "verified": how, "fetched": True,
            "bytes": size, "size": [width, height]}


def fetch_all(entries: list[Entry], out: Path, max_bytes: int) -> tuple[dict, list[str]]:
    """Fetch every entry; returns (SOURCE.json record, failures). SHA256SUMS.json is updated as it goes."""
    out.mkdir(parents=True, exist_ok=True)
    sums_path = out / "SHA256SUMS.json"
    recorded = json.loads(sums_path.read_text()) if sums_path.is_file() else {}
    files, failures = {}, []
    for entry in entries:
        key = f"{entry.domain}/{entry.name}"
        print(f"{key}: {entry.url}", flush=True)
        try:
            rec = fetch_entry(entry, out, recorded, max_bytes)
        except (ArchiveError, OSError) as err:
            failures.append(f"{key}: {err}")
            print(f"  FAILED: {err}", file=sys.stderr)
            continue
        files[key] = {**rec, "url": entry.url, "licence": entry.licence, "page": entry.page}
        sums_path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    record = {"script": "data_scripts/get_vangogh.py", "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "files": files, "failures": failures}
    (out / "SOURCE.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record, failures


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Fetch public-domain Van Gogh scans and landscape photos (checksummed).")
    p.add_argument("--list", type=Path, default=DEFAULT_LIST, help="the list file (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="destination (default: course_lib.runtime.data_dir('vangogh'))")
    p.add_argument("--only", choices=DOMAINS, default=None, help="fetch one domain only")
    p.add_argument("--max-mb", type=float, default=50.0, help="refuse files larger than this (default %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="print the plan; touch no network")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        entries = [e for e in read_list(args.list) if args.only in (None, e.domain)]
    except ArchiveError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.out is None:
        from course_lib.runtime import data_dir

        args.out = data_dir("vangogh")
    out = args.out.expanduser().absolute()
    if args.dry_run:
        for e in entries:
            print(f"{e.domain}/{e.name}: {e.url}  sha256 {e.sha256 or 'unknown (trust on first use)'}  [{e.licence}]")
        print(f"would write into {out}")
        return 0
    record, failures = fetch_all(entries, out, int(args.max_mb * 2**20))
    print(f"{len(record['files'])} files in {out}; {len(failures)} failed. Record: {out / 'SOURCE.json'}")
    print(f"Use them with: photo_painting_crops(photos_dir={str(out / 'photo')!r}, paintings_dir={str(out / 'painting')!r})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
