"""The client agent's ``template { ... }`` block (Nomad's client template parameters).

Only what nomadjail's renderer uses; the Vault and consul-template retry knobs of
Nomad's block have no meaning here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_FUNCTION_DENYLIST = ("plugin", "writeToFile")


@dataclass(slots=True)
class TemplateConfig:
    # Templates may read and write outside the allocation directory.
    disable_file_sandbox: bool = False
    # Template functions a job may not use (Nomad's default: plugin, writeToFile).
    function_denylist: tuple[str, ...] = field(default=DEFAULT_FUNCTION_DENYLIST)
    # Seconds a stale read may be; accepted for Nomad's config files, every read here is
    # answered by the servers' current state.
    max_stale: float = 87600 * 3600.0
    # Seconds a watcher's blocking query may wait (Nomad's block_query_wait, 5m).
    block_query_wait: float = 300.0
    # nomadjail: seconds between re-reads of the ``file`` dependencies of a task's
    # templates (a file has no index to block on; Consul and Nomad data are watched).
    watch_interval: float = 2.0
    # Seconds between two "Missing: ..." events of one task (Nomad's 3s).
    missing_event_interval: float = 3.0
