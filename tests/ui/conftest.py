"""The dashboard served by the real HTTP app, driven by a real headless Chromium.

``dashboard`` serves ``nomadjail.http.create_app`` with uvicorn on a free
loopback port over a real :class:`~nomadjail.state.StateStore`; tests write
into that store (as the FSM would) and watch the browser react.  One server
and one browser per test module keep the suite fast; tests stay independent by
using their own job IDs.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from nomadjail.client.allocdir import LOG_DIR_NAME, SHARED_ALLOC_NAME
from nomadjail.http import create_app
from nomadjail.server.results import Member
from nomadjail.state import StateStore, Txn
from nomadjail.structs import Allocation, TaskState, Unavailable
from nomadjail.testing import free_port, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LEADER_RPC = "127.0.0.1:4647"


def member(name: str, addr: str, *, port: int = 4648, rpc_port: int = 4647,
           region: str = "global", datacenter: str = "dc1") -> Member:
    """One server as /v1/agent/members shows it."""
    return Member(name=name, addr=addr, port=port, tags={
        "role": "nomad", "region": region, "dc": datacenter, "port": str(rpc_port),
        "rpc_addr": addr, "build": "1.9.0", "expect": "1"})


@dataclass
class FakeServer:
    """Test double of the server facade (``nomadjail.server.Server``): exposes only
    what the read-only HTTP endpoints the dashboard uses ask for — the state store,
    members, the leader's RPC address, peers and leadership."""

    state: StateStore
    member_list: list[Member] = field(default_factory=list)
    leader: str = LEADER_RPC

    def members(self) -> list[Member]:
        return list(self.member_list)

    def leader_rpc_addr(self) -> str:
        return self.leader

    def peers(self) -> list[str]:
        return [f"{m.tags['rpc_addr']}:{m.tags['port']}" for m in self.member_list]

    def is_leader(self) -> bool:
        return True

    def known_leader(self) -> bool:
        return bool(self.leader)


@dataclass
class FakeAllocRunner:
    alloc: Allocation

    def task_states(self) -> dict[str, TaskState]:
        return dict(self.alloc.task_states)


@dataclass
class FakeClient:
    """Test double of the client facade (``nomadjail.client.Client``): only what
    GET /v1/client/fs/logs asks for.  Allocation directories live under ``root``;
    task states come from the store, as the real client's runners would report."""

    store: StateStore
    root: Path

    def alloc_runner(self, alloc_id: str) -> FakeAllocRunner | None:
        alloc = self.store.snapshot().alloc_by_id(alloc_id)
        return FakeAllocRunner(alloc) if alloc is not None else None

    def alloc_dir(self, alloc_id: str) -> str | None:
        path = self.root / alloc_id
        return str(path) if path.is_dir() else None

    def write_log(self, alloc_id: str, task: str, kind: str, text: str) -> None:
        """What the task's log collector would have written: ``<task>.<kind>.0``."""
        log_dir = self.root / alloc_id / SHARED_ALLOC_NAME / LOG_DIR_NAME
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{task}.{kind}.0").write_text(text)


class FakeAgent:
    """Test double of :class:`nomadjail.http.AgentAPI`: a server and client agent whose
    server is a :class:`FakeServer` and client a :class:`FakeClient` (or none); it
    never receives RPC traffic."""

    region = "global"
    datacenter = "dc1"
    node_name = "ui-test"
    ui_enabled = True
    shutting_down = False

    def __init__(self, server: FakeServer, client: FakeClient | None = None):
        self._server = server
        self._client = client

    @property
    def server(self) -> FakeServer:
        return self._server

    @property
    def client(self) -> FakeClient | None:
        return self._client

    def require_server(self) -> FakeServer:
        return self._server

    def require_client(self) -> FakeClient:
        if self._client is None:
            raise Unavailable("this agent runs no client")
        return self._client

    def is_rpc_listener(self, port: int) -> bool:
        return False

    def self_info(self) -> dict[str, Any]:
        return {"config": {"Region": self.region, "Datacenter": self.datacenter,
                           "NodeName": self.node_name},
                "member": self._server.member_list[0].to_api(), "stats": {}}


@dataclass
class Dashboard:
    """A running dashboard: its base URL and the store behind it."""

    url: str
    store: StateStore
    server: FakeServer
    client: FakeClient
    _indexes: Iterator[int] = field(default_factory=lambda: itertools.count(10))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def write(self) -> Iterator[Txn]:
        """``with dashboard.write() as txn:`` commits at the next raft index, as the
        FSM would; blocking queries parked in the browser wake up."""
        with self._lock, self.store.txn(next(self._indexes)) as txn:
            yield txn


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    store = StateStore()
    client = FakeClient(store=store, root=tmp_path_factory.mktemp("ui-allocs"))
    server = FakeServer(state=store, member_list=[
        member("alpha.global", "127.0.0.1"),
        member("beta.global", "127.0.0.2", datacenter="dc2"),
    ])
    port = free_port()
    # log_config=None: uvicorn's records go through logging (pytest captures them)
    # instead of handlers of its own.  Requests still parked in blocking queries at
    # teardown are cancelled after timeout_graceful_shutdown.
    config = uvicorn.Config(create_app(FakeAgent(server, client)), host="127.0.0.1", port=port,
                            log_config=None, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=1)
    http = uvicorn.Server(config)
    thread = threading.Thread(target=http.run, name="ui-test-uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: http.started, timeout=15, message="uvicorn to start")
        yield Dashboard(url=f"http://127.0.0.1:{port}", store=store, server=server,
                        client=client)
    finally:
        http.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromedriver are needed for the dashboard tests: "
                    "run `make test-deps` (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
