"""Whole job files -> exactly the Job a user expects, in Nomad's API shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nomadjail.jobspec import JobspecError, parse_job
from nomadjail.structs import (
    HOUR,
    MINUTE,
    SECOND,
    Affinity,
    CheckRestart,
    Constraint,
    EphemeralDisk,
    Job,
    LogConfig,
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    Service,
    ServiceCheck,
    Task,
    TaskGroup,
    TaskLifecycle,
    UpdateStrategy,
    VolumeMount,
    VolumeRequest,
    from_api,
    to_api,
)
from nomadjail.structs.resources import DNSConfig, NetworkResource, Port, Resources

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parents[2]


def load(name: str, **kwargs) -> Job:
    path = FIXTURES / name
    return parse_job(path.read_text(), path.name, **kwargs)


def expected_full_job() -> Job:
    server = Task(
        name="server", driver="pot", user="www", kill_timeout=20 * SECOND, kill_signal="SIGTERM",
        leader=True, shutdown_delay=2 * SECOND,
        config={
            "image": "https://potluck.honeyguide.net/nginx-nomad",
            "pot": "nginx-nomad-amd64-14_1",
            "tag": "1.2.3",
            "command": "nginx",
            "args": ["-g", "'daemon off;'"],
            "network_mode": "public-bridge",
            "port_map": [{"http": "80"}],
            "copy": ["${NOMAD_TASK_DIR}/nginx.conf:/usr/local/etc/nginx/nginx.conf"],
            "mount": ["/mnt/data:/data"],
            "extra_hosts": ["db:10.0.0.2"],
        },
        env={"PORT": "${NOMAD_PORT_http}", "NUMBER": "42"},
        meta={"kind": "frontend"},
        resources=Resources(cpu=500, memory_mb=256, memory_max_mb=512),
        log_config=LogConfig(max_files=5, max_file_size_mb=20),
        volume_mounts=[VolumeMount(volume="certs", destination="/etc/certs", read_only=True)],
        restart_policy=RestartPolicy(attempts=5, mode="delay"),
        constraints=[Constraint("${attr.os.version}", "14.0", ">=")],
        affinities=[Affinity("${node.class}", "fast", "=", -50)],
        services=[Service(name="server-metrics", port_label="metrics", provider="consul")],
    )
    shipper = Task(
        name="log-shipper", driver="raw_exec",
        lifecycle=TaskLifecycle(hook="poststart", sidecar=True),
        config={"command": "/usr/local/bin/shipper",
                "args": ["--dir", "${NOMAD_ALLOC_DIR}/logs"]},
        resources=Resources(cpu=50, memory_mb=32, networks=[
            NetworkResource(mbits=10, dynamic_ports=[Port(label="ship")])]),
    )
    group = TaskGroup(
        name="frontend", count=3, shutdown_delay=5 * SECOND,
        meta={"team.name": "web"},
        constraints=[Constraint("${meta.rack}", "2", "distinct_property")],
        affinities=[Affinity("${meta.zone}", "a,b", "set_contains_any", -20)],
        restart_policy=RestartPolicy(attempts=2, interval=30 * MINUTE, delay=15 * SECOND,
                                     mode="fail"),
        ephemeral_disk=EphemeralDisk(sticky=True, migrate=True, size_mb=500),
        networks=[NetworkResource(
            mode="host",
            reserved_ports=[Port(label="http", value=8080, to=80)],
            dynamic_ports=[Port(label="metrics"), Port(label="admin", to=9000)],
            dns=DNSConfig(servers=["1.1.1.1"]))],
        volumes={"certs": VolumeRequest(name="certs", type="host", source="certs",
                                        read_only=True)},
        services=[Service(
            name="web-1-2-3", port_label="http", tags=["web", "v1.2.3"], canary_tags=["canary"],
            provider="consul", address_mode="host", meta={"version": "1.2.3"},
            checks=[
                ServiceCheck(name="alive", type="http", path="/health", method="GET",
                             interval=10 * SECOND, timeout=2 * SECOND,
                             header={"Authorization": ["Basic abc"]},
                             check_restart=CheckRestart(limit=3, grace=90 * SECOND)),
                ServiceCheck(type="script", command="/bin/check", args=["-v"],
                             task_name="server", interval=30 * SECOND, timeout=5 * SECOND),
            ])],
        tasks=[server, shipper],
    )
    return Job(
        id="web", name="web", region="eu", namespace="prod", type="service", priority=70,
        node_pool="freebsd", all_at_once=False, datacenters=["dc1", "dc2"],
        meta={"owner": "ops"},
        constraints=[Constraint("${attr.kernel.name}", "freebsd", "="),
                     Constraint("", "true", "distinct_hosts")],
        affinities=[Affinity("${node.datacenter}", "dc1", "=", 80)],
        update=UpdateStrategy(stagger=30 * SECOND, max_parallel=2, health_check="checks",
                              min_healthy_time=15 * SECOND, healthy_deadline=3 * MINUTE,
                              progress_deadline=10 * MINUTE, canary=1, auto_revert=True,
                              auto_promote=False),
        reschedule=ReschedulePolicy(attempts=3, interval=HOUR, delay=30 * SECOND,
                                    delay_function="exponential", max_delay=10 * MINUTE,
                                    unlimited=False),
        migrate=MigrateStrategy(max_parallel=1, health_check="checks",
                                min_healthy_time=10 * SECOND, healthy_deadline=5 * MINUTE),
        task_groups=[group],
    )


def test_full_job_parses_to_exactly_the_expected_job():
    job = load("full.nomad")
    expected = expected_full_job()
    # Compare piece by piece first so a failure names the part that differs.
    assert job.task_groups[0].tasks[0] == expected.task_groups[0].tasks[0]
    assert job.task_groups[0].tasks[1] == expected.task_groups[0].tasks[1]
    assert job.task_groups[0] == expected.task_groups[0]
    assert job == expected


def test_full_job_is_valid_once_canonicalized():
    job = load("full.nomad")
    job.canonicalize()
    job.validate()
    assert job.task_groups[0].tasks[1].resources.memory_mb == 32


def test_full_job_has_nomads_api_shape():
    data = to_api(load("full.nomad"))
    group = data["TaskGroups"][0]
    server = group["Tasks"][0]
    assert server["Resources"]["MemoryMB"] == 256
    assert server["Resources"]["MemoryMaxMB"] == 512
    assert server["KillTimeout"] == 20_000_000_000
    assert server["LogConfig"]["MaxFileSizeMB"] == 20
    assert group["Networks"][0]["ReservedPorts"] == [
        {"Label": "http", "Value": 8080, "To": 80, "HostNetwork": "", "IgnoreCollision": False}]
    assert [p["Label"] for p in group["Networks"][0]["DynamicPorts"]] == ["metrics", "admin"]
    assert data["Constraints"][0] == {"LTarget": "${attr.kernel.name}", "RTarget": "freebsd",
                                      "Operand": "="}
    assert group["EphemeralDisk"] == {"Sticky": True, "Migrate": True, "SizeMB": 500}


def test_a_parsed_job_survives_the_api_json_codec_unchanged():
    job = load("full.nomad")
    assert from_api(Job, json.loads(json.dumps(to_api(job)))) == job


def test_the_process_environment_is_never_read_unless_passed(monkeypatch):
    monkeypatch.setenv("NOMAD_VAR_region", "from-process-env")
    text = 'variable "region" {\n  default = "default"\n}\njob "j" {\n  region = var.region\n}\n'
    assert parse_job(text).region == "default"
    assert parse_job(text, env={"NOMAD_VAR_region": "given"}).region == "given"


def test_what_the_file_leaves_out_stays_unset():
    job = parse_job('job "bare" {\n  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
                    '    }\n  }\n}\n')
    assert job.id == job.name == "bare"
    assert (job.region, job.namespace, job.type, job.priority, job.update) == (None,) * 5
    group = job.task_groups[0]
    assert (group.count, group.restart_policy, group.ephemeral_disk) == (None, None, None)
    task = group.tasks[0]
    assert (task.resources, task.kill_timeout, task.log_config) == (None, None, None)
    assert task.config == {}


def test_id_and_name_attributes_override_the_label():
    job = parse_job('job "label" {\n  id = "the-id"\n  name = "The Name"\n}\n')
    assert (job.id, job.name) == ("the-id", "The Name")


def test_a_task_directly_in_the_job_becomes_its_own_group():
    job = parse_job('job "j" {\n  task "solo" {\n    driver = "raw_exec"\n  }\n'
                    '  group "g" {}\n}\n')
    assert [g.name for g in job.task_groups] == ["solo", "g"]
    assert job.task_groups[0].tasks[0].name == "solo"


def test_meta_and_env_may_be_blocks_or_maps():
    as_blocks = parse_job('job "j" {\n  meta {\n    a = "1"\n  }\n  group "g" {\n    task "t" {\n'
                          '      env {\n        X = "y"\n      }\n    }\n  }\n}\n')
    as_maps = parse_job('job "j" {\n  meta = { a = 1 }\n  group "g" {\n    task "t" {\n'
                        '      env = { "X" = "y" }\n    }\n  }\n}\n')
    assert as_blocks == as_maps
    assert as_maps.meta == {"a": "1"}


def test_constraint_shorthands():
    job = parse_job('''job "j" {
  constraint {
    attribute = "${attr.os.version}"
    version   = ">= 13.0"
  }
  constraint {
    attribute = "${attr.unique.hostname}"
    regexp    = "^web"
  }
  constraint {
    attribute    = "${meta.tags}"
    set_contains = "a,b"
  }
  constraint {
    distinct_hosts = false
  }
  constraint {
    attribute = attr.kernel.name
    operator  = "!="
    value     = "linux"
  }
}
''')
    assert [(c.l_target, c.operand, c.r_target) for c in job.constraints] == [
        ("${attr.os.version}", "version", ">= 13.0"),
        ("${attr.unique.hostname}", "regexp", "^web"),
        ("${meta.tags}", "set_contains", "a,b"),
        ("", "distinct_hosts", "false"),
        ("${attr.kernel.name}", "!=", "linux"),
    ]


def test_config_blocks_and_object_literals_become_lists_like_nomads():
    job = parse_job('''job "j" {
  group "g" {
    task "t" {
      driver = "pot"
      config {
        port_map = { http = "80" }
        labels   = local_value_is_not_needed_here
        nested {
          depth = 1
        }
        nested {
          depth = 2
        }
        mount "data" {
          read_only = true
        }
        plain_map = tomap({ a = 1 })
        number    = 3
        flag      = true
      }
    }
  }
}
''')
    assert job.task_groups[0].tasks[0].config == {
        "port_map": [{"http": "80"}],
        "labels": "${local_value_is_not_needed_here}",
        "nested": [{"depth": 1}, {"depth": 2}],
        "mount": [{"data": [{"read_only": True}]}],
        "plain_map": {"a": 1},
        "number": 3,
        "flag": True,
    }


def test_devices_are_kept_in_the_api_shape():
    job = parse_job('''job "j" {
  group "g" {
    task "t" {
      resources {
        device "nvidia/gpu" {
          count = 2
          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "2 GiB"
          }
        }
      }
    }
  }
}
''')
    assert job.task_groups[0].tasks[0].resources.devices == [{
        "Name": "nvidia/gpu", "Count": 2,
        "Constraints": [{"LTarget": "${device.attr.memory}", "RTarget": "2 GiB", "Operand": ">="}],
        "Affinities": []}]


def test_logs_enabled_false_means_disabled():
    job = parse_job('job "j" {\n  group "g" {\n    task "t" {\n      logs {\n'
                    '        enabled = false\n      }\n    }\n  }\n}\n')
    assert job.task_groups[0].tasks[0].log_config == LogConfig(disabled=True)


def test_dynamic_blocks_expand_like_nomads():
    job = parse_job('''job "j" {
  dynamic "group" {
    for_each = [{ name = "a", n = 1 }, { name = "b", n = 2 }]
    labels   = [group.value.name]
    content {
      count = group.value.n
      network {
        dynamic "port" {
          for_each = { http = 80, https = 443 }
          iterator = p
          labels   = [p.key]
          content {
            to = p.value
          }
        }
      }
    }
  }
}
''')
    assert [(g.name, g.count) for g in job.task_groups] == [("a", 1), ("b", 2)]
    assert job.task_groups[1].networks[0].dynamic_ports == [Port(label="http", to=80),
                                                           Port(label="https", to=443)]


POTLUCK = sorted((FIXTURES / "potluck").glob("*.nomad"))


@pytest.mark.parametrize("path", POTLUCK, ids=[p.stem for p in POTLUCK])
def test_potluck_style_pot_jobs_parse_and_validate(path: Path):
    job = parse_job(path.read_text(), path.name)
    job.canonicalize()
    job.validate()
    task = job.task_groups[0].tasks[0]
    assert task.driver == "pot"
    assert task.config["image"].startswith("https://potluck.honeyguide.net/")
    assert isinstance(task.config["port_map"], list) and len(task.config["port_map"]) == 1


def test_potluck_group_network_static_port_and_check():
    job = load("potluck/nginx.nomad")
    group = job.task_groups[0]
    assert group.networks == [NetworkResource(reserved_ports=[Port(label="http", value=12000)])]
    task = group.tasks[0]
    assert task.config["copy"] == ["/mnt/s3/web/nginx.conf:/usr/local/etc/nginx/nginx.conf"]
    assert task.config["args"] == ["-g", "'daemon off;'"]
    assert task.services[0].checks == [ServiceCheck(name="tcp", type="tcp",
                                                    interval=60 * SECOND, timeout=30 * SECOND)]


def test_potluck_legacy_task_network_is_kept_on_the_task():
    job = load("potluck/legacy-network.nomad")
    task = job.task_groups[0].tasks[0]
    assert job.task_groups[0].networks == []
    assert task.resources.networks == [NetworkResource(mbits=10,
                                                       dynamic_ports=[Port(label="ssh")])]
    assert task.services[0].check_restart == CheckRestart(limit=0, grace=120 * SECOND)


def test_potluck_legacy_static_port():
    task = load("potluck/static-legacy.nomad").task_groups[0].tasks[0]
    assert task.resources.networks[0].reserved_ports == [Port(label="smtp", value=25000)]
    assert task.env == {"DOMAIN": "example.com"}
    assert task.restart_policy == RestartPolicy(attempts=3, delay=30 * SECOND)


def test_the_shipped_example_job_parses_and_validates():
    path = REPO / "examples" / "example.nomad"
    job = parse_job(path.read_text(), path.name)
    job.canonicalize()
    job.validate()
    args = job.task_groups[0].tasks[0].config["args"]
    assert args[0] == "-c" and "$NOMAD_PORT_http" in args[1]


def test_an_unsupported_block_is_refused_at_its_position():
    text = (FIXTURES / "potluck" / "nginx.nomad").read_text().replace(
        "      resources {",
        "      vault {\n        policies = [\"x\"]\n      }\n\n      resources {")
    with pytest.raises(JobspecError) as err:
        parse_job(text, "nginx.nomad")
    assert str(err.value) == 'nginx.nomad:49:7: block "vault" is not supported by nomadjail yet'
