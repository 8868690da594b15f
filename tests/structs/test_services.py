"""Service blocks keep Nomad's JSON shape through a decode and an encode."""

from nomadjail.structs import SECOND, from_api, to_api
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck

NOMAD_SERVICE = {
    "Name": "web", "Tags": ["http"], "CanaryTags": [], "PortLabel": "http",
    "AddressMode": "auto", "Address": "", "Provider": "consul", "TaskName": "",
    "OnUpdate": "require_healthy", "Meta": {"team": "a"},
    "CheckRestart": {"Limit": 3, "Grace": 10 * SECOND, "IgnoreWarnings": False},
    "Checks": [{"Name": "alive", "Type": "http", "Command": "", "Args": [], "Path": "/health",
                "Protocol": "", "PortLabel": "http", "AddressMode": "", "Interval": 10 * SECOND,
                "Timeout": 2 * SECOND, "InitialStatus": "", "Method": "GET",
                "Header": {"X-Probe": ["1"]}, "TaskName": "", "CheckRestart": None}],
}


def test_a_nomad_service_decodes_and_encodes_unchanged():
    service = from_api(Service, NOMAD_SERVICE)
    assert service.checks[0] == ServiceCheck(
        name="alive", type="http", path="/health", port_label="http", interval=10 * SECOND,
        timeout=2 * SECOND, method="GET", header={"X-Probe": ["1"]})
    assert service.check_restart == CheckRestart(limit=3, grace=10 * SECOND)
    assert to_api(service) == NOMAD_SERVICE
