"""``client { artifact { ... } }``: Nomad's keys, defaults and errors, down to the client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nomadjail.agent.command import config_from_flags, validate
from nomadjail.agent.config_file import ConfigError
from nomadjail.helper.artifact_config import ArtifactConfig

ARTIFACT_HCL = '''
client {
  enabled = true
  artifact {
    http_read_timeout              = "5m"
    http_max_size                  = "1GiB"
    gcs_timeout                    = "1m"
    git_timeout                    = "2m"
    hg_timeout                     = "3m"
    s3_timeout                     = "4m"
    decompression_file_count_limit = 10
    decompression_size_limit       = "20MB"
    disable_artifact_inspection    = false
    disable_filesystem_isolation   = true
    filesystem_isolation_extra_paths = ["f:r:/etc/ssl"]
    set_environment_variables      = "HTTP_PROXY,HTTPS_PROXY"
  }
}
'''

EXPECTED = ArtifactConfig(
    http_read_timeout=300.0, http_max_size=1024**3, gcs_timeout=60.0, git_timeout=120.0,
    hg_timeout=180.0, s3_timeout=240.0, decompression_file_count_limit=10,
    decompression_size_limit=20_000_000, disable_artifact_inspection=False,
    disable_filesystem_isolation=True, filesystem_isolation_extra_paths=["f:r:/etc/ssl"],
    set_environment_variables="HTTP_PROXY,HTTPS_PROXY")


def test_nomads_defaults() -> None:
    config = config_from_flags({"dev": True})
    assert config.client.artifact == ArtifactConfig()
    assert (ArtifactConfig().http_read_timeout, ArtifactConfig().http_max_size,
            ArtifactConfig().decompression_file_count_limit,
            ArtifactConfig().decompression_size_limit) == (1800.0, 100 * 1000**3, 4096,
                                                           100 * 1000**3)


def test_every_key_in_hcl_and_json_reaches_the_client(tmp_path: Path) -> None:
    hcl = tmp_path / "a.hcl"
    hcl.write_text(ARTIFACT_HCL)
    config = config_from_flags({"config_paths": [str(hcl)], "dev": True})
    assert config.client.artifact == EXPECTED
    as_json = {"client": {"enabled": True, "artifact": {
        "http_read_timeout": "5m", "http_max_size": "1GiB", "gcs_timeout": "1m",
        "git_timeout": "2m", "hg_timeout": "3m", "s3_timeout": "4m",
        "decompression_file_count_limit": 10, "decompression_size_limit": "20MB",
        "disable_artifact_inspection": False, "disable_filesystem_isolation": True,
        "filesystem_isolation_extra_paths": ["f:r:/etc/ssl"],
        "set_environment_variables": "HTTP_PROXY,HTTPS_PROXY"}}}
    js = tmp_path / "a.json"
    js.write_text(json.dumps(as_json))
    assert config_from_flags({"config_paths": [str(js)], "dev": True}).client.artifact == \
        EXPECTED
    # a later file changes one key and keeps the others
    later = tmp_path / "b.hcl"
    later.write_text('client {\n  artifact {\n    git_timeout = "9m"\n  }\n}\n')
    merged = config_from_flags({"config_paths": [str(hcl), str(later)], "dev": True})
    assert merged.client.artifact.git_timeout == 540.0
    assert merged.client.artifact.http_max_size == 1024**3


@pytest.mark.parametrize("line, message", [
    ('http_max_size = "lots"', "a.hcl:4:5: client.artifact.http_max_size: not a valid size: "
                               "'lots'"),
    ('git_timeout = "soon"', "a.hcl:4:5: client.artifact.git_timeout:"),
    ('decompression_file_count_limit = "many"',
     "a.hcl:4:5: client.artifact.decompression_file_count_limit: expected a whole number"),
    ('http_timeout = "1m"', 'a.hcl:4:5: unknown key "http_timeout" in client.artifact; '
                            'did you mean "http_read_timeout"?'),
])
def test_bad_values_name_the_file_line_and_key(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "a.hcl"
    path.write_text(f"client {{\n  enabled = true\n  artifact {{\n    {line}\n  }}\n}}\n")
    with pytest.raises(ConfigError) as err:
        config_from_flags({"config_paths": [str(path)], "dev": True})
    assert str(err.value).startswith(str(tmp_path / message))


def test_a_negative_file_count_is_refused_at_validation(tmp_path: Path) -> None:
    path = tmp_path / "a.hcl"
    path.write_text("client {\n  artifact {\n    decompression_file_count_limit = -1\n  }\n}\n")
    config = config_from_flags({"config_paths": [str(path)], "dev": True})
    assert ("client.artifact: decompression_file_count_limit must be >= 0 but found -1"
            in validate(config))
