"""Nomad Variables and the keyring through the app in process, in Nomad's JSON shapes:
CRUD, check-and-set (409 with the current variable), limits, blocking reads, rotation."""

from __future__ import annotations

import asyncio

import falcon.testing
import pytest

from nomadjail.agent.agent import Agent
from nomadjail.structs.variables import Variable


def put(api: falcon.testing.TestClient, path: str, items: dict, **params: object):
    return api.simulate_put(f"/v1/var/{path}", json={"Items": items},
                            params={k: str(v) for k, v in params.items()})


def test_put_get_list_delete(api: falcon.testing.TestClient) -> None:
    created = put(api, "app/db", {"user": "admin", "password": "hunter2"})
    assert created.status_code == 200, created.text
    body = created.json
    assert body["Path"] == "app/db" and body["Namespace"] == "default"
    assert body["Items"] == {"user": "admin", "password": "hunter2"}
    assert body["CreateIndex"] == body["ModifyIndex"] > 0
    assert int(created.headers["X-Nomad-Index"]) == body["ModifyIndex"]

    got = api.simulate_get("/v1/var/app/db")
    assert got.status_code == 200
    assert got.json["Items"] == {"user": "admin", "password": "hunter2"}
    assert got.headers["X-Nomad-Index"] == str(body["ModifyIndex"])

    listed = api.simulate_get("/v1/vars", params={"prefix": "app/"})
    assert [v["Path"] for v in listed.json] == ["app/db"]
    assert "Items" not in listed.json[0] and listed.json[0]["ModifyIndex"] == body["ModifyIndex"]

    gone = api.simulate_delete("/v1/var/app/db")
    assert gone.status_code == 204
    missing = api.simulate_get("/v1/var/app/db")
    assert missing.status_code == 404 and "variable not found" in missing.text


def test_cas_conflict_answers_409_with_the_current_variable(
        api: falcon.testing.TestClient) -> None:
    first = put(api, "cas/thing", {"v": "1"}, cas=0)
    assert first.status_code == 200, first.text
    index = first.json["ModifyIndex"]

    again = put(api, "cas/thing", {"v": "2"}, cas=0)  # "must not exist" but it does
    assert again.status_code == 409
    assert again.json["Items"] == {"v": "1"} and again.json["ModifyIndex"] == index
    assert again.headers["X-Nomad-Index"] == str(index)

    stale = put(api, "cas/thing", {"v": "3"}, cas=index - 1)
    assert stale.status_code == 409 and stale.json["Items"] == {"v": "1"}

    ok = put(api, "cas/thing", {"v": "4"}, cas=index)
    assert ok.status_code == 200 and ok.json["Items"] == {"v": "4"}
    assert ok.json["CreateIndex"] == index

    missing = put(api, "cas/other", {"v": "1"}, cas=5)  # expects something that is not there
    assert missing.status_code == 409
    assert missing.json["Path"] == "cas/other" and not missing.json["Items"]
    assert api.simulate_get("/v1/var/cas/other").status_code == 404

    refused = api.simulate_delete("/v1/var/cas/thing", params={"cas": str(index)})
    assert refused.status_code == 409 and refused.json["Items"] == {"v": "4"}
    deleted = api.simulate_delete("/v1/var/cas/thing",
                                  params={"cas": str(ok.json["ModifyIndex"])})
    assert deleted.status_code == 204


@pytest.mark.parametrize(("path", "items", "params", "says"), [
    ("big/one", {"k": "x" * 65536}, {}, "limited to 64KiB"),
    ("ok/path", {}, {}, "missing required Items"),
    ("bad.path", {"k": "v"}, {}, "invalid path 'bad.path'"),
    ("trailing/", {"k": "v"}, {}, "may not begin or end"),
    ("nomad", {"k": "v"}, {}, "reserved top-level"),
    ("nomad/other", {"k": "v"}, {}, 'only paths at "nomad/jobs"'),
    ("x" * 129, {"k": "v"}, {}, "invalid path"),
    ("ok/path", {"k": "v"}, {"cas": "abc"}, "can not parse cas"),
    ("ok/path", {"k": "v"}, {"lock-acquire": "", "lock-release": ""}, "one lock operation"),
    ("ok/path", {"k": "v"}, {"namespace": "*"}, 'wildcard ("*") namespace'),
])
def test_bad_input_is_refused_and_stores_nothing(api: falcon.testing.TestClient, path: str,
                                                 items: dict, params: dict, says: str) -> None:
    before = api.simulate_get("/v1/vars", params={"namespace": "*"}).json
    resp = api.simulate_put(f"/v1/var/{path}", json={"Items": items}, params=params)
    assert resp.status_code == 400, resp.text
    assert says in resp.text
    assert api.simulate_get("/v1/vars", params={"namespace": "*"}).json == before


