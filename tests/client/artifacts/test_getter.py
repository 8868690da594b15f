"""One artifact from a real loopback HTTP server, a local path or a git repository
to its destination: modes, checksums, archives, limits and the sandbox."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nomadjail.client.artifacts.errors import ArtifactError
from nomadjail.client.artifacts.getter import Download, fetch
from nomadjail.helper.artifact_config import ArtifactConfig, parse_size
from nomadjail.structs.artifact import GetterMode

from ...doubles.files import FileServer
from .archives import Entry, tar_bytes

CONFIG = ArtifactConfig()
APP_TGZ = tar_bytes([Entry("app/run.sh", b"echo run\n", mode=0o755),
                     Entry("app/conf/app.ini", b"[app]\n")])


@pytest.fixture
def web() -> Iterator[FileServer]:
    server = FileServer()
    server.files["/app.tgz"] = APP_TGZ
    server.files["/files/hello.txt"] = b"hello\n"
    yield server
    server.close()


@pytest.fixture
def alloc(tmp_path: Path) -> Path:
    root = tmp_path / "alloc-1"
    for sub in ("alloc/data", "web/local", "web/secrets", "web/tmp"):
        (root / sub).mkdir(parents=True)
    return root


def download(alloc: Path, source: str, dest: str = "web/local", *,
             mode: GetterMode = GetterMode.ANY, **kwargs: object) -> Download:
    return Download(source=source, destination=str(alloc / dest), mode=mode,
                    task_dir=str(alloc / "web"), alloc_dir=str(alloc), **kwargs)  # type: ignore[arg-type]  # test shorthand for the optional fields


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_lands_in_the_destination_under_its_name(web: FileServer, alloc: Path) -> None:
    fetch(download(alloc, web.url("/files/hello.txt")), CONFIG)
    assert (alloc / "web/local/hello.txt").read_bytes() == b"hello\n"
    # nothing left behind in the allocation directory
    assert sorted(p.name for p in alloc.iterdir()) == ["alloc", "web"]


def test_headers_are_sent(web: FileServer, alloc: Path) -> None:
    fetch(download(alloc, web.url("/files/hello.txt"),
                   headers={"Authorization": "Bearer s3cret", "X-Trace": "1"}), CONFIG)
    seen = web.requests[-1].headers
    assert seen["Authorization"] == "Bearer s3cret"
    assert seen["X-Trace"] == "1"


def test_a_tarball_is_unpacked_into_the_destination(web: FileServer, alloc: Path) -> None:
    checksum = f"sha256:{sha256(APP_TGZ)}"
    fetch(download(alloc, web.url(f"/app.tgz?checksum={checksum}"), "web/local/dist"), CONFIG)
    assert (alloc / "web/local/dist/app/run.sh").read_bytes() == b"echo run\n"
    assert (alloc / "web/local/dist/app/conf/app.ini").exists()
    assert os.access(alloc / "web/local/dist/app/run.sh", os.X_OK)
    # the checksum parameter is ours: the server is not asked with it
    assert web.requests[-1].path == "/app.tgz"


def test_archive_false_keeps_the_archive_as_it_is(web: FileServer, alloc: Path) -> None:
    fetch(download(alloc, web.url("/app.tgz?archive=false")), CONFIG)
    assert (alloc / "web/local/app.tgz").read_bytes() == APP_TGZ


def test_file_mode_writes_the_destination_file(web: FileServer, alloc: Path) -> None:
    fetch(download(alloc, web.url("/files/hello.txt"), "web/local/conf/greeting",
                   mode=GetterMode.FILE), CONFIG)
    assert (alloc / "web/local/conf/greeting").read_bytes() == b"hello\n"


@pytest.mark.parametrize("kind, digest", [
    ("md5", hashlib.md5(b"hello\n").hexdigest()),
    ("sha1", hashlib.sha1(b"hello\n").hexdigest()),
    ("sha512", hashlib.sha512(b"hello\n").hexdigest()),
    ("", sha256(b"hello\n")),
])
def test_every_checksum_type_is_verified(web: FileServer, alloc: Path, kind: str,
                                         digest: str) -> None:
    value = f"{kind}:{digest}" if kind else digest
    fetch(download(alloc, web.url(f"/files/hello.txt?checksum={value}")), CONFIG)
    assert (alloc / "web/local/hello.txt").exists()


def test_a_wrong_checksum_fails_and_leaves_nothing(web: FileServer, alloc: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url(f"/app.tgz?checksum=sha256:{wrong}")), CONFIG)
    message = str(err.value)
    assert message.startswith("Checksums did not match for app.tgz.\nExpected: " + wrong)
    assert f"Got: {sha256(APP_TGZ)}" in message
    assert list((alloc / "web/local").iterdir()) == []
    assert sorted(p.name for p in alloc.iterdir()) == ["alloc", "web"]


def test_a_checksum_file_is_read_for_the_artifacts_name(web: FileServer, alloc: Path) -> None:
    web.files["/SHA256SUMS"] = (f"{'1' * 64}  other.tgz\n{sha256(APP_TGZ)}  app.tgz\n").encode()
    fetch(download(alloc, web.url("/app.tgz?checksum=file:" + web.url("/SHA256SUMS"))), CONFIG)
    assert (alloc / "web/local/app/run.sh").exists()


def test_http_errors_and_limits(web: FileServer, alloc: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/missing.tgz")), CONFIG)
    assert str(err.value) == "bad response code: 404"
    web.stream("/big.bin", 5 * 65536)
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/big.bin")), ArtifactConfig(http_max_size=100_000))
    assert str(err.value) == "download larger than http_max_size: more than 100000 bytes"
    assert list((alloc / "web/local").iterdir()) == []


def test_a_stalled_download_ends_at_the_read_timeout(web: FileServer, alloc: Path) -> None:
    web.stall("/slow.bin")
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/slow.bin")), ArtifactConfig(http_read_timeout=0.2))
    assert "http_read_timeout (0.2s)" in str(err.value)
    assert list((alloc / "web/local").iterdir()) == []


def test_a_download_stops_when_the_task_is_being_stopped(web: FileServer, alloc: Path) -> None:
    web.stream("/endless.bin", 1 << 30)
    chunks = iter(range(3))
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/endless.bin"),
                       cancelled=lambda: next(chunks, None) is None), CONFIG)
    assert str(err.value) == "download cancelled: the task is being stopped"
    assert list((alloc / "web/local").iterdir()) == []


def self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_insecure_skips_certificate_verification(alloc: Path, tmp_path: Path) -> None:
    server = FileServer(certificate=self_signed(tmp_path))
    server.files["/secret.txt"] = b"over tls\n"
    try:
        with pytest.raises(ArtifactError) as err:
            fetch(download(alloc, server.url("/secret.txt")), CONFIG)
        assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
        fetch(download(alloc, server.url("/secret.txt"), insecure=True), CONFIG)
        assert (alloc / "web/local/secret.txt").read_bytes() == b"over tls\n"
    finally:
        server.close()


def test_the_decompression_limits_come_from_the_client_config(web: FileServer,
                                                              alloc: Path) -> None:
    config = ArtifactConfig(decompression_file_count_limit=1)
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/app.tgz")), config)
    assert str(err.value) == "tar archive contains too many files: 2 > 1"


def test_a_hostile_archive_writes_nothing_anywhere(web: FileServer, alloc: Path) -> None:
    web.files["/evil.tgz"] = tar_bytes([Entry("ok", b"1"),
                                        Entry("link", kind=tarfile.SYMTYPE, link="../../..")])
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/evil.tgz")), CONFIG)
    assert "entry link is a symlink to ../../.., outside the destination" in str(err.value)
    assert list((alloc / "web/local").iterdir()) == []


def test_local_files_and_directories(alloc: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "conf").mkdir(parents=True)
    (shared / "conf/a.conf").write_text("a")
    (alloc / "web/files").mkdir()
    (alloc / "web/files/b.conf").write_text("b")
    allowed = ArtifactConfig(filesystem_isolation_extra_paths=[f"d:r:{shared}"])
    fetch(download(alloc, str(shared / "conf/a.conf")), allowed)
    fetch(download(alloc, "files/b.conf"), CONFIG)  # relative to the task directory
    fetch(download(alloc, f"file::{shared}", "web/local/tree"), allowed)
    assert (alloc / "web/local/a.conf").read_text() == "a"
    assert (alloc / "web/local/b.conf").read_text() == "b"
    assert (alloc / "web/local/tree/conf/a.conf").read_text() == "a"


@pytest.mark.parametrize("source", ["/etc/passwd", "file:///etc/hostname", "file::/etc",
                                    "git::file:///etc", "web/local/../../../../etc/passwd"])
def test_local_sources_outside_the_allocation_are_refused(alloc: Path, source: str) -> None:
    """Nomad's download sandbox reads only the allocation directory (and configured
    extra paths); a job must not copy the client host's files into its task."""
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, source), CONFIG)
    assert "is outside the allocation directory" in str(err.value)
    assert "filesystem_isolation_extra_paths" in str(err.value)
    assert list((alloc / "web/local").iterdir()) == []


