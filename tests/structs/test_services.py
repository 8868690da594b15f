"""Service blocks: Nomad's JSON shape, Nomad's defaults and Nomad's validation messages."""

import pytest

from nomadjail.structs import (
    SECOND,
    Job,
    NetworkResource,
    Port,
    Task,
    TaskGroup,
    ValidationError,
    from_api,
    to_api,
)
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck

NOMAD_CHECK = {
    "Name": "alive", "Type": "http", "Command": "", "Args": [], "Path": "/health",
    "Protocol": "", "PortLabel": "http", "Expose": False, "AddressMode": "",
    "Interval": 10 * SECOND, "Timeout": 2 * SECOND, "InitialStatus": "", "Notes": "",
    "TLSServerName": "", "TLSSkipVerify": False, "Method": "GET",
    "Header": {"X-Probe": ["1"]},
    "CheckRestart": {"Limit": 3, "Grace": 10 * SECOND, "IgnoreWarnings": False},
    "GRPCService": "", "GRPCUseTLS": False, "TaskName": "", "SuccessBeforePassing": 2,
    "FailuresBeforeCritical": 3, "FailuresBeforeWarning": 0, "Body": "", "OnUpdate": "",
}
NOMAD_SERVICE = {
    "Name": "web", "TaskName": "", "PortLabel": "http", "AddressMode": "auto", "Address": "",
    "EnableTagOverride": True, "Tags": ["http"], "CanaryTags": ["canary"],
    "Checks": [NOMAD_CHECK], "Connect": None, "Meta": {"team": "a"},
    "CanaryMeta": {"team": "a-canary"}, "TaggedAddresses": {}, "Weights": None,
    "Namespace": "", "OnUpdate": "require_healthy", "Provider": "consul", "CheckRestart": None,
}


def test_a_nomad_service_decodes_and_encodes_unchanged():
    service = from_api(Service, NOMAD_SERVICE)
    assert service.checks[0].check_restart == CheckRestart(limit=3, grace=10 * SECOND)
    assert service.checks[0].success_before_passing == 2
    assert service.enable_tag_override and service.canary_meta == {"team": "a-canary"}
    assert to_api(service) == NOMAD_SERVICE


def job_with(group_services=(), task_services=(), ports=("http",), job_name="shop"):
    task = Task(name="server", driver="raw_exec", config={"command": "/bin/true"},
                services=list(task_services))
    group = TaskGroup(name="web", tasks=[task], services=list(group_services),
                      networks=[NetworkResource(dynamic_ports=[Port(label=p) for p in ports])])
    job = Job(id=job_name, datacenters=["dc1"], task_groups=[group])
    job.canonicalize()
    return job


def http_check(**kwargs):
    values = {"type": "http", "path": "/health", "interval": 10 * SECOND, "timeout": 2 * SECOND}
    values.update(kwargs)
    return ServiceCheck(**values)


def test_canonicalize_fills_nomads_defaults():
    job = job_with(group_services=[Service(port_label="http", checks=[http_check()],
                                           check_restart=CheckRestart(limit=2))],
                   task_services=[Service(name="${TASK}-metrics", port_label="http",
                                          checks=[http_check(name="m")])])
    group_service = job.task_groups[0].services[0]
    assert (group_service.name, group_service.address_mode, group_service.on_update,
            group_service.provider, group_service.task_name) == (
        "shop-web", "auto", "require_healthy", "consul", "")
    check = group_service.checks[0]
    assert check.name == 'service: "shop-web" check'
    assert check.on_update == "require_healthy"
    # the service's check_restart lands on each check, with Nomad's 1s grace
    assert check.check_restart == CheckRestart(limit=2, grace=SECOND)
    assert group_service.check_restart is None
    task_service = job.task_groups[0].tasks[0].services[0]
    assert task_service.name == "server-metrics"
    assert task_service.task_name == "server" and task_service.checks[0].task_name == "server"
    before = to_api(job)
    job.canonicalize()
    assert to_api(job) == before  # idempotent: a job stored twice is the same job
    job.validate()


