"""Template paths (Nomad's sandbox rule), atomic writes with perms, env files, and the
change_mode coalescing rules."""

from __future__ import annotations

import os
import random
import stat

import pytest

from nomadjail.client.templates.change import change_action, splay_delay
from nomadjail.client.templates.env_file import EnvFileError, parse_env
from nomadjail.client.templates.writer import (
    DEST_ESCAPES,
    SOURCE_ESCAPES,
    SandboxError,
    dest_path,
    source_path,
    write_rendered,
)
from nomadjail.structs import SECOND, ChangeScript, Template


# -- paths --------------------------------------------------------------------------------
def test_destinations_are_under_the_task_dir_even_when_absolute(tmp_path):
    alloc, task = str(tmp_path), str(tmp_path / "web")
    assert dest_path("local/a.conf", task_dir=task, alloc_dir=alloc, sandbox=True) == \
        os.path.join(task, "local", "a.conf")
    assert dest_path("/local/a.conf", task_dir=task, alloc_dir=alloc, sandbox=True) == \
        os.path.join(task, "local", "a.conf")
    # a host path inside the allocation (raw_exec's ${NOMAD_SECRETS_DIR}) stays as is
    inside = os.path.join(task, "secrets", "x")
    assert dest_path(inside, task_dir=task, alloc_dir=alloc, sandbox=True) == inside
    assert dest_path("../alloc/shared", task_dir=task, alloc_dir=alloc, sandbox=True) == \
        os.path.join(alloc, "alloc", "shared")


def test_escaping_paths_are_refused_unless_the_sandbox_is_off(tmp_path):
    alloc, task = str(tmp_path / "a"), str(tmp_path / "a" / "web")
    with pytest.raises(SandboxError, match=DEST_ESCAPES):
        dest_path("../../etc/passwd", task_dir=task, alloc_dir=alloc, sandbox=True)
    assert dest_path("../../x", task_dir=task, alloc_dir=alloc, sandbox=False) == \
        str(tmp_path / "x")
    with pytest.raises(SandboxError, match=SOURCE_ESCAPES):
        source_path("/etc/passwd", task_dir=task, alloc_dir=alloc, sandbox=True)
    assert source_path("/etc/passwd", task_dir=task, alloc_dir=alloc, sandbox=False) == \
        "/etc/passwd"


def test_a_symlink_out_of_the_allocation_is_an_escaping_source(tmp_path):
    alloc = tmp_path / "a"
    (alloc / "web" / "local").mkdir(parents=True)
    (alloc / "web" / "local" / "link").symlink_to("/etc")
    with pytest.raises(SandboxError):
        source_path("local/link/hostname", task_dir=str(alloc / "web"), alloc_dir=str(alloc),
                    sandbox=True)


# -- writing ------------------------------------------------------------------------------
def read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def test_write_is_atomic_with_perms_and_skips_unchanged_content(tmp_path):
    path = str(tmp_path / "local" / "app.conf")
    assert write_rendered(path, "a=1\n", perms=0o600) is True
    assert read(path) == "a=1\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    inode = os.stat(path).st_ino
    assert write_rendered(path, "a=1\n", perms=0o600) is False  # nothing to do
    assert os.stat(path).st_ino == inode
    assert write_rendered(path, "a=2\n", perms=0o600) is True
    assert read(path) == "a=2\n"
    assert write_rendered(path, "a=2\n", perms=0o644) is True  # the mode changed
    assert [n for n in os.listdir(tmp_path / "local") if n.startswith(".tmpl-")] == []


# -- env files ----------------------------------------------------------------------------
def test_env_file_format():
    text = ('# comment\n\nPORT=8080\nexport NAME = web \nURL=http://x/#frag\n'
            'QUOTED="a\\nb \\"c\\""\nLITERAL=\'$HOME \\n\'\nEMPTY=\n')
    assert parse_env(text) == {"PORT": "8080", "NAME": "web", "URL": "http://x/#frag",
                               "QUOTED": 'a\nb "c"', "LITERAL": "$HOME \\n", "EMPTY": ""}


@pytest.mark.parametrize("text, error", [
    ("JUST_A_WORD\n", "line 1: missing delimiter '='"),
    ("OK=1\n1BAD=2\n", "line 2: invalid variable name '1BAD'"),
    ('A="open\n', "line 1: unterminated quoted value"),
])
def test_env_file_errors_name_the_line(text, error):
    with pytest.raises(EnvFileError, match=error):
        parse_env(text)


# -- change_mode --------------------------------------------------------------------------
def tmpl(mode: str, **kw) -> Template:
    t = Template(dest_path=f"local/{mode}{len(kw)}", embedded_tmpl="x", change_mode=mode, **kw)
    t.canonicalize()
    return t


def test_restart_wins_and_coalesces():
    action = change_action([tmpl("restart", splay=1 * SECOND), tmpl("signal", splay=3 * SECOND),
                            tmpl("restart", splay=0)])
    assert action.restart and action.signals == [] and action.scripts == []
    assert action.splay == 3 * SECOND


def test_signals_are_sent_once_each_and_scripts_run():
    script = ChangeScript(command="/bin/reload", args=["-q"])
    action = change_action([tmpl("signal", change_signal="sighup"), tmpl("signal"),
                            tmpl("signal", change_signal="SIGUSR1"),
                            tmpl("script", change_script=script), tmpl("noop")])
    assert not action.restart
    assert action.signals == ["SIGHUP", "SIGUSR1"]
    assert action.scripts == [script]


def test_noop_alone_does_nothing():
    assert not change_action([tmpl("noop"), tmpl("noop")])


def test_splay_is_uniform_below_the_maximum():
    rng = random.Random(7)
    delays = [splay_delay(2 * SECOND, rng) for _ in range(200)]
    assert all(0 <= d < 2 for d in delays) and max(delays) > 1
    assert splay_delay(0) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file away (uid/gid)")
def test_uid_and_gid_are_set_when_the_client_runs_as_root(tmp_path):
    path = str(tmp_path / "owned")
    write_rendered(path, "x", perms=0o640, uid=4321, gid=4322)
    info = os.stat(path)
    assert (info.st_uid, info.st_gid) == (4321, 4322)
