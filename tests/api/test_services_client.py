"""ApiClient's service discovery calls: paths, parameters, decoding."""

from __future__ import annotations

from nomadjail.api import ApiClient
from nomadjail.structs import ServiceRegistration, to_api


def test_services_service_and_delete(fake):
    client = ApiClient("http://127.0.0.1:4646", transport=fake)
    listed = [{"Namespace": "default", "Services": [{"ServiceName": "web", "Tags": ["a"]}]}]
    fake.on("GET", "/v1/services", listed, index=7)
    stubs, meta = client.services("we", namespace="*", index=3, wait=1)
    assert stubs == listed and meta.last_index == 7
    params = fake.last("GET", "/v1/services").params
    assert (params["prefix"], params["namespace"], params["index"]) == ("we", "*", "3")

    reg = ServiceRegistration(id="_nomad-task-a-t-web-http", service_name="web",
                              namespace="default", alloc_id="a", tags=["a"], port=80)
    fake.on("GET", "/v1/service/web", [to_api(reg)])
    found, _ = client.service("web", tag="a", choose="1|me", per_page=5, next_token="t")
    assert found == [reg]
    params = fake.last("GET", "/v1/service/web").params
    assert {k: params[k] for k in ("tag", "choose", "per_page", "next_token")} == \
        {"tag": "a", "choose": "1|me", "per_page": "5", "next_token": "t"}
    assert "filter" not in params

    fake.on("DELETE", f"/v1/service/web/{reg.id}", None, index=9)
    assert client.delete_service_registration("web", reg.id).last_index == 9

    fake.on("GET", "/v1/allocation/a/services", [to_api(reg)])
    assert client.allocation_services("a")[0] == [reg]
