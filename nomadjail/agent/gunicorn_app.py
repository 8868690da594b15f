"""Gunicorn runs the agent: one worker process owns everything (DESIGN.md §2).

The master binds the http and rpc listeners and restarts the worker if it
dies; the worker builds the :class:`Agent` (after the fork, so raft threads
and sockets belong to it), starts it on ASGI lifespan startup and stops it on
shutdown.  If the agent cannot start, the worker fails to boot and gunicorn
exits non-zero instead of serving a half-built agent.

The worker dies with its master.  A ``kill -9`` of the master (the agent's
main pid) would otherwise leave the worker running as an agent nobody owns:
heartbeating, holding the ports and the raft port, fighting the next agent.
So the worker asks to hear of its master's death
(:func:`~nomadjail.helper.parent_death.follow_parent`) and then stops the
agent exactly as on the master's SIGTERM: tasks keep running and the next
agent on the data dir re-attaches to them (in ``-dev`` the agent's shutdown
ends them, as always).  Nobody is left to SIGKILL it after the graceful
timeout, so it keeps that deadline itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import falcon.asgi
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer
from uvicorn.server import Server as UvicornServer
from uvicorn_worker import UvicornWorker

from ..helper.parent_death import follow_parent
from ..http import create_app
from .agent import Agent
from .config import AgentConfig
from .log_setup import setup_agent_logging
from .processes import end_processes_under

log = logging.getLogger("nomadjail.agent")

API_THREADS = 64
# Gunicorn kills a worker that has not stopped this long after SIGTERM.  The client
# may take up to max_kill_timeout (30 s) to stop a task, then must destroy it.
GRACEFUL_TIMEOUT = 45


class AgentWorker(UvicornWorker):
    """Uvicorn under gunicorn with lifespan required and no access log.

    On SIGTERM uvicorn waits for open requests before the lifespan shutdown; a
    parked blocking query would hold it for minutes.  So the agent is told
    first (``begin_shutdown`` answers every parked query at once), and anything
    still open after ``timeout_graceful_shutdown`` is cancelled.
    """

    CONFIG_KWARGS = {"loop": "asyncio", "http": "h11", "lifespan": "on", "access_log": False,
                     "timeout_graceful_shutdown": 3}

    def init_process(self) -> None:
        # First thing after the fork, before loading the app can take its time: from
        # here on a dead master means a SIGTERM (uvicorn's graceful shutdown).
        self._orphaned = threading.Event()
        follow_parent(self.ppid, signal.SIGTERM, self.master_died)
        super().init_process()

    def master_died(self) -> None:
        """The master is gone (see the module docstring): stop as on its SIGTERM,
        within the graceful timeout it would have allowed.  Idempotent: the kernel's
        signal, the parent watch and the shutdown path may all get here."""
        if self._orphaned.is_set():
            return
        self._orphaned.set()
        tasks = ("ends its tasks (dev mode)" if self.app.agent_config.dev_mode
                 else "leaves its tasks running for the next agent")
        log.error("the agent's main process (pid %s) died; this worker stops the agent "
                  "instead of running on without it, and %s", self.ppid, tasks)
        deadline = threading.Timer(GRACEFUL_TIMEOUT, self._give_up)
        deadline.daemon = True
        deadline.start()
        os.kill(os.getpid(), signal.SIGTERM)  # a second one (after the kernel's) is harmless

    def _give_up(self) -> None:
        log.error("the agent did not stop within %d s of its main process dying; "
                  "exiting now", GRACEFUL_TIMEOUT)
        logging.shutdown()
        os._exit(1)

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = _ReleasingServer(config=self.config, agent=self.app.agent,
                                  on_orphaned=self.master_died, master_pid=self.ppid)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            raise SystemExit(Arbiter.WORKER_BOOT_ERROR)


class _ReleasingServer(UvicornServer):
    def __init__(self, config: Any, agent: Agent, *, on_orphaned: Callable[[], None],
                 master_pid: int):
        super().__init__(config=config)
        self.agent = agent
        self.on_orphaned = on_orphaned
        self.master_pid = master_pid

    async def shutdown(self, sockets: Any = None) -> None:
        if os.getppid() != self.master_pid:
            self.on_orphaned()  # the kernel's signal came before the parent watch noticed
        self.agent.begin_shutdown()
        await super().shutdown(sockets=sockets)


class AgentLifespan:
    """Falcon middleware: start and stop the agent with the ASGI app."""

    def __init__(self, agent: Agent):
        self.agent = agent

    async def process_startup(self, scope: dict, event: dict) -> None:
        # API calls run in the default pool (asyncio's is cpu+4 threads: a few slow calls
        # would queue everything else behind them).
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="api"))
        await asyncio.to_thread(self.agent.start)

    async def process_shutdown(self, scope: dict, event: dict) -> None:
        await asyncio.to_thread(self.agent.shutdown)


def stop_dev_agent_when_worker_dies(config: AgentConfig) -> Callable[[Arbiter, Any], None]:
    """A gunicorn ``child_exit`` hook for ``-dev``.

    A restarted worker would come back with the in-memory state gone and then destroy
    every task it finds on disk, silently.  So in dev mode a dead worker stops the agent,
    loudly, and ends the tasks the dead worker left behind.
    """

    def child_exit(arbiter: Arbiter, worker: Any) -> None:
        if not arbiter.LISTENERS:
            return  # the agent is shutting down anyway
        log.error("the dev agent's worker (pid %s) died; dev mode keeps all state in "
                  "memory, so the agent stops instead of starting an empty one", worker.pid)
        ended = end_processes_under(config.data_dir)
        if ended:
            log.error("ended %d task process(es) the dead worker left behind", len(ended))
        raise HaltServer("dev agent worker died", 1)

    return child_exit


class AgentArbiter(Arbiter):
    """Gunicorn's master with a reload that fits one agent per host.

    Gunicorn's HUP starts the new worker before stopping the old one; two
    workers cannot own one agent (the raft port, the data dir), so here the
    running worker stops first (gracefully, as on SIGTERM), then one starts
    with the configuration read again.  In ``-dev`` mode the state lives in the
    worker's memory, so a HUP is ignored there.
    """

    def handle_hup(self) -> None:
        if self.app.agent_config.dev_mode:
            log.warning("reload (SIGHUP) ignored in dev mode: the state lives in the "
                        "worker's memory")
            return
        log.info("reload: stopping the agent worker, then starting it with the "
                 "configuration read again")
        self.kill_workers(signal.SIGTERM)
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while self.WORKERS and time.monotonic() < deadline:
            self.reap_workers()
            time.sleep(0.05)
        if self.WORKERS:
            self.kill_workers(signal.SIGKILL)
            while self.WORKERS:
                self.reap_workers()
                time.sleep(0.05)
        self.reload()


class AgentApplication(BaseApplication):
    """``reload_config(running_config)`` is called on SIGHUP (see :class:`AgentArbiter`):
    the new worker runs the agent with the config it returns."""

    def __init__(self, config: AgentConfig, *,
                 reload_config: Callable[[AgentConfig], AgentConfig] | None = None):
        self.agent_config = config
        self._reload_config = reload_config
        super().__init__()

    def reload(self) -> None:
        if self._reload_config is not None:
            self.agent_config = self._reload_config(self.agent_config)
            setup_agent_logging(self.agent_config)
        super().reload()

    def run(self) -> None:
        try:
            AgentArbiter(self).run()
        except RuntimeError as err:
            print(f"\nError: {err}\n", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)

    def load_config(self) -> None:
        c = self.agent_config
        settings: dict[str, Any] = {
            "bind": [c.bind_address("http"), c.bind_address("rpc")],
            "workers": 1,
            "worker_class": f"{AgentWorker.__module__}.{AgentWorker.__name__}",
            "timeout": 60,
            "graceful_timeout": GRACEFUL_TIMEOUT,
            "keepalive": 75,
            "proc_name": "nomadjail",
            "loglevel": "warning",
            "accesslog": None,
            "control_socket_disable": True,
        }
        if c.dev_mode:
            settings["child_exit"] = stop_dev_agent_when_worker_dies(c)
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> falcon.asgi.App:
        setup_agent_logging(self.agent_config)  # again: this runs in the worker
        self.agent = Agent(self.agent_config, on_fatal=self._fail_worker)
        return create_app(self.agent, middleware=[AgentLifespan(self.agent)])

    def _fail_worker(self, message: str) -> None:
        """The server could not start after the worker booted (its peers came from
        Consul in the background): stop the agent as if the worker had failed to
        boot -- gunicorn's master exits non-zero (daemon(8) starts it again later)
        instead of restarting a worker that fails the same way."""
        log.error("%s; stopping the agent", message)
        try:
            self.agent.shutdown()
        finally:
            logging.shutdown()  # flush the log handlers (remote syslog) first
            os._exit(Arbiter.WORKER_BOOT_ERROR)
