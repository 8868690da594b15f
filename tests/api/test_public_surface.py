"""nomadjail.api's public names, and the old ``nomadjail.api.client`` path to them.

The package's modules are private (httpx style) and free to move; what callers
may rely on is ``nomadjail.api.__all__``.  ``nomadjail.api.client`` re-exports
the names it defined before the split, as the very same objects, so callers
that still import from it keep working.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import nomadjail.api
import nomadjail.api.client

PUBLIC = {
    "ALL_NAMESPACES", "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "ApiBadRequest", "ApiClient",
    "ApiConflict", "ApiConnectionError", "ApiError", "ApiNotFound", "ApiPermissionDenied",
    "ApiResponse", "ApiUnavailable", "QueryMeta", "RequestsTransport", "StreamFrame",
    "Transport", "WriteMeta", "error_for_status",
}


def test_the_package_exports_exactly_its_public_names():
    assert set(nomadjail.api.__all__) == PUBLIC
    assert len(nomadjail.api.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(nomadjail.api, name) is not None, name


def test_the_old_client_module_still_exports_the_same_objects():
    assert set(nomadjail.api.client.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(nomadjail.api.client, name) is getattr(nomadjail.api, name), name


def test_star_imports_of_both_paths_agree():
    for module in ("nomadjail.api", "nomadjail.api.client"):
        namespace: dict[str, object] = {}
        exec(f"from {module} import *", namespace)  # the star import is what is tested
        assert set(namespace) - {"__builtins__"} == PUBLIC, module


def test_private_modules_are_importable_alone():
    for name in ("_errors", "_meta", "_streams", "_transport"):
        assert importlib.import_module(f"nomadjail.api.{name}").__all__


def test_importing_the_api_does_not_load_requests():
    """The CLI's --help should not pay for an HTTP stack it will not use."""
    script = "import sys, nomadjail.api\nprint('requests' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    assert output.strip() == "False"
