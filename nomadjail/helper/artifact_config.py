"""The client's ``artifact { ... }`` settings (Nomad's ``client.artifact`` block).

Here, in the standard-library-only floor, because both the agent's config
(which must not load the client) and the client use them.

Nomad's names and defaults: downloads and clones may take 30 minutes, an
HTTP download may be 100 GB, an archive may unpack to 100 GB in at most 4096
files.  ``gcs_timeout``, ``hg_timeout`` and ``s3_timeout`` are accepted so
Nomad's client configs load, though nomadjail has no getter for those
sources.  ``disable_filesystem_isolation`` is accepted too: nomadjail has no
Landlock sandbox for the download, so every artifact is fetched into a
temporary directory and inspected (symlinks leading out refused) before it is
moved into place -- what Nomad does where it cannot isolate.

Sizes are written as Nomad's (go-humanize) strings, ``"100GB"`` (powers of
1000) or ``"1GiB"`` (powers of 1024); durations as ``"30m"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MINUTE = 60.0

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1,
          "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "t": 1000**4, "tb": 1000**4, "p": 1000**5, "pb": 1000**5,
          "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3,
          "gib": 1024**3, "ti": 1024**4, "tib": 1024**4, "pi": 1024**5, "pib": 1024**5}
_MAX_INT64 = 2**63 - 1


def parse_size(text: str) -> int:
    """Bytes in a size written as go-humanize reads it (``"100GB"``, ``"512 MiB"``,
    ``"1024"``); ValueError naming the text otherwise."""
    match = _SIZE.fullmatch(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(f"not a valid size: {text!r} (e.g. \"100GB\", \"512MiB\")")
    size = int(float(match.group(1)) * unit)
    if size > _MAX_INT64:
        raise ValueError(f"must be < {_MAX_INT64} but found {size}")
    return size


@dataclass(frozen=True, slots=True)
class ArtifactConfig:
    http_read_timeout: float = 30 * MINUTE  # seconds for one whole download
    http_max_size: int = 100 * 1000**3  # bytes an HTTP download may have
    gcs_timeout: float = 30 * MINUTE
    git_timeout: float = 30 * MINUTE  # seconds for one clone
    hg_timeout: float = 30 * MINUTE
    s3_timeout: float = 30 * MINUTE
    decompression_file_count_limit: int = 4096  # 0 = no limit
    decompression_size_limit: int = 100 * 1000**3  # bytes unpacked; 0 = no limit
    disable_artifact_inspection: bool = False
    disable_filesystem_isolation: bool = False
    filesystem_isolation_extra_paths: list[str] = field(default_factory=list)
    # Comma- or space-separated names of the client's environment variables the
    # download inherits (git, proxies); by default it gets a minimal environment.
    set_environment_variables: str = ""

    def problems(self) -> list[str]:
        """What Nomad's ``ArtifactConfig.Validate`` refuses, in its words."""
        found = [f"{name} must be > 0" for name in ("http_read_timeout", "gcs_timeout",
                                                     "git_timeout", "hg_timeout", "s3_timeout")
                 if getattr(self, name) < 0]
        if self.decompression_file_count_limit < 0:
            found.append("decompression_file_count_limit must be >= 0 but found "
                         f"{self.decompression_file_count_limit}")
        return found

    def inherited_environment(self) -> list[str]:
        """The variable names ``set_environment_variables`` lists."""
        return [name for name in re.split(r"[,\s]+", self.set_environment_variables) if name]