def test_every_problem_of_a_service_is_listed_at_once():
    service = Service(name="bad_name!", port_label="http", address_mode="bridge",
                      on_update="sometimes", checks=[
                          ServiceCheck(name="c1", type="http", interval=SECOND // 2),
                          ServiceCheck(name="c2", type="grpc", interval=SECOND,
                                       timeout=SECOND),
                          ServiceCheck(name="c3", type="tcp", interval=SECOND, timeout=SECOND,
                                       initial_status="green", address_mode="auto"),
                      ])
    job = job_with(group_services=[service])
    with pytest.raises(ValidationError) as err:
        job.validate()
    prefix = ("Task group web validation failed: Task group service validation failed: "
              "Service[0] bad_name! validation failed: ")
    assert [e[len(prefix):] for e in err.value.errors] == [
        "Service name must be valid per RFC 1123 and can contain only alphanumeric characters "
        'or dashes and must be no longer than 63 characters: "bad_name!"',
        'Service address_mode must be "auto", "host", or "driver"; not "bridge"',
        'Service on_update must be "require_healthy", "ignore_warnings", or "ignore"; not '
        '"sometimes"',
        "Check c1 invalid: http type must have http path",
        "Check c1 invalid: interval (500ms) cannot be lower than 1s",
        "Check c1 invalid: missing required value timeout. Timeout cannot be less than 1s",
        'Check c1 invalid: on_update must be "require_healthy", "ignore_warnings", or '
        '"ignore"; got "sometimes"',
        'Check c2 invalid: check type "grpc" is not supported by nomadjail; use an "http" or '
        '"tcp" check',
        'Check c3 invalid: invalid initial check state (green), must be one of "passing", '
        '"warning", "critical" or empty',
        'Check c3 invalid: invalid address_mode "auto" - auto only valid for services',
        'Check c3 invalid: on_update must be "require_healthy", "ignore_warnings", or '
        '"ignore"; got "sometimes"',
    ]


def test_task_services_must_name_existing_ports_and_be_unique():
    job = job_with(task_services=[
        Service(name="api", port_label="nope", checks=[http_check(name="c")]),
        Service(name="api", port_label="nope"),
        Service(name="admin", port_label="http", address_mode="alloc",
                checks=[http_check(name="c", port_label="8080"), http_check(name="c")]),
    ])
    with pytest.raises(ValidationError) as err:
        job.validate()
    prefix = "Task group web validation failed: Task server validation failed: "
    assert [e.removeprefix(prefix) for e in err.value.errors] == [
        'service "api" is duplicate',
        'service "admin" cannot use address_mode="alloc", only services defined in a "group" '
        "block can use this mode",
        'check "c" cannot use a numeric port 8080 without setting address_mode="driver"',
        'check "c" is duplicate',
        'port label "nope" referenced by services api does not exist',
        "Task group web validation failed: Task group service validation failed: Services are "
        "not unique: server->api:nope",
    ]


def test_group_rules_providers_tasks_script_checks_and_unknown_ports():
    job = job_with(group_services=[
        Service(name="a", port_label="http", provider="nomad",
                checks=[http_check(name="n", address_mode="driver")]),
        Service(name="b", port_label="missing",
                checks=[ServiceCheck(name="s", type="script", command="/bin/check",
                                     interval=SECOND, timeout=SECOND)]),
        Service(name="c", task_name="ghost"),
    ])
    with pytest.raises(ValidationError) as err:
        job.validate()
    prefix = "Task group web validation failed: "
    assert [e.removeprefix(prefix) for e in err.value.errors] == [
        "Task group service validation failed: Service[0] a validation failed: address_mode "
        "= driver may only be set for Consul service checks",
        'Task group service validation failed: port label "missing" referenced by group '
        'service "b" does not exist',
        "Task group service validation failed: Service c invalid: refers to non-existent "
        "task ghost",
        "Task group service validation failed: Multiple service providers used: task group "
        "services must use the same provider",
        "Task group service check validation failed: Service [web]->b or Check s must "
        "specify task parameter",
    ]


def test_check_restart_and_on_update_must_agree():
    job = job_with(group_services=[Service(port_label="http", checks=[
        http_check(name="a", on_update="ignore", check_restart=CheckRestart(limit=1)),
        http_check(name="b", on_update="ignore_warnings",
                   check_restart=CheckRestart(limit=1, grace=-1)),
    ])])
    with pytest.raises(ValidationError) as err:
        job.validate()
    tails = [e.split("validation failed: ")[-1] for e in err.value.errors]
    assert tails == [
        'Check a invalid: on_update value "ignore" is not compatible with check_restart',
        'Check b invalid: on_update value "ignore_warnings" not supported with check_restart '
        'ignore_warnings value "false"',
        "Check b invalid: grace period must be greater than or equal to 0 but found -1",
    ]
