"""Common flags and Go-style flag parsing, on every command, with Nomad's exit codes."""

from __future__ import annotations

import pytest

from nomadjail.http.stubs import job_stub
from nomadjail.structs import to_api
from nomadjail.testing import mock_job


@pytest.fixture
def jobs(fake):
    fake.on("GET", "/v1/jobs", [])


@pytest.mark.parametrize("args", [
    ["job", "status", "-address=http://10.0.0.5:4646"],
    ["job", "status", "-address", "http://10.0.0.5:4646"],
    ["job", "status", "--address", "http://10.0.0.5:4646"],
    ["job", "status", "--address=http://10.0.0.5:4646"],
])
def test_address_in_every_spelling(run, fake, jobs, args):
    result = run(*args)
    assert result.exit_code == 0
    assert [(r.address, r.path) for r in fake.requests] == [("http://10.0.0.5:4646",
                                                             "/v1/jobs")]


def test_the_default_address_and_nomad_addr(run, fake, jobs):
    run("job", "status")
    run.environ["NOMAD_ADDR"] = "http://10.0.0.9:4646"
    run("job", "status")
    run("job", "status", "-address=http://10.0.0.5:4646")  # the flag wins
    assert [r.address for r in fake.requests] == ["http://127.0.0.1:4646",
                                                  "http://10.0.0.9:4646",
                                                  "http://10.0.0.5:4646"]


def test_address_reaches_the_client(run, fake, jobs, monkeypatch):
    created = []
    import nomadjail.cli.meta as meta_module

    original = meta_module.ApiClient

    def recording(address, **kwargs):
        created.append((address, kwargs))
        return original(address, **kwargs)

    monkeypatch.setattr(meta_module, "ApiClient", recording)
    run("job", "status", "-address=http://10.0.0.5:4646", "-region", "eu", "-namespace=ops",
        "-token", "s3cret")
    address, kwargs = created[0]
    assert address == "http://10.0.0.5:4646"
    assert (kwargs["region"], kwargs["namespace"], kwargs["token"]) == ("eu", "ops", "s3cret")


def test_region_namespace_and_token_go_on_the_request(run, fake, jobs):
    run("job", "status", "-region=eu", "-namespace", "ops", "-token=s3cret")
    request = fake.last("GET", "/v1/jobs")
    assert request.params == {"region": "eu", "namespace": "ops"}
    assert request.headers == {"X-Nomad-Token": "s3cret"}


def test_environment_supplies_the_defaults(run, fake, jobs):
    run.environ.update({"NOMAD_REGION": "eu", "NOMAD_NAMESPACE": "ops",
                        "NOMAD_TOKEN": "from-env"})
    run("job", "status")
    request = fake.last("GET", "/v1/jobs")
    assert request.params == {"region": "eu", "namespace": "ops"}
    assert request.headers == {"X-Nomad-Token": "from-env"}


def test_flags_win_over_the_environment(run, fake, jobs):
    run.environ.update({"NOMAD_NAMESPACE": "ops", "NOMAD_TOKEN": "from-env"})
    run("job", "status", "-namespace=dev", "-token=flag")
    request = fake.last("GET", "/v1/jobs")
    assert request.params["namespace"] == "dev"
    assert request.headers["X-Nomad-Token"] == "flag"


def test_flags_may_follow_positional_arguments(run, fake):
    job = mock_job(job_id="web")
    fake.on("GET", "/v1/jobs", [job_stub(job, None)])
    fake.on("GET", "/v1/job/web", to_api(job))
    result = run("job", "status", "web", "-short", "-namespace", "ops")
    assert result.exit_code == 0
    assert "Summary" not in result.output
    assert fake.last("GET", "/v1/jobs").params == {"namespace": "ops", "prefix": "web"}


@pytest.mark.parametrize("value, short", [("true", True), ("1", True), ("T", True),
                                          ("false", False), ("0", False), ("F", False)])
def test_go_style_boolean_values(run, fake, value, short):
    job = mock_job(job_id="web")
    fake.on("GET", "/v1/jobs", [job_stub(job, None)])
    fake.on("GET", "/v1/job/web", to_api(job))
    fake.on("GET", "/v1/job/web/summary", {"JobID": "web", "Summary": {}})
    fake.on("GET", "/v1/job/web/allocations", [])
    fake.on("GET", "/v1/job/web/evaluations", [])
    fake.on("GET", "/v1/job/web/deployment", None)
    result = run("job", "status", f"-short={value}", "web")
    assert result.exit_code == 0
    assert ("Summary" not in result.output) == short


def test_bad_boolean_value_is_a_usage_error(run):
    result = run("job", "status", "-short=maybe")
    assert result.exit_code == 1
    assert result.stderr == ('Error: invalid boolean value "maybe" for -short: parse error\n'
                             "For additional help try 'nomadjail job status -help'\n")


def test_unknown_flag_exits_1_with_a_hint(run):
    for spelling in ("-bogus", "--bogus", "-bogus=1"):
        result = run("job", "status", spelling)
        assert result.exit_code == 1
        assert result.stderr == ("Error: flag provided but not defined: -bogus\n"
                                 "For additional help try 'nomadjail job status -help'\n")


def test_usage_errors_of_job_plan_exit_255(run):
    result = run("job", "plan", "-bogus", "x.nomad")
    assert result.exit_code == 255
    result = run("job", "plan")
    assert result.exit_code == 255
    assert result.stderr.startswith("This command takes one argument: <path>\n")


def test_help_exits_0(run):
    for flag in ("-help", "-h", "--help"):
        result = run("job", "run", flag)
        assert result.exit_code == 0
        assert "Run a new job or update an existing job." in result.output


def test_unknown_command(run):
    result = run("jbo")
    assert result.exit_code == 1
    assert "No such command 'jbo'" in result.stderr


def test_group_without_verb_shows_help(run):
    result = run("job")
    assert result.exit_code == 1
    assert "Interact with jobs." in result.output


def test_connection_refused_is_a_plain_error(run, fake):
    from nomadjail.api import ApiConnectionError

    def refuse(request):
        raise ApiConnectionError("GET", "http://127.0.0.1:4646/v1/jobs",
                                 "connect: connection refused")

    fake.handle("GET", "/v1/jobs", refuse)
    result = run("job", "status")
    assert result.exit_code == 1
    assert result.stderr == ('Error querying jobs: Get "http://127.0.0.1:4646/v1/jobs": '
                             "connect: connection refused\n")


def test_version(run):
    result = run("version")
    assert result.exit_code == 0
    assert result.output.startswith("nomadjail v")


def test_color_only_when_asked_off_a_terminal(run, fake):
    job = mock_job(job_id="web")
    fake.on("GET", "/v1/jobs", [job_stub(job, None)])
    fake.on("GET", "/v1/job/web", to_api(job))
    fake.on("GET", "/v1/job/web/summary", {"JobID": "web", "Summary": {}})
    fake.on("GET", "/v1/job/web/allocations", [])
    fake.on("GET", "/v1/job/web/evaluations", [])
    fake.on("GET", "/v1/job/web/deployment", None)
    plain = run("job", "status", "web")
    assert "\033[" not in plain.output
    assert "\nSummary\n" in plain.output
    colored = run("job", "status", "-force-color", "web")
    assert "\033[1mSummary\033[0m" in colored.output
    run.tty = True
    assert "\033[" not in run("job", "status", "-no-color", "web").output
