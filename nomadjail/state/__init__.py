"""MVCC state store: tables, secondary indexes, O(1) snapshots, watch-by-index."""

from .snapshot import JobKey, StateSnapshot, Table, Tables
from .store import (
    JOB_TRACKED_VERSIONS,
    MAX_RETAINED_NODE_EVENTS,
    NODE_EVENT_CLUSTER,
    StateStore,
    Txn,
    append_node_event,
)

__all__ = ["JOB_TRACKED_VERSIONS", "MAX_RETAINED_NODE_EVENTS", "NODE_EVENT_CLUSTER", "JobKey",
           "StateSnapshot", "StateStore", "Table", "Tables", "Txn", "append_node_event"]
