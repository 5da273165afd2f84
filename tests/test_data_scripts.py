"""data_scripts: safe extraction of untrusted archives, checksums, and get_anime_faces.py end to end."""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import _safe_extract as se  # data_scripts/ is on pytest's pythonpath (pyproject.toml)
import get_anime_faces
from course_lib.data.folders import load_image_folder


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def png_bytes(colour=(255, 0, 0), size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_evil_zip(path: Path, absolute_target: Path) -> Path:
    good = png_bytes()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("faces/good.png", good)
        zf.writestr("faces/", b"")  # a folder entry
        zf.writestr("../evil.png", good)
        zf.writestr("faces/../../evil2.png", good)
        zf.writestr("..\\evil3.png", good)  # Windows-style separator
        zf.writestr(str(absolute_target), good)
        zf.writestr("C:/evil4.png", good)
        link = zipfile.ZipInfo("faces/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("faces/readme.txt", b"not an image")
        zf.writestr("__MACOSX/faces/._good.png", b"resource fork")
    return path


def make_evil_tar(path: Path, absolute_target: Path, mode: str = "w") -> Path:
    good = png_bytes((0, 255, 0))

    def add_file(tf: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))

    def add_special(tf: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tf.addfile(info)

    with tarfile.open(path, mode) as tf:
        add_file(tf, "set/good.png", good)
        add_file(tf, "../evil.png", good)
        add_file(tf, str(absolute_target), good)
        add_special(tf, "set/link.png", tarfile.SYMTYPE, "/etc/passwd")
        add_special(tf, "set/hard.png", tarfile.LNKTYPE, "set/good.png")
        add_special(tf, "set/fifo.png", tarfile.FIFOTYPE)
        add_special(tf, "set/dev.png", tarfile.CHRTYPE)
        add_file(tf, "set/link.png/inside.png", good)  # would write through the symlink
    return path


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def test_member_name_check():
    ok = se.check_member_name
    assert ok("a/./b//c.png") == ("a/b/c.png", "")
    assert ok("./") == ("", "")
    for bad, why in [("/etc/x", "absolute"), ("\\\\server\\x", "absolute"), ("C:x.png", "drive"),
                     ("a/../../x", ".."), ("a\\..\\x", ".."), ("ab:c/x", "':'"), ("a\x00b", "NUL")]:
        rel, reason = ok(bad)
        assert rel is None and why in reason, bad


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_unsafe_members_are_refused_and_reported(tmp_path, kind):
    work = tmp_path / "work"
    work.mkdir()
    absolute_target = tmp_path / "absolute_evil.png"
    if kind == "zip":
        archive = make_evil_zip(tmp_path / "a.zip", absolute_target)
    else:
        archive = make_evil_tar(tmp_path / f"a.{kind}", absolute_target, "w:gz" if kind == "tar.gz" else "w")
    dest = work / "out"
    report = se.safe_extract(archive, dest, keep=get_anime_faces.keep_image, progress=False)

    # tar: the refused symlink set/link.png is never created, so set/link.png/ becomes a plain folder.
    good = ["faces/good.png"] if kind == "zip" else ["set/good.png", "set/link.png/inside.png"]
    assert report.extracted == good
    assert files_under(dest) == set(good)
    assert not any(p.is_symlink() for p in dest.rglob("*"))
    assert set(os.listdir(work)) == {"out"}  # no stray staging folder, nothing beside dest
    for stray in (tmp_path / "evil.png", tmp_path / "evil2.png", work / "evil.png", absolute_target):
        assert not stray.exists()
    refused = dict(report.refused)
    assert "absolute" in refused[str(absolute_target)] and ".." in refused["../evil.png"]
    if kind == "zip":
        assert "symlink" in refused["faces/link.png"]
        assert ".." in refused["..\\evil3.png"] and "drive" in refused["C:/evil4.png"]
        assert "faces/readme.txt" in report.not_kept and "__MACOSX/faces/._good.png" in report.not_kept
    else:
        assert "symlink" in refused["set/link.png"] and "hardlink" in refused["set/hard.png"]
        assert refused["set/fifo.png"] == "FIFO" and refused["set/dev.png"] == "device file"
    summary = report.summary()
    assert "refused" in summary and "../evil.png" in summary


def test_strict_mode_and_bomb_guard_write_nothing(tmp_path):
    archive = make_evil_zip(tmp_path / "a.zip", tmp_path / "abs.png")
    with pytest.raises(se.UnsafeArchiveError, match="unsafe members.*nothing was extracted"):
        se.safe_extract(archive, tmp_path / "strict", strict=True, progress=False)
    with pytest.raises(se.UnsafeArchiveError, match="more than the limit of 3"):
        se.safe_extract(archive, tmp_path / "count", max_members=3, progress=False)
    with pytest.raises(se.UnsafeArchiveError, match="archive bomb"):
        se.safe_extract(archive, tmp_path / "size", max_bytes=10, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["a.zip"]


def test_interrupted_extraction_leaves_nothing(tmp_path, monkeypatch):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", png_bytes())
        zf.writestr("b.png", png_bytes())
    calls = []
    real_write = se._write_member

    def fail_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_write(*args)

    monkeypatch.setattr(se, "_write_member", fail_on_second)
    parent = tmp_path / "parent"
    with pytest.raises(KeyboardInterrupt):
        se.safe_extract(archive, parent / "out", progress=False)
    assert list(parent.iterdir()) == []


def test_not_an_archive_and_missing(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"definitely not a zip")
    with pytest.raises(se.ArchiveError, match="not a zip or tar archive"):
        se.safe_extract(tmp_path / "x.zip", tmp_path / "out")
    with pytest.raises(se.ArchiveError, match="No file at"):
        se.safe_extract(tmp_path / "missing.zip", tmp_path / "out")
    with pytest.raises(se.ArchiveError, match="is a folder"):
        se.safe_extract(tmp_path, tmp_path / "out")


def test_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    data = os.urandom(3 * 2**20 + 17)  # crosses the 1 MiB read chunks
    path.write_bytes(data)
    assert se.sha256_of(path) == hashlib.sha256(data).hexdigest()
    assert se.verify_sha256(path, hashlib.sha256(data).hexdigest().upper()) == hashlib.sha256(data).hexdigest()
    with pytest.raises(se.ChecksumError, match="mismatch"):
        se.verify_sha256(path, "0" * 64)
    with pytest.raises(se.ChecksumError, match="64 hexadecimal"):
        se.verify_sha256(path, "abc")


def small_face_zip(path: Path, n: int = 3) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            zf.writestr(f"images/{i}_2019.png", png_bytes((40 * i, 100, 200), size=(20, 20)))
        zf.writestr("images/LICENSE.txt", b"CC0")
    return path


def test_get_anime_faces_end_to_end(tmp_path, capsys, no_network):
    archive = small_face_zip(tmp_path / "anime.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    out = tmp_path / "faces"
    assert get_anime_faces.main(["--archive", str(archive), "--out", str(out), "--sha256", digest,
                                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert digest in printed and "files extracted: 3" in printed
    record = json.loads((out / "SOURCE.json").read_text())
    assert record["archive_sha256"] == digest and record["sha256_verified"] is True
    assert record["files_extracted"] == 3 and record["source"] == f"archive:{archive}"
    assert record["date"].startswith("20")
    images = load_image_folder(out, 16, progress=False)
    assert images.shape == (3, 3, 16, 16)

    # A second run into the same non-empty folder needs --force; with it, the set is replaced.
    assert get_anime_faces.main(["--archive", str(archive), "--out", str(out), "--no-progress"]) == 1
    assert "--force" in capsys.readouterr().err
    small_face_zip(archive, n=2)
    assert get_anime_faces.main(["--archive", str(archive), "--out", str(out), "--force", "--no-progress"]) == 0
    assert json.loads((out / "SOURCE.json").read_text())["files_extracted"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anime.zip", "cache", "faces"]


def test_default_out_is_data_dir(tmp_path, no_network):
    archive = small_face_zip(tmp_path / "anime.zip")
    assert get_anime_faces.main(["--archive", str(archive), "--no-progress"]) == 0
    assert (tmp_path / "data" / "anime_faces" / "SOURCE.json").is_file()


def test_sha256_mismatch_extracts_nothing(tmp_path, capsys, no_network):
    archive = small_face_zip(tmp_path / "anime.zip")
    out = tmp_path / "faces"
    assert get_anime_faces.main(["--archive", str(archive), "--out", str(out), "--sha256", "ab" * 32,
                                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "SHA-256 mismatch" in err and "Nothing was extracted" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anime.zip"]


def test_archive_without_images(tmp_path, capsys):
    archive = tmp_path / "docs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.md", b"hello")
    assert get_anime_faces.main(["--archive", str(archive), "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    assert "holds no image files" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_kaggle_setup_messages(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty_bin"))
    assert get_anime_faces.main(["--kaggle", "someone/anime", "--out", str(tmp_path / "o")]) == 1
    assert "pip install kaggle" in capsys.readouterr().err

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    source_zip = small_face_zip(tmp_path / "served.zip")
    fake = bin_dir / "kaggle"  # stands in for the real CLI: copies a local zip into -p DIR
    fake.write_text(
        f"#!{sys.executable}\nimport shutil, sys\n"
        f"args = sys.argv[1:]\nassert args[:3] == ['datasets', 'download', 'someone/anime'], args\n"
        f"shutil.copy({str(source_zip)!r}, args[args.index('-p') + 1] + '/anime.zip')\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert get_anime_faces.main(["--kaggle", "someone/anime", "--out", str(tmp_path / "o")]) == 1
    assert "kaggle.json" in capsys.readouterr().err

    (tmp_path / "home" / ".kaggle").mkdir(parents=True)
    (tmp_path / "home" / ".kaggle" / "kaggle.json").write_text("{}")
    out = tmp_path / "o"
    assert get_anime_faces.main(["--kaggle", "someone/anime", "--out", str(out), "--no-progress"]) == 0
    record = json.loads((out / "SOURCE.json").read_text())
    assert record["source"] == "kaggle:someone/anime" and record["files_extracted"] == 3
    assert record["archive_sha256"] == hashlib.sha256(source_zip.read_bytes()).hexdigest()
    assert not any(p.name.startswith(".kaggle-download-") for p in tmp_path.iterdir())
    assert get_anime_faces.main(["--kaggle=-rf", "--out", str(tmp_path / "x")]) == 1
