"""Running one pot command: what its account says (and never says)."""

from __future__ import annotations

from pathlib import Path

from nomadjail.pot_driver.pot_cli import PotCLI, find_pot, masked_argv


def fake_pot(tmp_path: Path, script: str) -> PotCLI:
    path = tmp_path / "pot"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return PotCLI(str(path))


def test_environment_values_are_hidden_but_keys_kept() -> None:
    assert masked_argv(["set-env", "-p", "p", "-E", "TOKEN=s3cret=x", "-E", "A="]) == [
        "set-env", "-p", "p", "-E", "TOKEN=<hidden>", "-E", "A=<hidden>"]
    # exec: only pot's own -e, not the command's after "--"
    assert masked_argv(["exec", "-e", "K=v", "-p", "p", "--", "sh", "-e", "X=y"]) == [
        "exec", "-e", "K=<hidden>", "-p", "p", "--", "sh", "-e", "X=y"]
    # other commands' -e/-E are no environment (prepare's -e is a port export)
    assert masked_argv(["prepare", "-e", "80:8080"]) == ["prepare", "-e", "80:8080"]


def test_a_failure_is_described_once_per_line_without_values(tmp_path: Path) -> None:
    cli = fake_pot(tmp_path, "echo 'on stdout'; echo 'on stderr' >&2; exit 1")
    result = cli.run(["set-env", "-p", "p", "-E", "TOKEN=s3cret"])
    assert result.describe() == ("`pot set-env -p p -E 'TOKEN=<hidden>'` exited 1: "
                                 "on stdout; on stderr")


def test_pot_is_found_by_path_or_by_name(tmp_path: Path, monkeypatch) -> None:
    pot = fake_pot(tmp_path, "exit 0").pot_bin
    assert find_pot(pot) == pot
    assert find_pot(str(tmp_path / "missing" / "pot")) is None
    Path(pot).chmod(0o644)
    assert find_pot(pot) is None  # not executable
    Path(pot).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))  # after FreeBSD's standard PATH
    assert find_pot("pot") == pot
    assert find_pot("no-such-pot-binary") is None
