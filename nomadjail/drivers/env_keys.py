"""Environment variable names as Nomad builds them, shared by the client and the drivers.

The client names port and meta variables after labels the job chose
(``NOMAD_HOST_PORT_<label>``) and cleans those names with
:func:`clean_env_key`; a driver that looks such a variable up must clean the
name the same way, or a label such as ``web-admin`` is never found.
"""

from __future__ import annotations


def clean_env_key(key: str, replacement: str = "_") -> str:
    """Nomad's CleanEnvVar: keep ASCII letters, ``_``, ``.`` and non-leading ASCII digits;
    every other character becomes ``replacement``."""
    out = []
    for i, ch in enumerate(key):
        ok = (ch in "_." or ("a" <= ch <= "z") or ("A" <= ch <= "Z")
              or (i > 0 and "0" <= ch <= "9"))
        out.append(ch if ok else replacement)
    return "".join(out)
