"""consul-template's function set, over a :class:`DataSource` (see :mod:`.dependency`).

::

    funcs = consul_template_functions(source, env=task_env, sandbox_dir=task_dir,
                                      namespace="default")
    out = parse(text, name).execute(None, funcs)
    funcs.used, funcs.missing   # set[Dependency]

Data functions (through the source): key, keyExists, keyOrDefault, ls, safeLs, tree,
safeTree, service, services, nomadService, nomadServices, nomadVar, nomadVarExists,
nomadVarList, nomadVarListSafe, file (sandboxed to ``sandbox_dir``).  Local: env and
envOrDefault (the task's environment), timestamp.  Pure functions in :mod:`.pure`,
sprig's subset in :mod:`.sprig`, result shapes in :mod:`.shapes`.
"""

from __future__ import annotations

from .dependency import MISSING, DataSource, Dependency, DependencyKind
from .functions import DEFAULT_DENYLIST, TemplateFunctions, consul_template_functions
from .names import FUNCTION_NAMES
from .shapes import (
    CatalogSnippet,
    HealthService,
    KeyPair,
    NomadService,
    NomadServicesSnippet,
    NomadVariable,
    NomadVarItem,
    NomadVarItems,
    NomadVarMeta,
    ServiceTags,
    nomad_var_items,
)

__all__ = [
    "DEFAULT_DENYLIST", "FUNCTION_NAMES", "MISSING", "CatalogSnippet", "DataSource",
    "Dependency", "DependencyKind", "HealthService", "KeyPair", "NomadService",
    "NomadServicesSnippet", "NomadVarItem", "NomadVarItems", "NomadVarMeta", "NomadVariable",
    "ServiceTags", "TemplateFunctions", "consul_template_functions", "nomad_var_items",
]
