"""Shared test factories and helpers (used by tests/ and bench/)."""

from .agent_process import AgentProcess, make_agent, wait_alloc_status
from .waiting import WaitTimeout, free_port, wait_for
from .mock import mock_alloc, mock_batch_job, mock_eval, mock_job, mock_node, mock_system_job

__all__ = ["mock_alloc", "mock_batch_job", "mock_eval", "mock_job", "mock_node",
           "mock_system_job", "WaitTimeout", "free_port", "wait_for", "AgentProcess", "make_agent", "wait_alloc_status"]
