"""The client-wide watch registry: one blocking-query watcher per distinct dependency,
shared by tasks, woken by changes rather than a poll; unreachable keeps the last answer."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from nomadjail.client.templates.config import TemplateConfig
from nomadjail.client.templates.manager import TemplateManager
from nomadjail.client.templates.sources import SourceUnavailable, TemplateSources, file_reader
from nomadjail.client.templates.watchers import WatchRegistry
from nomadjail.drivers.base import TaskHandle
from nomadjail.structs import Template
from nomadjail.testing import wait_for

from .fakes import FakeControl, FakeDriver, FakeNomad


class BlockingKV:
    """Consul's KV reads as blocking queries (:class:`ConsulReads`): a read with
    ``index`` waits up to ``wait`` seconds until a write moves the KV index past it,
    as Consul does.  Not emulated: health/catalog (empty), datacenters, ACLs.
    ``down = True`` makes every read fail as an unreachable Consul does."""

    def __init__(self) -> None:
        self._kv: dict[str, str] = {}
        self.index = 1
        self.down = False
        self.blocked = 0  # reads that carried an index (blocking queries)
        self._changed = threading.Condition()

    def put(self, key: str, value: str) -> None:
        with self._changed:
            self._kv[key] = value
            self.index += 1
            self._changed.notify_all()

    def _wait(self, index: int, wait: float) -> None:
        with self._changed:
            if index:
                self.blocked += 1
                self._changed.wait_for(lambda: self.index > index or self.down, wait)
            if self.down:
                raise SourceUnavailable("Consul kv: connection refused")

    def set_down(self, down: bool) -> None:
        with self._changed:
            self.down = down
            self._changed.notify_all()

    def kv_get(self, key: str, index: int = 0, wait: float = 0.0
               ) -> tuple[int, dict[str, Any] | None]:
        self._wait(index, wait)
        with self._changed:
            value = self._kv.get(key)
            return self.index, (None if value is None else {"Key": key, "Value": value})

    def kv_recurse(self, prefix: str, index: int = 0, wait: float = 0.0
                   ) -> tuple[int, list[dict[str, Any]]]:
        self._wait(index, wait)
        with self._changed:
            return self.index, [{"Key": k, "Value": v} for k, v in sorted(self._kv.items())
                                if k.startswith(prefix)]

    def health_service(self, name: str, tag: str, datacenter: str, index: int = 0,
                       wait: float = 0.0) -> tuple[int, list[dict[str, Any]]]:
        return self.index, []

    def catalog_services(self, datacenter: str, index: int = 0, wait: float = 0.0
                         ) -> tuple[int, dict[str, list[str]]]:
        return self.index, {}


@pytest.fixture
def registry() -> Iterator[WatchRegistry]:
    watches = WatchRegistry(wait=30.0, backoff_base=0.05, backoff_max=0.2, floor=0.1)
    yield watches
    watches.stop()


def sources_for(consul: BlockingKV, watches: WatchRegistry, alloc: str) -> TemplateSources:
    return TemplateSources(consul=consul, nomad=None, namespace="default", alloc_id=alloc,
                           read_file=file_reader(None), task="web", watches=watches)


def key_dep(src: TemplateSources, key: str) -> Any:
    from nomadjail.gotemplate.consul import Dependency, DependencyKind
    dep = Dependency(DependencyKind.KV_GET, path=key, block=True)
    return dep, src.fetch(dep)


def test_two_tasks_reading_one_key_share_one_watcher_and_a_change_wakes_both(registry):
    consul = BlockingKV()
    consul.put("app/port", "8080")
    one, two = sources_for(consul, registry, "a1"), sources_for(consul, registry, "a2")
    dep, first = key_dep(one, "app/port")
    _, second = key_dep(two, "app/port")
    assert first == second == "8080"
    assert len(registry.keys()) == 1
    # the watcher is parked in a blocking query, not re-reading on a timer
    wait_for(lambda: consul.blocked >= 1, message="a blocking query")
    one.refresh(), two.refresh()  # take the watcher's first answer (unchanged)
    consul.put("app/port", "9090")
    wait_for(lambda: one.changed.is_set() and two.changed.is_set(), message="both woken")
    assert one.refresh() is True and two.refresh() is True
    assert one.fetch(dep) == two.fetch(dep) == "9090"


def test_the_last_subscriber_leaving_ends_the_watcher(registry):
    consul = BlockingKV()
    consul.put("k", "v")
    one, two = sources_for(consul, registry, "a1"), sources_for(consul, registry, "a2")
    key_dep(one, "k"), key_dep(two, "k")
    watcher = registry.watcher(registry.keys()[0])
    assert watcher is not None
    one.close()
    assert registry.keys() != [] and watcher.alive
    two.close()
    assert registry.keys() == []
    consul.put("k", "w")  # ends the blocking query in flight; the thread then stops
    wait_for(lambda: not watcher.alive, message="the watcher thread to end")


def test_forgetting_a_dependency_unsubscribes_it(registry):
    consul = BlockingKV()
    one = sources_for(consul, registry, "a1")
    key_dep(one, "a"), key_dep(one, "b")
    assert len(registry.keys()) == 2
    dep_a, _ = key_dep(one, "a")
    one.forget([dep_a])
    assert len(registry.keys()) == 1


def test_an_unreachable_source_keeps_the_last_answer_and_backs_off(registry):
    consul = BlockingKV()
    consul.put("k", "good")
    src = sources_for(consul, registry, "a1")
    dep, _ = key_dep(src, "k")
    wait_for(lambda: consul.blocked >= 1, message="a blocking query")
    consul.set_down(True)
    watcher = registry.watcher(registry.keys()[0])
    assert watcher is not None
    wait_for(lambda: watcher.latest().error, message="the watcher to see the error")
    src.refresh()
    assert src.fetch(dep) == "good"
    assert "connection refused" in src.errors[dep]
    # backing off, it keeps retrying until the source answers again
    consul.set_down(False)
    consul.put("k", "back")
    wait_for(lambda: src.changed.is_set() and src.refresh() and src.fetch(dep) == "back",
             message="the new answer once the source is back")
    assert dep not in src.errors


def test_a_file_dependency_is_polled_not_watched(tmp_path, registry):
    from nomadjail.gotemplate.consul import Dependency, DependencyKind
    path = tmp_path / "f"
    path.write_text("one")
    src = TemplateSources(consul=BlockingKV(), nomad=None, namespace="default",
                          alloc_id="a", read_file=file_reader(None), watches=registry)
    dep = Dependency(DependencyKind.FILE, path=str(path))
    assert src.fetch(dep) == "one"
    assert registry.keys() == [] and src.polls
    path.write_text("two")
    assert src.refresh() is True and src.fetch(dep) == "two"


def test_the_manager_re_renders_on_a_watcher_wake_without_the_poll(tmp_path, registry):
    """watch_interval is an hour: only the watcher can make this re-render happen."""
    alloc_dir = str(tmp_path / "alloc")
    task_dir = os.path.join(alloc_dir, "web")
    os.makedirs(os.path.join(task_dir, "local"))
    consul = BlockingKV()
    consul.put("app/port", "8080")
    tmpl = Template(embedded_tmpl='port={{ key "app/port" }}', dest_path="local/app.conf",
                    change_mode="restart")
    tmpl.canonicalize()
    tmpl.splay = 0
    control = FakeControl(handle_value=TaskHandle(driver="mock", task_id="t"))
    manager = TemplateManager(
        [tmpl], task_dir=task_dir, alloc_dir=alloc_dir, namespace="default",
        env=lambda: {}, sources=TemplateSources(
            consul=consul, nomad=FakeNomad(), namespace="default", alloc_id="a",
            read_file=file_reader(alloc_dir), watches=registry),
        config=TemplateConfig(watch_interval=3600.0, missing_event_interval=0.0),
        emit=lambda event: None, control=control,
        driver=FakeDriver())  # type: ignore[arg-type]  # the fake has what change_mode uses
    try:
        assert manager.first_render() is True
        manager.start_watching()
        wait_for(lambda: consul.blocked >= 1, message="a blocking query")
        consul.put("app/port", "9090")
        wait_for(lambda: control.restarts, message="a restart after the change")
        with open(os.path.join(task_dir, "local/app.conf")) as handle:
            assert handle.read() == "port=9090"
    finally:
        manager.stop()
    assert registry.keys() == []  # the stopped task left its watchers


@pytest.fixture
def consul_double() -> Iterator[Any]:
    from tests.doubles.consul import ConsulDouble
    double = ConsulDouble(run_checks=False).start()
    try:
        yield double
    finally:
        double.close()


def test_consul_health_and_kv_are_watched_over_http_with_blocking_queries(consul_double):
    """python-consul2 against the Consul double: the watchers block (index + wait) and
    wake on a registration and on a key write.  The index floor is an hour, so a source
    answering at once (not blocking) would stall the watcher: only a blocking query that
    returns on the change makes this pass."""
    import warnings

    import consul

    from nomadjail.client.templates.sources import PythonConsulReads
    from nomadjail.gotemplate.consul import Dependency, DependencyKind
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        client = consul.Consul(host="127.0.0.1", port=consul_double.port, timeout=60)
    registry = WatchRegistry(wait=30.0, floor=3600.0)
    src = TemplateSources(consul=PythonConsulReads(client), nomad=None, namespace="default",
                          alloc_id="a", read_file=file_reader(None), watches=registry)
    health = Dependency(DependencyKind.CATALOG_SERVICE, path="db")
    key = Dependency(DependencyKind.KV_GET, path="app/mode", block=True)
    assert src.fetch(health) == [] and src.fetch(key) is not None
    wait_for(lambda: sum(1 for method, path in consul_double.requests
                         if method == "GET") >= 4, message="the watchers' first reads")
    consul_double.register({"Name": "db", "ID": "db-1", "Port": 5432,
                            "Check": {"TTL": "60s", "Status": "passing"}})
    wait_for(lambda: src.changed.is_set() and src.refresh() and src.fetch(health),
             message="the new instance through the health watcher")
    assert [s.Port for s in src.fetch(health)] == [5432]  # type: ignore[attr-defined]
    consul_double.kv_put("app/mode", "blue")
    wait_for(lambda: src.changed.is_set() and src.refresh() and src.fetch(key) == "blue",
             message="the key through the KV watcher")
    src.close()
    registry.stop()