def test_items_must_be_strings(api: falcon.testing.TestClient) -> None:
    resp = api.simulate_put("/v1/var/typed", json={"Items": {"n": 1}})
    assert resp.status_code == 400 and "Items" in resp.text


def test_just_under_the_limit_is_accepted(api: falcon.testing.TestClient) -> None:
    resp = put(api, "big/fits", {"k": "x" * (65536 - 1)})
    assert resp.status_code == 200, resp.text
    assert api.simulate_delete("/v1/var/big/fits").status_code == 204


def test_namespaces_filter_lists(api: falcon.testing.TestClient) -> None:
    assert put(api, "ns/a", {"k": "v"}, namespace="apps").status_code == 200
    assert put(api, "ns/a", {"k": "w"}).status_code == 200
    default = api.simulate_get("/v1/vars", params={"prefix": "ns/"}).json
    assert [(v["Namespace"], v["Path"]) for v in default] == [("default", "ns/a")]
    every = api.simulate_get("/v1/vars", params={"prefix": "ns/", "namespace": "*"}).json
    assert [(v["Namespace"], v["Path"]) for v in every] == [("apps", "ns/a"),
                                                             ("default", "ns/a")]
    apps = api.simulate_get("/v1/var/ns/a", params={"namespace": "apps"})
    assert apps.json["Items"] == {"k": "v"}


def test_list_pages(api: falcon.testing.TestClient) -> None:
    for name in ("p1", "p2", "p3"):
        assert put(api, f"page/{name}", {"k": "v"}).status_code == 200
    first = api.simulate_get("/v1/vars", params={"prefix": "page/", "per_page": "2"})
    assert [v["Path"] for v in first.json] == ["page/p1", "page/p2"]
    token = first.headers["X-Nomad-NextToken"]
    rest = api.simulate_get("/v1/vars", params={"prefix": "page/", "per_page": "2",
                                               "next_token": token})
    assert [v["Path"] for v in rest.json] == ["page/p3"]


def test_blocking_read_wakes_on_put(api: falcon.testing.TestClient, agent: Agent) -> None:
    index = put(api, "watch/me", {"v": "1"}).json["ModifyIndex"]
    same = api.simulate_get("/v1/var/watch/me", params={"index": str(index), "wait": "100ms"})
    assert same.headers["X-Nomad-Index"] == str(index)
    server = agent.require_server()

    def write(path: str, value: str) -> None:
        server.variables.apply(Variable(path=path, items={"v": value}))

    async def watch_then_put() -> falcon.testing.Result:
        async with falcon.testing.ASGIConductor(api.app) as conductor:
            waiting = asyncio.ensure_future(conductor.simulate_get(
                "/v1/var/watch/me", params={"index": str(index), "wait": "30s"}))
            await asyncio.to_thread(write, "watch/other", "x")  # must not wake it
            await asyncio.sleep(0)
            assert not waiting.done()
            await asyncio.to_thread(write, "watch/me", "2")
            return await asyncio.wait_for(waiting, 20)

    resp = asyncio.run(watch_then_put())
    assert resp.json["Items"] == {"v": "2"}
    assert int(resp.headers["X-Nomad-Index"]) == resp.json["ModifyIndex"] > index