def test_a_checksum_file_outside_the_allocation_is_refused(web: FileServer,
                                                            alloc: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/app.tgz?checksum=file:/etc/hostname")), CONFIG)
    assert "/etc/hostname is outside the allocation directory" in str(err.value)


def test_a_link_inside_the_allocation_cannot_reach_out(alloc: Path) -> None:
    (alloc / "web/local/shadow").symlink_to("/etc/passwd")
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, "local/shadow", "web/local/copy"), CONFIG)
    assert "/etc/passwd is outside the allocation directory" in str(err.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs a client running as root")
def test_chown_gives_the_files_to_the_task_user(web: FileServer, alloc: Path) -> None:
    import pwd
    nobody = pwd.getpwnam("nobody")
    fetch(download(alloc, web.url("/app.tgz"), "web/local/owned", chown_user="nobody"),
          CONFIG)
    for path in [alloc / "web/local/owned", *(alloc / "web/local/owned").rglob("*")]:
        assert (path.stat().st_uid, path.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    fetch(download(alloc, web.url("/app.tgz"), "web/local/mine"), CONFIG)
    assert (alloc / "web/local/mine/app/run.sh").stat().st_uid == os.geteuid()
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/app.tgz"), "web/local/x", chown_user="no-such-user"),
              CONFIG)
    assert str(err.value) == "failed to chown artifact: unknown user 'no-such-user'"


def test_a_directory_with_a_link_out_is_refused(alloc: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, str(shared), mode=GetterMode.DIR),
              ArtifactConfig(disable_filesystem_isolation=True))
    assert "artifact includes symlink that resolves outside of sandbox: passwd" in str(err.value)


