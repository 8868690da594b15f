"""Archives unpack into their destination and nowhere else."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from nomadjail.client.artifacts.errors import ArtifactError
from nomadjail.client.artifacts.unpack import Limits, archive_type, unpack

from .archives import Entry, tar_bytes, zip_bytes

NO_LIMITS = Limits()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def everything_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("path, kind", [
    ("/a/app.tar.gz", "tar.gz"), ("/a/app.tgz", "tgz"), ("/a/app.tar.bz2", "tar.bz2"),
    ("/a/app.tar.xz", "tar.xz"), ("/a/app.zip", "zip"), ("/a/app.gz", "gz"),
    ("/a/app.tar", "tar"), ("/a/app.txt", ""), ("/a/app", "")])
def test_the_archive_type_is_the_longest_extension(path: str, kind: str) -> None:
    assert archive_type(path) == kind


@pytest.mark.parametrize("compression, kind", [("gz", "tgz"), ("bz2", "tar.bz2"),
                                               ("xz", "txz"), ("", "tar")])
def test_tar_archives_unpack_with_their_tree_and_modes(tmp_path: Path, compression: str,
                                                       kind: str) -> None:
    archive = write(tmp_path, "a", tar_bytes([
        Entry("bin/", kind=tarfile.DIRTYPE, mode=0o755),
        Entry("bin/tool", b"#!/bin/sh\necho hi\n", mode=0o4755),
        Entry("etc/app.conf", b"port = 80\n"),
        Entry("bin/link", kind=tarfile.SYMTYPE, link="tool"),
        Entry("etc/copy.conf", kind=tarfile.LNKTYPE, link="etc/app.conf"),
    ], compression))
    dst = tmp_path / "dst"
    unpack(kind, archive, str(dst), into_dir=True, limits=NO_LIMITS)
    assert (dst / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    # setuid is never kept (Nomad's umask for artifacts)
    assert stat.S_IMODE((dst / "bin/tool").stat().st_mode) == 0o755
    assert os.readlink(dst / "bin/link") == "tool"
    assert (dst / "etc/copy.conf").read_bytes() == b"port = 80\n"


def test_zip_archives_unpack(tmp_path: Path) -> None:
    archive = write(tmp_path, "a.zip", zip_bytes({"app/run.sh": b"run", "README": b"hi"},
                                                 symlinks={"app/latest": "run.sh"}))
    dst = tmp_path / "dst"
    unpack("zip", archive, str(dst), into_dir=True, limits=NO_LIMITS)
    assert (dst / "app/run.sh").read_bytes() == b"run"
    assert os.readlink(dst / "app/latest") == "run.sh"


HOSTILE_TARS = {
    "parent traversal": ([Entry("../evil", b"x")], "entry contains '..': ../evil"),
    "nested traversal": ([Entry("a/../../evil", b"x")], "entry contains '..': a/../../evil"),
    "absolute path": ([Entry("/tmp/evil", b"x")], "entry has an absolute path: /tmp/evil"),
    "symlink out": ([Entry("out", kind=tarfile.SYMTYPE, link="../../outside")],
                    "entry out is a symlink to ../../outside, outside the destination"),
    "absolute symlink": ([Entry("etc", kind=tarfile.SYMTYPE, link="/etc")],
                         "entry etc is a symlink to /etc, outside the destination"),
    "hard link out": ([Entry("pw", kind=tarfile.LNKTYPE, link="../outside")],
                      "entry pw is a hard link to ../outside, outside the destination"),
    "device": ([Entry("null", kind=tarfile.CHRTYPE)], "entry null is a device or FIFO"),
    "fifo": ([Entry("pipe", kind=tarfile.FIFOTYPE)], "entry pipe is a device or FIFO"),
    "write through a link": ([Entry("dir", kind=tarfile.SYMTYPE, link="."),
                              Entry("dir/../../evil", b"x")], "entry contains '..'"),
}


@pytest.mark.parametrize("case", HOSTILE_TARS)
def test_hostile_tar_entries_are_refused_by_name(tmp_path: Path, case: str) -> None:
    entries, message = HOSTILE_TARS[case]
    (tmp_path / "outside").write_text("keep")
    archive = write(tmp_path, "a.tgz", tar_bytes(entries))
    dst = tmp_path / "sandbox" / "dst"
    before = everything_under(tmp_path) - {"sandbox", "sandbox/dst"}
    with pytest.raises(ArtifactError) as err:
        unpack("tgz", archive, str(dst), into_dir=True, limits=NO_LIMITS)
    assert message in str(err.value)
    after = {p for p in everything_under(tmp_path) if not p.startswith("sandbox")}
    assert after == before - {"sandbox"}
    assert (tmp_path / "outside").read_text() == "keep"


def test_zip_slip_is_refused_and_nothing_is_written_outside(tmp_path: Path) -> None:
    archive = write(tmp_path, "slip.zip", zip_bytes({"ok.txt": b"fine",
                                                     "../../evil.sh": b"owned"}))
    dst = tmp_path / "a" / "b" / "dst"
    with pytest.raises(ArtifactError) as err:
        unpack("zip", archive, str(dst), into_dir=True, limits=NO_LIMITS)
    assert str(err.value) == "entry contains '..': ../../evil.sh"
    assert not list(tmp_path.rglob("evil.sh"))


def test_a_zip_symlink_pointing_out_is_refused(tmp_path: Path) -> None:
    archive = write(tmp_path, "l.zip", zip_bytes({}, symlinks={"passwd": "/etc/passwd"}))
    with pytest.raises(ArtifactError) as err:
        unpack("zip", archive, str(tmp_path / "dst"), into_dir=True, limits=NO_LIMITS)
    assert str(err.value) == "entry passwd is a symlink to /etc/passwd, outside the destination"


def test_the_file_count_limit_is_enforced_while_extracting(tmp_path: Path) -> None:
    archive = write(tmp_path, "many.tgz", tar_bytes([Entry(f"f{i}", b"x") for i in range(5)]))
    with pytest.raises(ArtifactError) as err:
        unpack("tgz", archive, str(tmp_path / "dst"), into_dir=True, limits=Limits(max_files=3))
    assert str(err.value) == "tar archive contains too many files: 4 > 3"
    zipped = write(tmp_path, "many.zip", zip_bytes({f"f{i}": b"x" for i in range(5)}))
    with pytest.raises(ArtifactError) as err:
        unpack("zip", zipped, str(tmp_path / "z"), into_dir=True, limits=Limits(max_files=3))
    assert str(err.value) == "zip archive contains too many files: 5 > 3"


def test_the_size_limit_counts_the_bytes_unpacked(tmp_path: Path) -> None:
    # A small archive that unpacks to 1 MiB: the limit stops it, whatever the download size.
    archive = write(tmp_path, "bomb.tgz", tar_bytes([Entry("zeros", b"\0" * (1 << 20))]))
    assert os.path.getsize(archive) < 10_000
    with pytest.raises(ArtifactError) as err:
        unpack("tgz", archive, str(tmp_path / "dst"), into_dir=True,
               limits=Limits(max_bytes=100_000))
    assert "larger than limit: 100000 bytes (decompression_size_limit)" in str(err.value)


def test_single_file_compressions_unpack_to_a_file(tmp_path: Path) -> None:
    import gzip
    archive = write(tmp_path, "tool.gz", gzip.compress(b"binary"))
    unpack("gz", archive, str(tmp_path / "out" / "tool"), into_dir=False, limits=NO_LIMITS)
    assert (tmp_path / "out" / "tool").read_bytes() == b"binary"
    with pytest.raises(ArtifactError) as err:
        unpack("gz", archive, str(tmp_path / "dir"), into_dir=True, limits=NO_LIMITS)
    assert "gzip-compressed files can only unarchive to a single file" in str(err.value)


def test_broken_and_empty_archives_are_clear_errors(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.tgz", b"not a tarball at all")
    with pytest.raises(ArtifactError) as err:
        unpack("tgz", broken, str(tmp_path / "dst"), into_dir=True, limits=NO_LIMITS)
    assert str(err.value).startswith("failed to read tar archive broken.tgz")
    empty = write(tmp_path, "empty.tgz", tar_bytes([]))
    with pytest.raises(ArtifactError) as err:
        unpack("tgz", empty, str(tmp_path / "dst2"), into_dir=True, limits=NO_LIMITS)
    assert str(err.value) == "empty archive: empty.tgz"
