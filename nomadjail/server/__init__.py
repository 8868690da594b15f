"""The nomadjail server: raft-replicated state, evaluation scheduling, client RPCs.

The agent and the HTTP layer use :class:`Server` (see ``server.py``);
everything else here is its machinery, one concern per module:

======================  ==========================================================
``fsm``                 applies raft messages to the state store; snapshots
``messages``            the raft log's message types and payloads
``raft``                PySyncObj adapter: one replicated ``apply``
``raft_journal``        the raft log on disk; a full disk is an error, not a crash
``eval_broker``         at-least-once delivery of evaluations to workers
``blocked_evals``       evaluations waiting for capacity
``plan_apply``          the plan queue and the single plan applier
``worker``              scheduler workers (the scheduler's Planner)
``heartbeat``           client TTLs; missed heartbeat -> node down
``leader``              what runs only on the leader
``deployment_watcher``  rollouts: the next round, failures, progress deadlines
``garbage_collector``   removes what finished long ago
``*_endpoint``          the operations, validated before anything is written
======================  ==========================================================
"""

from ..state import StateSnapshot, StateStore, Table  # what Server.state hands out
from .config import ServerConfig
from .results import (
    EvalResult,
    JobPlanResult,
    JobRegisterResult,
    Member,
    MemberStatus,
    NodeUpdateResponse,
)
from .server import Server

__all__ = ["EvalResult", "JobPlanResult", "JobRegisterResult", "Member", "MemberStatus",
           "NodeUpdateResponse", "Server", "ServerConfig", "StateSnapshot", "StateStore",
           "Table"]