def test_keyring_rotate_and_remove(api: falcon.testing.TestClient) -> None:
    assert put(api, "rot/a", {"secret": "s1"}).status_code == 200
    keys = api.simulate_get("/v1/operator/keyring/keys").json
    active = [k for k in keys if k["State"] == "active"]
    assert len(active) == 1 and active[0]["Algorithm"] == "aes256-gcm"
    old = active[0]["KeyID"]

    refused = api.simulate_delete(f"/v1/operator/keyring/key/{old}")
    assert refused.status_code == 400 and "active root key" in refused.text

    rotated = api.simulate_put("/v1/operator/keyring/rotate")
    assert rotated.status_code == 200
    new = rotated.json["Key"]["KeyID"]
    assert new != old and rotated.json["Key"]["State"] == "active"
    states = {k["KeyID"]: k["State"] for k in api.simulate_get("/v1/operator/keyring/keys").json}
    assert states[old] == "inactive" and states[new] == "active"
    assert api.simulate_get("/v1/var/rot/a").json["Items"] == {"secret": "s1"}
    in_use = api.simulate_delete(f"/v1/operator/keyring/key/{old}")
    assert in_use.status_code == 400 and "in use by variables" in in_use.text

    full = api.simulate_put("/v1/operator/keyring/rotate", params={"full": "true"})
    newest = full.json["Key"]["KeyID"]
    states = {k["KeyID"]: k["State"] for k in api.simulate_get("/v1/operator/keyring/keys").json}
    assert states[newest] == "active" and states[old] == "deprecated"
    assert states[new] == "deprecated"
    assert api.simulate_get("/v1/var/rot/a").json["Items"] == {"secret": "s1"}
    assert api.simulate_delete(f"/v1/operator/keyring/key/{old}").status_code == 200
    assert old not in {k["KeyID"] for k in api.simulate_get("/v1/operator/keyring/keys").json}
    assert api.simulate_delete("/v1/operator/keyring/key/nope").status_code == 404
    bad = api.simulate_put("/v1/operator/keyring/rotate", params={"full": "maybe"})
    assert bad.status_code == 400


def test_locks_acquire_renew_release(api: falcon.testing.TestClient) -> None:
    body = {"Items": {"leader": "a"}, "Lock": {"TTL": "15s", "LockDelay": "1m"}}
    acquired = api.simulate_put("/v1/var/lock/one", json=body, params={"lock-acquire": ""})
    assert acquired.status_code == 200, acquired.text
    lock = acquired.json["Lock"]
    assert lock["TTL"] == "15s" and lock["LockDelay"] == "1m0s" and lock["ID"]
    assert acquired.json["Items"] == {"leader": "a"}

    taken = api.simulate_put("/v1/var/lock/one", json=body, params={"lock-acquire": ""})
    assert taken.status_code == 409 and taken.json["Lock"]["ID"] == lock["ID"]
    # Nobody but the holder writes or deletes it.
    assert put(api, "lock/one", {"leader": "b"}).status_code == 409
    assert api.simulate_delete("/v1/var/lock/one").status_code == 409
    mine = api.simulate_put("/v1/var/lock/one", json={"Items": {"leader": "a2"},
                                                      "Lock": {"ID": lock["ID"]}})
    assert mine.status_code == 200 and mine.json["Items"] == {"leader": "a2"}
    assert mine.json["Lock"]["ID"] == lock["ID"] and mine.json["Lock"]["TTL"] == "15s"

    renewed = api.simulate_put("/v1/var/lock/one", json={"Lock": {"ID": lock["ID"]}},
                               params={"lock-renew": ""})
    assert renewed.status_code == 200 and renewed.json["Path"] == "lock/one"
    assert "Items" not in renewed.json
    wrong = api.simulate_put("/v1/var/lock/one", json={"Lock": {"ID": "not-the-id"}},
                             params={"lock-renew": ""})
    assert wrong.status_code == 409

    released = api.simulate_put("/v1/var/lock/one", json={"Lock": {"ID": lock["ID"]}},
                                params={"lock-release": ""})
    assert released.status_code == 200, released.text
    assert released.json.get("Lock") is None and released.json["Items"] == {"leader": "a2"}
    again = api.simulate_put("/v1/var/lock/one", json={"Lock": {"TTL": "10s"}},
                             params={"lock-acquire": ""})
    assert again.status_code == 200 and again.json["Lock"]["ID"] != lock["ID"]
    assert again.json["Items"] == {"leader": "a2"}  # no items given: kept
    bad = api.simulate_put("/v1/var/lock/two", json={"Lock": {"TTL": "1s"}},
                           params={"lock-acquire": ""})
    assert bad.status_code == 400 and "TTL must be between 10 seconds and 24 hours" in bad.text
    assert api.simulate_get("/v1/var/lock/two").status_code == 404
