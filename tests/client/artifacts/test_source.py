"""go-getter's source grammar: forced getters, detection, subdirs, magic parameters."""

from __future__ import annotations

import pytest

from nomadjail.client.artifacts.errors import ArtifactError
from nomadjail.client.artifacts.source import (
    GetterKind,
    build_url,
    parse_source,
    split_subdir,
)


@pytest.mark.parametrize("raw, getter, url", [
    ("https://example.com/a.tgz", GetterKind.HTTPS, "https://example.com/a.tgz"),
    ("http://example.com/a?x=1", GetterKind.HTTP, "http://example.com/a?x=1"),
    ("/srv/files/app.conf", GetterKind.FILE, "file:///srv/files/app.conf"),
    ("file:///srv/app.conf", GetterKind.FILE, "file:///srv/app.conf"),
    ("files/app.conf", GetterKind.FILE, "file:///task/files/app.conf"),
    ("./app.conf", GetterKind.FILE, "file:///task/app.conf"),
    ("file::local/app.conf", GetterKind.FILE, "file:///task/local/app.conf"),
    ("git::https://example.com/repo.git?ref=v1", GetterKind.GIT,
     "https://example.com/repo.git"),
    ("git@github.com:hashicorp/nomad.git", GetterKind.GIT,
     "ssh://git@github.com/hashicorp/nomad.git"),
    ("git::git@example.com:org/repo.git", GetterKind.GIT, "ssh://git@example.com/org/repo.git"),
    ("github.com/hashicorp/nomad", GetterKind.GIT, "https://github.com/hashicorp/nomad"),
])
def test_sources_are_detected_as_go_getter_does(raw: str, getter: GetterKind, url: str) -> None:
    source = parse_source(raw, "/task")
    assert (source.getter, source.url) == (getter, url)


def test_magic_parameters_are_taken_out_of_the_url() -> None:
    source = parse_source("https://h/app.tgz?archive=false&checksum=sha256:ab&filename=x&v=2",
                          "/task")
    assert (source.archive, source.checksum, source.filename) == ("-", "sha256:ab", "x")
    assert source.url == "https://h/app.tgz?v=2"
    assert parse_source("https://h/app.bin?archive=zip", "/").archive == "zip"
    git = parse_source("git::https://h/r.git?ref=main&depth=1", "/")
    assert git.query == {"ref": "main", "depth": "1"}


@pytest.mark.parametrize("raw, split", [
    ("https://h/p/a.tgz//sub/dir?x=1", ("https://h/p/a.tgz?x=1", "sub/dir")),
    ("https://h/p/a.tgz", ("https://h/p/a.tgz", "")),
    ("git::https://h/r.git//modules/*", ("git::https://h/r.git", "modules/*")),
    ("https://h/p?u=http://other//x", ("https://h/p?u=http://other//x", "")),
])
def test_subdirectories_follow_a_double_slash(raw: str, split: tuple[str, str]) -> None:
    assert split_subdir(raw) == split


def test_options_are_merged_into_the_query_sorted() -> None:
    assert build_url("https://h/a.tgz?z=1", {"checksum": "md5:00", "archive": "false"}) == (
        "https://h/a.tgz?archive=false&checksum=md5%3A00&z=1")
    assert build_url("git@github.com:org/r.git", {"ref": "v1"}) == (
        "git@github.com:org/r.git?ref=v1")
    assert build_url("git::https://h/r.git", {"ref": "v1"}) == "git::https://h/r.git?ref=v1"


@pytest.mark.parametrize("raw, message", [
    ("", "source must be specified"),
    ("s3::https://bucket.s3.amazonaws.com/x", "download not supported for scheme 's3'"),
    ("hg::https://h/repo", "download not supported for scheme 'hg'"),
    ("https://h/r.tgz//../../x", "subdirectory component contain path traversal"),
    ("https://h/r?filename=../x", "filename query parameter contain path traversal"),
])
def test_bad_sources_are_clear_errors(raw: str, message: str) -> None:
    with pytest.raises(ArtifactError) as err:
        parse_source(raw, "/task")
    assert message in str(err.value)
