"""Finding the object a user means from the ID prefix they typed.

Every Nomad command accepts a unique prefix of a job, allocation, node or
evaluation ID and answers the same way when it matches nothing or several
objects; these helpers give those answers as :class:`CommandFailed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..api import ALL_NAMESPACES, ApiClient, ApiError, ApiPermissionDenied
from ..structs import Allocation, Deployment, Evaluation
from .format import FULL_ID, SHORT_ID, format_list
from .meta import CommandFailed, Meta
from .views import (
    create_status_list_output,
    format_alloc_list_stubs,
    format_deployments,
    format_eval_list,
    format_node_stub_list,
)

MAX_PREFIX_RESULTS = 20


def sanitize_uuid_prefix(prefix: str) -> str:
    """Drop a trailing odd hex digit: the servers match UUID prefixes byte-wise."""
    length = len(prefix) - prefix.count("-")
    return prefix[:len(prefix) - length % 2]


def _uuid_prefix_matches(prefix: str, query: Callable[[str], tuple[list[Any], Any]], *,
                         query_error: str, not_found: str,
                         short_error: str = "Identifier must contain at least two characters."
                         ) -> list[Any]:
    """The matches (at least one) of an allocation, node or evaluation ID prefix.

    Nomad's answers for a too short prefix, a failed query and no match are
    raised as CommandFailed; what to say about several matches is the caller's.
    """
    if len(prefix) == 1:
        raise CommandFailed(short_error)
    prefix = sanitize_uuid_prefix(prefix)
    try:
        matches, _ = query(prefix)
    except ApiError as err:
        raise CommandFailed(f"{query_error}: {err}") from None
    if not matches:
        raise CommandFailed(f'{not_found} "{prefix}" found')
    return matches


def job_id_by_prefix(meta: Meta, client: ApiClient, prefix: str) -> tuple[str, str]:
    """(job ID, namespace) of the one job ``prefix`` names; an exact ID wins over prefixes."""
    try:
        jobs, _ = client.jobs(prefix)
    except ApiPermissionDenied:
        return prefix, meta.namespace
    except ApiError as err:
        raise CommandFailed(f'Error querying job prefix "{prefix}": {err}') from None
    if not jobs:
        raise CommandFailed(f'No job(s) with prefix or ID "{prefix}" found')
    all_namespaces = meta.namespace == ALL_NAMESPACES
    if len(jobs) > 1:
        exact = prefix == jobs[0].get("ID")
        in_several_namespaces = all_namespaces and jobs[0].get("ID") == jobs[1].get("ID")
        if not exact or in_several_namespaces:
            truncated = "\n(results may be truncated)" if len(jobs) >= MAX_PREFIX_RESULTS else ""
            raise CommandFailed(
                f'Prefix "{prefix}" matched multiple jobs\n\n'
                f"{create_status_list_output(jobs, all_namespaces=all_namespaces)}{truncated}")
    first = jobs[0]
    namespace = ((first.get("JobSummary") or {}).get("Namespace") or first.get("Namespace")
                 or meta.namespace)
    return first["ID"], namespace


def alloc_stub_by_prefix(meta: Meta, client: ApiClient, alloc_id: str, *, verbose: bool,
                         multiple_is_error: bool = True,
                         short_error: str = "Identifier must contain at least two characters."
                         ) -> dict[str, Any]:
    """The AllocListStub ``alloc_id`` names (raises CommandFailed otherwise)."""
    allocs = _uuid_prefix_matches(
        alloc_id, client.allocations, short_error=short_error,
        query_error="Error querying allocation",
        not_found="No allocation(s) with prefix or id")
    if len(allocs) > 1:
        length = FULL_ID if verbose else SHORT_ID
        table = format_alloc_list_stubs(allocs, verbose=verbose, length=length, now=meta.now())
        text = f"Prefix matched multiple allocations\n\n{table}"
        if not multiple_is_error:
            meta.ui.output(text)
            raise CommandFailed("", 0)
        raise CommandFailed(text)
    return allocs[0]


def node_stub_by_prefix(client: ApiClient, node_id: str, *, verbose_list: bool,
                        error_prefix: str, not_found: str = "No node(s) with prefix or id"
                        ) -> Mapping[str, Any]:
    """The NodeListStub ``node_id`` names (raises CommandFailed otherwise)."""
    nodes = _uuid_prefix_matches(node_id, client.nodes, query_error=error_prefix,
                                 not_found=not_found)
    if len(nodes) > 1:
        raise CommandFailed("Prefix matched multiple nodes\n\n"
                            + format_node_stub_list(nodes, verbose=verbose_list))
    return nodes[0]


def eval_by_prefix(client: ApiClient, eval_id: str, *, verbose: bool) -> Evaluation:
    evals = _uuid_prefix_matches(eval_id, client.evaluations,
                                 query_error="Error querying evaluation",
                                 not_found="No evaluation(s) with prefix or id")
    if len(evals) > 1:
        raise CommandFailed("Prefix matched multiple evaluations\n\n"
                            + format_eval_list(evals, verbose=verbose))
    return evals[0]


def deployment_by_prefix(client: ApiClient, deployment_id: str, *, verbose: bool
                         ) -> Deployment:
    """The deployment ``deployment_id`` (a full ID or a unique prefix) names.

    A full-length ID is read directly; a prefix is listed.  Failures read
    as Nomad's ``getDeployment`` words them, under "Error retrieving
    deployment"; several matches print their table.
    """
    if len(deployment_id) == FULL_ID:
        try:
            deployment, _ = client.deployment(deployment_id)
        except ApiError as err:
            raise CommandFailed(f"Error retrieving deployment: {err}") from None
        return deployment
    if len(deployment_id) == 1:
        raise CommandFailed("Error retrieving deployment: Identifier must contain at least two "
                            "characters.")
    prefix = sanitize_uuid_prefix(deployment_id)
    try:
        matches, _ = client.deployments(prefix)
    except ApiError as err:
        raise CommandFailed(f"Error retrieving deployment: {err}") from None
    if not matches:
        raise CommandFailed(f'Error retrieving deployment: Deployment ID "{prefix}" matched no '
                            "deployments")
    if len(matches) > 1:
        length = FULL_ID if verbose else SHORT_ID
        raise CommandFailed("Prefix matched multiple deployments\n\n"
                            + format_deployments(matches, length))
    return matches[0]


def deployment_argument(meta: Meta, args: tuple[str, ...], *, verbose: bool
                        ) -> tuple[ApiClient, Deployment]:
    """For the commands acting on one deployment (fail, pause, resume, promote): check
    there is exactly one argument, find the deployment it names, and return a client
    pinned to that deployment's namespace."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <deployment id>")
    client = meta.client()
    deployment = deployment_by_prefix(client, args[0], verbose=verbose)
    if deployment.namespace:
        client.namespace = deployment.namespace
    return client, deployment


def local_node_id(client: ApiClient) -> str:
    """The ID of the client node behind the agent we talk to (``-self``)."""
    try:
        info = client.agent_self()
    except ApiError as err:
        raise CommandFailed(f"Error querying agent info: failed querying self endpoint: {err}"
                            ) from None
    stats = (info.get("stats") or {}).get("client")
    if stats is None:
        raise CommandFailed("Nomad not running in client mode")
    node_id = stats.get("node_id")
    if not node_id:
        raise CommandFailed("Failed to determine node ID")
    return str(node_id)


def check_task(alloc: Allocation, task: str) -> None:
    """Fail with Nomad's message unless ``task`` is a task of the allocation's group."""
    group = alloc.lookup_task_group()
    if group is None:
        raise CommandFailed("Failed to validate task: Could not find allocation task group: "
                            f"{alloc.task_group}")
    names = [t.name for t in group.tasks]
    if task not in names:
        raise CommandFailed(f"Failed to validate task: Could not find task named: {task}, "
                            f"found:\n{format_list(names)}")