def test_a_subdirectory_of_an_archive(web: FileServer, alloc: Path) -> None:
    fetch(download(alloc, web.url("/app.tgz//app/conf"), "web/local/conf"), CONFIG)
    assert sorted(os.listdir(alloc / "web/local/conf")) == ["app.ini"]


def test_the_destination_cannot_be_reached_through_a_link(web: FileServer,
                                                          alloc: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (alloc / "web/local/sneaky").symlink_to(outside)
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, web.url("/app.tgz"), "web/local/sneaky"), CONFIG)
    assert "resolves outside of the allocation directory" in str(err.value)
    assert list(outside.iterdir()) == []


def test_merging_replaces_files_but_keeps_the_rest(web: FileServer, alloc: Path) -> None:
    (alloc / "web/local/app").mkdir()
    (alloc / "web/local/app/run.sh").write_text("old")
    (alloc / "web/local/keep.txt").write_text("mine")
    fetch(download(alloc, web.url("/app.tgz")), CONFIG)
    assert (alloc / "web/local/app/run.sh").read_text() == "echo run\n"
    assert (alloc / "web/local/keep.txt").read_text() == "mine"


@pytest.mark.skipif(shutil.which("git") is None, reason="the git getter needs a git binary")
def test_git_from_a_local_bare_repository(alloc: Path, tmp_path: Path) -> None:
    work, bare = tmp_path / "work", tmp_path / "repo.git"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    work.mkdir()
    git("init", "-q", "-b", "main")
    (work / "app.conf").write_text("v1\n")
    git("add", ".")
    git("commit", "-q", "-m", "v1")
    git("tag", "v1")
    (work / "app.conf").write_text("v2\n")
    git("commit", "-q", "-am", "v2")
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    allowed = ArtifactConfig(filesystem_isolation_extra_paths=[str(bare)])
    fetch(download(alloc, f"git::file://{bare}", "web/local/head"), allowed)
    fetch(download(alloc, f"git::file://{bare}?ref=v1", "web/local/v1"), allowed)
    fetch(download(alloc, f"git::file://{bare}?ref=main&depth=1", "web/local/shallow"),
          allowed)
    assert (alloc / "web/local/head/app.conf").read_text() == "v2\n"
    assert (alloc / "web/local/v1/app.conf").read_text() == "v1\n"
    assert (alloc / "web/local/shallow/app.conf").read_text() == "v2\n"
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, f"git::file://{tmp_path}/missing.git", "web/local/x"),
              ArtifactConfig(disable_filesystem_isolation=True))
    assert "error downloading" in str(err.value) and "exited with 128" in str(err.value)


def test_git_without_a_git_binary_is_a_clear_error(alloc: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ArtifactError) as err:
        fetch(download(alloc, "git::https://example.invalid/r.git"), CONFIG)
    assert str(err.value) == "git must be available and on the PATH"


@pytest.mark.parametrize("text, size", [("100GB", 100 * 1000**3), ("1GiB", 1024**3),
                                        ("512 MiB", 512 * 1024**2), ("2048", 2048)])
def test_sizes_read_as_nomad_writes_them(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_bad_size_names_itself() -> None:
    with pytest.raises(ValueError, match="not a valid size: '10 parsecs'"):
        parse_size("10 parsecs")
