"""MVCC state store: tables, secondary indexes, O(1) snapshots, watch-by-index."""

from .snapshot import JobKey, StateSnapshot, Table, Tables
from .store import JOB_TRACKED_VERSIONS, StateStore, Txn

__all__ = ["JOB_TRACKED_VERSIONS", "JobKey", "StateSnapshot", "StateStore", "Table", "Tables",
           "Txn"]
