"""``service`` and ``check`` blocks: every attribute Nomad documents, in Nomad's API shape."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import JobspecError, parse_job
from nomadjail.structs import SECOND, ValidationError
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck, ServiceWeights

POTLUCK_WEB = '''
job "web" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" { to = 80 }
    }
    service {
      name                = "${JOB}-www"
      port                = "http"
      tags                = ["traefik.enable=true", "web"]
      canary_tags         = ["canary"]
      enable_tag_override = true
      address_mode        = "host"
      on_update           = "require_healthy"
      provider            = "consul"
      task                = "nginx"
      meta { version = "1" }
      canary_meta { version = "2" }
      tagged_addresses { wan = "203.0.113.7" }
      weights {
        passing = 10
        warning = 1
      }
      check_restart {
        limit = 3
        grace = "30s"
      }
      check {
        name                     = "alive"
        type                     = "http"
        path                     = "/health"
        method                   = "HEAD"
        protocol                 = "http"
        interval                 = "10s"
        timeout                  = "2s"
        initial_status           = "warning"
        success_before_passing   = 2
        failures_before_critical = 3
        failures_before_warning  = 1
        tls_skip_verify          = true
        tls_server_name          = "www.example.org"
        notes                    = "the front page"
        body                     = "{}"
        on_update                = "ignore_warnings"
        header {
          X-Probe = ["nomadjail"]
        }
        check_restart {
          limit           = 5
          ignore_warnings = true
        }
      }
      check {
        type     = "tcp"
        port     = 8080
        address_mode = "host"
        interval = "5s"
        timeout  = "1s"
      }
      check {
        type     = "script"
        name     = "probe"
        command  = "/usr/local/bin/probe"
        args     = ["-q"]
        interval = "30s"
        timeout  = "5s"
      }
    }
    task "nginx" {
      driver = "pot"
      config {
        image = "https://potluck.honeyguide.net/nginx-nomad"
        pot   = "nginx-nomad"
        tag   = "1.1.13"
        command = "nginx"
        port_map = { http = "80" }
        network_mode = "public-bridge"
      }
    }
  }
}
'''


def test_every_service_and_check_attribute_lands_in_nomads_fields():
    job = parse_job(POTLUCK_WEB, "web.nomad")
    service = job.task_groups[0].services[0]
    assert service == Service(
        name="${JOB}-www", port_label="http", tags=["traefik.enable=true", "web"],
        canary_tags=["canary"], enable_tag_override=True, address_mode="host",
        on_update="require_healthy", provider="consul", task_name="nginx",
        meta={"version": "1"}, canary_meta={"version": "2"},
        tagged_addresses={"wan": "203.0.113.7"}, weights=ServiceWeights(passing=10, warning=1),
        check_restart=CheckRestart(limit=3, grace=30 * SECOND),
        checks=[
            ServiceCheck(name="alive", type="http", path="/health", method="HEAD",
                         protocol="http", interval=10 * SECOND, timeout=2 * SECOND,
                         initial_status="warning", success_before_passing=2,
                         failures_before_critical=3, failures_before_warning=1,
                         tls_skip_verify=True, tls_server_name="www.example.org",
                         notes="the front page", body="{}", on_update="ignore_warnings",
                         header={"X-Probe": ["nomadjail"]},
                         check_restart=CheckRestart(limit=5, ignore_warnings=True)),
            ServiceCheck(type="tcp", port_label="8080", address_mode="host",
                         interval=5 * SECOND, timeout=SECOND),
            ServiceCheck(name="probe", type="script", command="/usr/local/bin/probe",
                         args=["-q"], interval=30 * SECOND, timeout=5 * SECOND),
        ])


def test_the_parsed_job_canonicalizes_and_validates_as_nomad_would():
    job = parse_job(POTLUCK_WEB, "web.nomad")
    job.canonicalize()
    job.validate()
    service = job.task_groups[0].services[0]
    assert service.name == "web-www"
    alive, tcp, probe = service.checks
    # the service's check_restart is the base, the check's own values win
    assert alive.check_restart == CheckRestart(limit=5, grace=30 * SECOND, ignore_warnings=True)
    assert tcp.check_restart == CheckRestart(limit=3, grace=30 * SECOND)
    assert (tcp.name, tcp.on_update, probe.task_name) == (
        'service: "web-www" check', "require_healthy", "nginx")


@pytest.mark.parametrize("line, message", [
    ("expose = true", 'web.nomad:9:7: attribute "expose" is not supported by nomadjail yet'),
    ("port = [1]", 'web.nomad:9:14: invalid value for "port" in check in service in group '
                   '"web": expected a string, got a list'),
    ("flavour = 1", 'web.nomad:9:7: unknown attribute "flavour" in check in service in group '
                    '"web"'),
])
def test_a_bad_check_attribute_is_one_located_sentence(line, message):
    text = ('job "j" {\n  group "web" {\n    network { port "http" {} }\n'
            '    task "t" { driver = "raw_exec" }\n    service {\n      port = "http"\n'
            '      check {\n        type = "tcp"\n      ' + line + '\n      }\n    }\n  }\n}\n')
    with pytest.raises(JobspecError) as err:
        parse_job(text, "web.nomad")
    assert str(err.value).startswith(message)


def test_grpc_checks_are_refused_with_the_job_not_at_run_time():
    text = POTLUCK_WEB.replace('type     = "tcp"', 'type     = "grpc"')
    job = parse_job(text, "web.nomad")
    job.canonicalize()
    with pytest.raises(ValidationError) as err:
        job.validate()
    assert any('check type "grpc" is not supported by nomadjail' in e for e in err.value.errors)
