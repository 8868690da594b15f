"""Shared test factories and helpers (used by tests/ and bench/).

Heavier helpers are imported from their modules: ``fake_servers`` (the servers
as a client sees them), ``fake_nomad`` (a scripted HTTP API behind the API
client's transport seam), ``driver_tasks`` (task configs for driver tests).
"""

from .agent_process import AgentProcess, make_agent, wait_alloc_status
from .mock import (
    mock_alloc,
    mock_batch_job,
    mock_eval,
    mock_job,
    mock_node,
    mock_service_registration,
    mock_system_job,
)
from .processes import kill_processes_under, processes_under
from .waiting import WaitTimeout, free_port, wait_for

__all__ = ["AgentProcess", "WaitTimeout", "free_port", "kill_processes_under", "make_agent",
           "mock_alloc", "mock_batch_job", "mock_eval", "mock_job", "mock_node",
           "mock_service_registration", "mock_system_job", "processes_under",
           "wait_alloc_status", "wait_for"]
