"""Every function name a job template may use: Go's builtins, consul-template's, sprig's.

The jobspec validator parses templates with these names, so an unknown function is
refused at submit (``function "x" not defined``) as Nomad refuses it; the names of
consul-template functions nomadjail does not provide (Vault's ``secret``, ``plugin``
... see :data:`UNSUPPORTED`) are not in the set.
"""

from __future__ import annotations

from ..builtins import BUILTIN_NAMES
from .pure import PURE
from .sprig import SPRIG

DATA_FUNCTIONS = frozenset({
    "key", "keyExists", "keyOrDefault", "ls", "safeLs", "tree", "safeTree", "service",
    "services", "nomadService", "nomadServices", "nomadVar", "nomadVarExists", "nomadVarList",
    "nomadVarListSafe", "file", "env", "envOrDefault", "mustEnv", "timestamp", "scratch",
    "executeTemplate",
})
# In consul-template's set but refused by Nomad's default function_denylist: they parse,
# and executing them is an error naming the denylist.
DENIED = frozenset({"plugin", "writeToFile"})
UNSUPPORTED = frozenset({
    "secret", "secrets", "pkiCert", "caRoots", "caLeaf", "connect", "node", "nodes",
    "datacenters", "checks", "sockaddr", "parseYAML", "toYAML", "toTOML",
    "byMeta", "spew_dump", "spew_printf",
    "spew_sdump", "spew_sprintf", "partitions", "peerings", "exportedServices",
})

FUNCTION_NAMES: frozenset[str] = (BUILTIN_NAMES | DATA_FUNCTIONS | DENIED | frozenset(PURE)
                                  | frozenset(SPRIG))
