"""What to do when templates re-rendered with new output: Nomad's change_mode rules.

Pure: given the templates whose output changed, :func:`change_action` says what
the task gets, coalesced as Nomad's template manager does it --

* any ``restart`` template wins: one restart, no signals or scripts;
* otherwise every distinct ``change_signal`` is sent once (two templates with
  SIGHUP send one SIGHUP), and every ``script`` template's change_script runs;
* ``noop`` templates only rewrite their file;
* the delay before acting is a random offset in [0, the largest ``splay``) of the
  templates that act -- one delay for the whole batch, so several templates
  changing together still cause one restart.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...structs import ChangeScript, Template, TemplateChangeMode


@dataclass(slots=True)
class ChangeAction:
    restart: bool = False
    signals: list[str] = field(default_factory=list)  # sorted, distinct
    scripts: list[ChangeScript] = field(default_factory=list)
    splay: int = 0  # ns: the largest splay among the templates that act

    def __bool__(self) -> bool:
        return self.restart or bool(self.signals) or bool(self.scripts)


def change_action(changed: Iterable[Template]) -> ChangeAction:
    """The coalesced action for the templates whose output changed."""
    action = ChangeAction()
    signals: set[str] = set()
    for tmpl in changed:
        mode = tmpl.mode
        if mode == TemplateChangeMode.NOOP:
            continue
        if mode == TemplateChangeMode.RESTART:
            action.restart = True
        elif mode == TemplateChangeMode.SIGNAL and tmpl.change_signal:
            signals.add(tmpl.change_signal)
        elif mode == TemplateChangeMode.SCRIPT and tmpl.change_script is not None:
            action.scripts.append(tmpl.change_script)
        action.splay = max(action.splay, tmpl.splay or 0)
    if action.restart:
        action.scripts = []
    else:
        action.signals = sorted(signals)
    return action


def splay_delay(splay_ns: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before acting: uniform in [0, splay) (Nomad's rand.Int63n)."""
    if splay_ns <= 0:
        return 0.0
    return (rng or random).randrange(splay_ns) / 1e9
