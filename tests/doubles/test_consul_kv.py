"""The Consul double's KV endpoints answer as Consul's KV API documentation says, through
python-consul2 (the client nomadjail uses) and raw HTTP where the client hides the shape."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator

import consul
import pytest
import requests

from .consul import ConsulDouble


@pytest.fixture
def double() -> Iterator[ConsulDouble]:
    d = ConsulDouble(run_checks=False).start()
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def client(double: ConsulDouble) -> consul.Consul:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return consul.Consul(host="127.0.0.1", port=double.port)


def test_put_get_delete_round_trip(client: consul.Consul, double: ConsulDouble):
    assert client.kv.put("app/config/port", "8080") is True
    index, entry = client.kv.get("app/config/port")
    assert entry["Key"] == "app/config/port" and entry["Value"] == b"8080"
    assert entry["CreateIndex"] == entry["ModifyIndex"] == int(index)
    assert {"Flags", "LockIndex", "Session"} <= set(entry)
    assert client.kv.delete("app/config/port") is True
    index_after, missing = client.kv.get("app/config/port")
    assert missing is None and int(index_after) > int(index)


def test_missing_key_is_404_with_an_index(double: ConsulDouble):
    resp = requests.get(f"http://{double.address}/v1/kv/nope", timeout=5)
    assert resp.status_code == 404 and int(resp.headers["X-Consul-Index"]) >= 1


def test_recurse_keys_and_separator(client: consul.Consul):
    for key, value in (("app/a", "1"), ("app/b/c", "2"), ("app/b/d", "3"), ("other", "x")):
        client.kv.put(key, value)
    _, entries = client.kv.get("app/", recurse=True)
    assert [(e["Key"], e["Value"]) for e in entries] == [
        ("app/a", b"1"), ("app/b/c", b"2"), ("app/b/d", b"3")]
    _, keys = client.kv.get("app/", keys=True)
    assert keys == ["app/a", "app/b/c", "app/b/d"]
    _, top = client.kv.get("app/", keys=True, separator="/")
    assert top == ["app/a", "app/b/"]
    assert client.kv.delete("app/b/", recurse=True)
    _, keys = client.kv.get("app/", keys=True)
    assert keys == ["app/a"]


def test_raw_value_and_empty_value(double: ConsulDouble, client: consul.Consul):
    client.kv.put("blob", "hello\nworld")
    resp = requests.get(f"http://{double.address}/v1/kv/blob?raw", timeout=5)
    assert resp.content == b"hello\nworld"
    client.kv.put("empty", "")
    _, entry = client.kv.get("empty")
    assert entry["Value"] is None


def test_check_and_set(client: consul.Consul):
    assert client.kv.put("k", "1", cas=0) is True
    assert client.kv.put("k", "2", cas=0) is False  # 0: only when absent
    index, entry = client.kv.get("k")
    assert client.kv.put("k", "3", cas=entry["ModifyIndex"] + 100) is False
    assert client.kv.put("k", "3", cas=entry["ModifyIndex"]) is True
    assert client.kv.get("k")[1]["Value"] == b"3"


def test_blocking_query_returns_when_the_key_changes(client: consul.Consul,
                                                     double: ConsulDouble):
    client.kv.put("watched", "old")
    index, _ = client.kv.get("watched")
    writer = threading.Timer(0.3, lambda: double.kv_put("watched", "new"))
    writer.start()
    try:
        new_index, entry = client.kv.get("watched", index=index, wait="10s")
    finally:
        writer.cancel()
    assert int(new_index) > int(index) and entry["Value"] == b"new"


def test_blocking_query_times_out_with_the_same_index(client: consul.Consul):
    client.kv.put("quiet", "x")
    index, _ = client.kv.get("quiet")
    started = time.monotonic()
    same, entry = client.kv.get("quiet", index=index, wait="200ms")
    assert same == index and entry["Value"] == b"x"
    assert time.monotonic() - started < 5  # answered at the wait, not at the 5m default


def test_bad_wait_is_400(double: ConsulDouble):
    resp = requests.get(f"http://{double.address}/v1/kv/x?index=1&wait=soon", timeout=5)
    assert resp.status_code == 400 and "soon" in resp.text
