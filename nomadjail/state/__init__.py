"""MVCC state store: tables, secondary indexes, O(1) snapshots, watch-by-index."""

from .jobs import JOB_TRACKED_VERSIONS
from .services import ServiceKey, ServiceTable, same_registration
from .snapshot import JobKey, StateSnapshot, Table, Tables
from .store import (
    MAX_RETAINED_NODE_EVENTS,
    NODE_EVENT_CLUSTER,
    StateStore,
    Txn,
    append_node_event,
)

__all__ = ["JOB_TRACKED_VERSIONS", "MAX_RETAINED_NODE_EVENTS", "NODE_EVENT_CLUSTER", "JobKey",
           "ServiceKey", "ServiceTable", "StateSnapshot", "StateStore", "Table", "Tables", "Txn",
           "append_node_event", "same_registration"]
