"""Reading pot's output defensively, sampling stats sparingly, diverting pot's own lines."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from nomadjail.drivers.supervisor import LineDiverter, Phase, ProgramPhases
from nomadjail.pot_driver.pot_output import (
    ENDED_LINE_PATTERN,
    MESSAGE_PREFIXES,
    MessageLevel,
    PotOutputError,
    ResourceUsage,
    parse_last_run_exit_code,
    parse_message,
    parse_resource_usage,
    running_lines,
    split_output,
    start_diversion,
    start_line,
)
from nomadjail.pot_driver.stats import FIRST_RETRY_DELAY, MAX_RETRY_DELAY, StatsSampler

GET_RSS = ('{ "ResourceUsage": { "MemoryStats": { "RSS" : 1048576, "Swap" : 0 }, '
           '"CpuStats": { "TotalTicks": %s, "Percent": %s } } } ')


def test_get_rss_json() -> None:
    usage = parse_resource_usage(GET_RSS % ("120.000", "5"))
    assert usage == ResourceUsage(rss_bytes=1048576, swap_bytes=0, cpu_total_ticks=120.0,
                                  cpu_percent=5.0)


def test_get_rss_bare_fraction_and_empty_values_are_repaired() -> None:
    assert parse_resource_usage(GET_RSS % (".500", "0")).cpu_total_ticks == 0.5
    text = '{ "ResourceUsage": { "MemoryStats": { "RSS" : , "Swap" : }, ' \
           '"CpuStats": { "TotalTicks": 0, "Percent": } } } '
    assert parse_resource_usage(text) == ResourceUsage(0, 0, 0.0, 0.0)


@pytest.mark.parametrize("text", ["", "###>  The pot x is not running", '{"Other": 1}',
                                  GET_RSS % ('"abc"', "1")])
def test_get_rss_garbage_is_refused_with_the_text(text: str) -> None:
    with pytest.raises(PotOutputError):
        parse_resource_usage(text)


def test_last_run_stats() -> None:
    assert parse_last_run_exit_code('{ "ExitCode": 3 }\n') == 3
    assert parse_last_run_exit_code("{}\n") is None
    assert parse_last_run_exit_code("") is None
    with pytest.raises(PotOutputError):
        parse_last_run_exit_code('{ "ExitCode": "x" }')


def test_messages_are_told_apart_from_output() -> None:
    messages, other = split_output("===>  Starting the pot p\nhello\n###>  boom\n=====>  dbg\n")
    assert [(m.level, m.text) for m in messages] == [("info", "Starting the pot p"),
                                                     ("error", "boom"), ("debug", "dbg")]
    assert other == ["hello"]
    assert messages[0].level is MessageLevel.INFO and messages[1].level is MessageLevel.ERROR
    assert parse_message("==> not pot") is None


def feed_all(diverter: LineDiverter, chunks: list[bytes]) -> tuple[bytes, bytes]:
    passed, diverted = b"", b""
    for chunk in chunks:
        p, d = diverter.feed(chunk)
        passed, diverted = passed + p, diverted + d
    p, d = diverter.flush()
    return passed + p, diverted + d


@pytest.mark.parametrize("split", [1, 2, 3, 7, 1000])
def test_diverter_takes_pot_lines_out_whatever_the_chunking(split: int) -> None:
    text = (b"===>  Starting the pot p\nhello ===> not at start\n==== equals\n"
            b"###>  error\n#hash\n=====>  debug\npartial=")
    chunks = [text[i:i + split] for i in range(0, len(text), split)]
    passed, diverted = feed_all(LineDiverter([b"===> ", b"###> ", b"=====> "]), chunks)
    assert passed == b"hello ===> not at start\n==== equals\n#hash\npartial="
    assert diverted == b"===>  Starting the pot p\n###>  error\n=====>  debug\n"


def test_diverter_passes_ordinary_output_at_once() -> None:
    diverter = LineDiverter([b"===> "])
    assert diverter.feed(b"progress 10%") == (b"progress 10%", b"")
    assert diverter.feed(b"=") == (b"=", b"")  # mid-line: never a pot message
    assert diverter.feed(b"\n=") == (b"\n", b"")  # a line start: could become "===> "
    assert diverter.feed(b"=x") == (b"==x", b"")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stats_are_sampled_at_most_once_per_interval() -> None:
    calls = []
    clock = FakeClock()

    def sample() -> ResourceUsage:
        calls.append(clock.now)
        return ResourceUsage(len(calls), 0, 1.0, 2.0)

    sampler = StatsSampler(sample, interval=5.0, clock=clock, wall_clock_ns=lambda: 7)
    assert sampler.stats().rss_bytes == 1
    clock.now += 4.9
    assert sampler.stats().rss_bytes == 1
    clock.now += 0.2
    assert sampler.stats().rss_bytes == 2 and len(calls) == 2


def test_failed_samples_back_off_and_never_stop() -> None:
    clock = FakeClock()
    outcomes: list[object] = [RuntimeError("not running")] * 8 + [ResourceUsage(9, 0, 0, 0)]
    attempts = []

    def sample() -> ResourceUsage:
        attempts.append(clock.now)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    sampler = StatsSampler(sample, interval=1.0, clock=clock, wall_clock_ns=lambda: 7)
    for _ in range(2000):
        stats = sampler.stats()
        clock.now += 0.5
        if stats.rss_bytes == 9:
            break
    gaps = [b - a for a, b in pairwise(attempts)]
    assert gaps[0] == pytest.approx(FIRST_RETRY_DELAY)
    assert gaps == sorted(gaps) and max(gaps) <= MAX_RETRY_DELAY
    assert stats.rss_bytes == 9 and sampler.failures == 0


PREFIXES = [p.encode() for p in MESSAGE_PREFIXES]


def pot_start_diverter(tmp_path, split: int = 1000):
    """Diverters for stdout and stderr of `pot start p1`, sharing one ProgramPhases."""
    # A fresh pot has no last-run-stats yet (as in production): its appearing is the change.
    # (Rewriting one of the same size in place would leave only the mtime to tell, which
    # may not move on a coarse clock.)
    witness = tmp_path / "last_run_stats"
    phases = ProgramPhases(start_line=start_line("p1").encode(), end_witness=str(witness))
    known = [line.encode() for line in running_lines("p1")]
    pattern = ENDED_LINE_PATTERN.encode()
    return (witness, phases,
            LineDiverter(PREFIXES, phases=phases, running_lines=known, ended_pattern=pattern),
            LineDiverter(PREFIXES, phases=phases, running_lines=known, ended_pattern=pattern))


@pytest.mark.parametrize("split", [1, 3, 1000])
def test_pots_lines_are_diverted_only_before_and_after_the_program(tmp_path,
                                                                   split: int) -> None:
    witness, phases, stdout, stderr = pot_start_diverter(tmp_path)

    def feed(diverter: LineDiverter, text: bytes) -> tuple[bytes, bytes]:
        chunks = [text[i:i + split] for i in range(0, len(text), split)]
        passed, diverted = b"", b""
        for chunk in chunks:
            p, d = diverter.feed(chunk)
            passed, diverted = passed + p, diverted + d
        return passed, diverted

    prestart = b"===>  Executing the pre-start script for the pot p1\n"
    assert feed(stdout, prestart + b"pre-start output\n===>  Starting the pot p1\n") == (
        b"pre-start output\n", prestart + b"===>  Starting the pot p1\n")
    assert phases.phase is Phase.RUNNING
    notice = (b"p1: created\n===>  memory constraint cannot be applies because rctl is not "
              b"enabled - ignoring\n")
    program = (b"===> app line\n###> app error\n=====> app debug\n===>  Starting the pot p1\n"
               b"p1: created later\np1: create\n")
    assert feed(stdout, notice + program) == (program, notice)
    assert feed(stderr, b"###>  pot p1 is already started (???)x\n") == (
        b"###>  pot p1 is already started (???)x\n", b"")
    witness.write_text('{ "ExitCode": 3 }\n')  # pot: the program has exited
    # from now on pot's lines are: its messages and set-status's bare interface list ...
    after = (b"p46b12cd413ce6:\n\n###>  p1 reported application error\nepair0a:epair1a\n"
             b"p4692a1b3c1f00:p6692a1b3c1f00\np6692a1b3c1f00\n:p6692a1b3c1f00\nepair0a:\n")
    assert feed(stdout, after) == (b"", after)
    assert phases.phase is Phase.AFTER
    # ... but the program's last lines, read only after pot wrote the stats, stay its own
    assert feed(stderr, b"last words\nepair0a: down\n") == (b"last words\nepair0a: down\n", b"")
    assert feed(stderr, b"unfinished") == (b"", b"")  # held: the line may still be pot's
    assert stderr.flush() == (b"unfinished", b"")


def test_without_a_start_line_every_prefixed_line_is_diverted() -> None:
    passed, diverted = feed_all(LineDiverter(PREFIXES), [b"===>  Starting the pot x\n",
                                                         b"===> app\nplain\n"])
    assert (passed, diverted) == (b"plain\n", b"===>  Starting the pot x\n===> app\n")


def test_a_held_back_line_at_the_end_of_the_stream_is_decided_by_the_phase(tmp_path) -> None:
    witness, phases, stdout, _ = pot_start_diverter(tmp_path)
    stdout.feed(b"===>  Starting the pot p1\n")
    assert stdout.feed(b"===>  memory constraint") == (b"", b"")  # could be pot's notice
    assert stdout.flush() == (b"===>  memory constraint", b"")  # ... but it was not
    witness.write_text("{}")
    assert stdout.feed(b"###>  unfinished") == (b"", b"###>  unfinished")


def test_the_diversion_of_pot_start_is_made_of_pots_own_lines() -> None:
    diversion = start_diversion("web_a1", "/pots/jails/web_a1/conf/.last_run_stats")
    assert diversion.prefixes == MESSAGE_PREFIXES
    assert diversion.start_line == start_line("web_a1")
    assert diversion.running_lines == running_lines("web_a1")
    assert diversion.end_witness == "/pots/jails/web_a1/conf/.last_run_stats"
    assert diversion.ended_pattern == ENDED_LINE_PATTERN
    assert start_diversion("web_a1", "").end_witness == ""  # pot's root unknown


@pytest.mark.parametrize("line", [
    "", ":", "p46b12cd413ce6:", "p46b12cd413ce6", "p46b12cd413ce6:p66b12cd413ce6",
    ":p66b12cd413ce6", "p66b12cd413ce6", "epair0a:", "epair12a:epair13a", "p4692a1b3c1:"])
def test_every_interface_list_pot_016_echoes_after_the_program_is_pots(line: str) -> None:
    """pot >= 2022 names the host side of a pot's epair p<4|6><hex time><hex pid>; older
    pots use epair<N>a; set-status echoes "<ipv4>:<ipv6>" without a leading colon."""
    assert re.fullmatch(ENDED_LINE_PATTERN, line)


@pytest.mark.parametrize("line", [
    "p4:", "p4 up:", "p46b12cd413ce6: down", "p5692a1b3c1f00:", "p4692A1B3C1F00:", "epair0b:",
    "web:", "p4692a1b3c1f00123456:", "done"])
def test_the_programs_own_last_lines_do_not_look_like_an_interface_list(line: str) -> None:
    assert not re.fullmatch(ENDED_LINE_PATTERN, line)
