"""Raft for the FSM: a PySyncObj adapter with one replicated operation.

``Raft.apply(msg_type, payload)`` appends one message to the replicated log,
waits until it is committed and applied by the local FSM, and returns
``(index, result)``.  It raises :class:`~nomadjail.structs.Unavailable` when no
leader appears or the commit does not happen in time.  A single server
(``-dev``, ``bootstrap_expect = 1``) runs the very same code with no peers.

Latency.  PySyncObj's own tick thread appends a command on one tick and
commits it on the next, so with its default 50 ms tick one apply costs about
100 ms.  Here the adapter owns the tick loop (``autoTick=False``): a command
wakes the loop through PySyncObj's pipe notifier (``appendEntriesUseBatch``
off), and while commands are in flight on a leader without peers the loop
ticks again at once instead of sleeping, so an apply takes the two ticks it
needs and nothing more (a few hundred microseconds in memory; see
``bench/raft_apply.py``).  With peers the loop sleeps in the poller, which
wakes on the followers' replies.

Persistence.  With a ``data_dir``, the log is journaled to
``data_dir/raft/journal`` (by :class:`~.raft_journal.RaftJournal`, which turns
a full disk into an ``Unavailable`` for the write that does not fit instead
of a SIGBUS for the process) and log compaction writes a full FSM snapshot to
``data_dir/raft/snapshot.json`` -- our JSON (see :mod:`.snapshot_codec`) via
PySyncObj's ``serializer``/``deserializer`` hooks, never its pickle dump.
Shutdown forces one last snapshot, so a restarted server rebuilds from one
file.  Without a ``data_dir`` everything stays in memory; a lagging follower
still receives the FSM snapshot (as JSON text inside PySyncObj's transfer).

The log entries themselves are PySyncObj's envelope around
``(msg_type, payload)``: an int and a JSON string.

Leadership changes are reported to ``on_leadership(is_leader)`` from a
dedicated thread, in order, so the callback may itself apply through raft
(establishing leadership starts with a barrier write).

Encryption.  With ``password`` (the agent's ``encrypt`` gossip key) every
raft message between servers is encrypted with it (PySyncObj's Fernet
transport, from the ``cryptography`` package); servers with different keys
cannot talk, so they cannot form a cluster.  A key that cannot be honoured
-- not base64 of 16, 24 or 32 bytes, or ``cryptography`` missing -- stops
the server from starting (:class:`RaftError`) rather than leaving the
traffic in the clear.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pysyncobj.syncobj
from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.encryptor import HAS_CRYPTO
from pysyncobj.journal import Journal, MemoryJournal
from pysyncobj.node import TCPNode
from pysyncobj.syncobj import SyncObjException

from ..structs import Unavailable
from .fsm import FSM
from .messages import MsgType, wire_type
from .raft_journal import RECORD_OVERHEAD, JournalFullError, RaftJournal

log = logging.getLogger(__name__)


class RaftError(RuntimeError):
    """Raft could not start (the raft address cannot be bound, the data dir is unusable,
    the encryption key cannot be used)."""


# A failing tick is logged with its traceback at most this often (seconds);
# the ones in between are counted.
TICK_ERROR_LOG_INTERVAL = 30.0
# Gossip key sizes Nomad (serf) accepts, in bytes before base64.
ENCRYPT_KEY_SIZES = (16, 24, 32)

# SyncObj builds its journal inside its constructor from a module-level
# factory; swapping that factory while one SyncObj is built (under this lock)
# is the only way to hand it ours.
_JOURNAL_FACTORY_LOCK = threading.Lock()


@contextmanager
def _journal_factory(factory: Callable[[str | None], Journal]) -> Iterator[None]:
    with _JOURNAL_FACTORY_LOCK:
        original = pysyncobj.syncobj.createJournal
        pysyncobj.syncobj.createJournal = factory
        try:
            yield
        finally:
            pysyncobj.syncobj.createJournal = original


def _decode_key(key: str) -> bytes | None:
    """The key's bytes from standard or URL-safe base64 (both are in use)."""
    try:
        raw = key.encode("ascii")
    except UnicodeEncodeError:
        return None
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(raw, altchars=altchars, validate=True)
        except binascii.Error:
            continue
    return None


def check_encrypt_key(key: str) -> None:
    """Raise :class:`RaftError` naming ``encrypt`` unless ``key`` can encrypt
    raft traffic (the key itself is never quoted: it is a secret)."""
    if not HAS_CRYPTO:
        raise RaftError("encrypt is set, but raft traffic cannot be encrypted: the "
                        "'cryptography' package is not installed (pip install cryptography)")
    decoded = _decode_key(key)
    if decoded is None:
        raise RaftError(f"encrypt: the key ({len(key)} characters) is not valid base64; "
                        "generate one with 'nomad operator gossip keyring generate'")
    if len(decoded) not in ENCRYPT_KEY_SIZES:
        raise RaftError(f"encrypt: the key decodes to {len(decoded)} bytes; it must be 16, 24 "
                        "or 32 bytes, base64-encoded")


class _RateLimitedLog:
    """Logs a recurring failure with its traceback at most once per interval."""

    def __init__(self, interval: float):
        self.interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def exception(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        if self._suppressed:
            message = f"{message} (and {self._suppressed} more times since the last report)"
        self._last, self._suppressed = now, 0
        log.exception(message)

_FAIL_NAMES = {value: name.lower().replace("_", " ") for name, value in vars(FAIL_REASON).items()
               if not name.startswith("_")}
_LEADER = 2  # PySyncObj's _RAFT_STATE.LEADER


@dataclass(frozen=True, slots=True)
class RaftTimings:
    """PySyncObj timeouts in seconds, derived from the peer count and raft_multiplier."""

    append_entries_period: float
    election_min: float
    election_max: float
    connection_timeout: float
    connection_retry: float
    leader_fallback: float
    idle_tick: float

    @classmethod
    def for_cluster(cls, has_peers: bool, multiplier: int = 1) -> RaftTimings:
        m = max(1, multiplier)
        if not has_peers:
            # Nobody to hear from: elect ourselves as soon as PySyncObj allows.
            return cls(append_entries_period=0.02 * m, election_min=0.07 * m,
                       election_max=0.12 * m, connection_timeout=3.5 * m,
                       connection_retry=1.0 * m, leader_fallback=5.0 * m, idle_tick=0.05)
        return cls(append_entries_period=0.1 * m, election_min=0.4 * m, election_max=1.4 * m,
                   connection_timeout=3.5 * m, connection_retry=1.0 * m,
                   leader_fallback=2.0 * m, idle_tick=0.05)


class _ReplicatedFSM(SyncObjConsumer):
    """The one replicated method, and FSM snapshots for PySyncObj's in-memory
    log compaction (the file case uses :meth:`Raft._write_snapshot`)."""

    def __init__(self, fsm: FSM, has_peers: bool):
        # Set before SyncObjConsumer.__init__, which records the attributes that
        # already exist as "not replicated state".
        self._fsm = fsm
        self._has_peers = has_peers
        super().__init__()

    @replicated
    def apply_message(self, msg_type: int, payload: str) -> tuple[int, Any]:
        return self._fsm.apply_indexed(msg_type, payload)

    def _serialize(self) -> dict[str, Any]:
        # A lone in-memory server never sends its snapshot anywhere: skip the
        # full dump and let PySyncObj just trim the log.
        return {"fsm": self._fsm.snapshot_json() if self._has_peers else None}

    def _deserialize(self, data: dict[str, Any]) -> None:
        if data.get("fsm"):
            self._fsm.restore_json(data["fsm"])


def check_bindable(address: str) -> None:
    """Fail clearly, before PySyncObj starts (it leaks its sockets when its own bind
    fails), when another process already listens on the raft address."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # PySyncObj's IPv6: "::1:4648"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host or "0.0.0.0", int(port)))
        except OSError as err:
            raise RaftError(f"cannot bind the raft address {address!r}: is another server "
                            f"using it? ({err.strerror})") from None


class Raft:
    """One server's raft node wrapped around an :class:`FSM`.

    ``address`` is the node's identity, the address its peers know it by and
    connect to (the agent's advertised serf address); ``bind`` is where it
    listens (``0.0.0.0:4648`` is fine there, never as an identity).  Without
    ``address`` the bind address is the identity.
    """

    def __init__(self, fsm: FSM, *, bind: str, address: str | None = None,
                 peers: list[str] | None = None,
                 data_dir: str | None = None, multiplier: int = 1,
                 password: str | None = None,
                 on_leadership: Callable[[bool], None] | None = None,
                 apply_timeout: float = 10.0, leader_wait: float = 5.0):
        self.fsm = fsm
        self.bind = bind
        self.address = address or bind
        self.peer_addrs = sorted({p for p in (peers or []) if p and p not in (self.address, bind)})
        self.data_dir = data_dir
        self.timings = RaftTimings.for_cluster(bool(self.peer_addrs), multiplier)
        self.password = password
        self.apply_timeout = apply_timeout * max(1, multiplier)
        self.leader_wait = leader_wait * max(1, multiplier)
        if password:
            check_encrypt_key(password)
        self._on_leadership = on_leadership
        self._sync: SyncObj | None = None
        self._journal: RaftJournal | None = None
        self._tick_errors = _RateLimitedLog(TICK_ERROR_LOG_INTERVAL)
        self._consumer = _ReplicatedFSM(fsm, bool(self.peer_addrs))
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._waiting: set[Callable[[Any, int | OSError | None], None]] = set()
        self._stopping = threading.Event()
        self._tick_thread: threading.Thread | None = None
        self._leadership_events: queue.Queue[bool | None] = queue.Queue()
        self._leadership_thread: threading.Thread | None = None
        self._leader_now = False
        self._leader_known = False
        self.failure = ""  # set when raft cannot go on (an unreadable snapshot)
        self._leader_changed = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Bind the raft address and start ticking; returns at once."""
        check_bindable(self.bind)
        conf = self._conf()
        try:
            with _journal_factory(self._make_journal):
                self._sync = SyncObj(self.address, self.peer_addrs, conf=conf,
                                     consumers=[self._consumer])
        except SyncObjException as err:
            raise RaftError(f"cannot bind the raft address {self.bind!r}: is another server "
                            f"using it? ({err})") from err
        except OSError as err:
            raise RaftError(f"cannot open the raft journal in {self.data_dir!r}: {err}") from err
        self._leadership_thread = threading.Thread(target=self._deliver_leadership,
                                                   name="raft-leadership", daemon=True)
        self._leadership_thread.start()
        self._tick_thread = threading.Thread(target=self._tick_loop, name="raft-tick",
                                             daemon=True)
        self._tick_thread.start()

    def _conf(self) -> SyncObjConf:
        t = self.timings
        options: dict[str, Any] = dict(
            autoTick=False,
            appendEntriesUseBatch=False,  # enables the pipe that wakes the tick loop
            appendEntriesPeriod=t.append_entries_period,
            raftMinTimeout=t.election_min,
            raftMaxTimeout=t.election_max,
            connectionTimeout=t.connection_timeout,
            connectionRetryTime=t.connection_retry,
            leaderFallbackTimeout=t.leader_fallback,
            commandsWaitLeader=True,
            onStateChanged=self._on_state_changed,
            # Listen exactly where we were told (PySyncObj would pick 0.0.0.0 or ::);
            # the identity peers know this node by is self.address.
            bindAddress=self.bind,
            bindRetryTime=0.1,
            maxBindRetries=5,
            password=self.password or None,
            useFork=False,
        )
        if self.data_dir:
            raft_dir = os.path.join(self.data_dir, "raft")
            try:
                os.makedirs(raft_dir, exist_ok=True)
            except OSError as err:
                raise RaftError(f"cannot create the raft directory {raft_dir!r}: {err}") from err
            options.update(journalFile=os.path.join(raft_dir, "journal"),
                           fullDumpFile=os.path.join(raft_dir, "snapshot.json"),
                           serializer=self._write_snapshot, deserializer=self._read_snapshot)
        return SyncObjConf(**options)

    def _make_journal(self, journal_file: str | None) -> Journal:
        if journal_file is None:
            return MemoryJournal()
        self._journal = RaftJournal(journal_file)
        return self._journal

    def shutdown(self) -> None:
        """Stop ticking, write a final snapshot (with a data dir), close sockets
        and files.  Idempotent."""
        with self._inflight_lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
        if self._tick_thread is not None:
            self._tick_thread.join(timeout=10)
        if self._sync is not None:
            self._sync.destroy()
        with self._inflight_lock:
            abandoned = list(self._waiting)
        for callback in abandoned:  # nobody will commit these now
            callback(None, None)
        self._leadership_events.put(None)
        if self._leadership_thread is not None:
            self._leadership_thread.join(timeout=10)

    # -- the tick loop -----------------------------------------------------------
    def _tick_loop(self) -> None:
        sync = self._sync
        assert sync is not None
        no_peers = not self.peer_addrs
        while not self._stopping.is_set() and not self.failure:
            try:
                if sync._isLeader():
                    busy = self._inflight > 0
                    timeout = 0.0 if busy and no_peers else self.timings.idle_tick
                else:
                    # Ticks drive elections: check the deadline often until a leader exists.
                    timeout = 0.005 if sync._getLeader() is None else self.timings.idle_tick
                sync.doTick(timeout)
                self._track_leader(sync)
                if self.fsm.halted:  # an entry it may not skip: see the FSM's docstring
                    self.failure = self.fsm.halted
                    log.critical("raft stops: %s", self.failure)
                    self._on_state_changed(_LEADER, -1)  # leader duties stop, if running
            except Exception:  # noqa: BLE001 - keep raft alive; the error is logged
                self._tick_errors.exception("raft tick failed")
                self._fail_on_journal_error()
                time.sleep(0.05)
        if self.data_dir and not self.failure:
            self._final_snapshot(sync)

    def _fail_on_journal_error(self) -> None:
        """A journal write failed inside PySyncObj, which drops the command it
        was writing without a word.  Which waiting write that was cannot be
        told, so every waiting write gets the error (an earlier one may still
        commit: its outcome is unknown, as after a timeout)."""
        error = self._journal.take_write_error() if self._journal is not None else None
        if error is None:
            return
        with self._inflight_lock:
            waiting = list(self._waiting)
        for callback in waiting:
            callback(None, error)

    def _final_snapshot(self, sync: SyncObj) -> None:
        try:
            sync.forceLogCompaction()
            for _ in range(3):  # serialize on one tick, confirm and trim on the next
                sync.doTick(0.0)
        except Exception:  # noqa: BLE001 - the journal still has everything
            log.exception("final raft snapshot failed; the journal will be replayed instead")

    def _track_leader(self, sync: SyncObj) -> None:
        leader = sync._getLeader()
        if leader is not None and not self._leader_known:
            with self._leader_changed:
                self._leader_changed.notify_all()
        self._leader_known = leader is not None

    def _on_state_changed(self, old: int, new: int) -> None:
        is_leader = new == _LEADER
        if is_leader != self._leader_now:
            self._leader_now = is_leader
            self._leadership_events.put(is_leader)

    def _deliver_leadership(self) -> None:
        while True:
            event = self._leadership_events.get()
            if event is None:
                return
            if self._on_leadership is None:
                continue
            try:
                self._on_leadership(event)
            except Exception:  # noqa: BLE001 - logged; the next transition still comes
                log.exception("leadership callback failed (leader=%s)", event)

    # -- applying ----------------------------------------------------------------
    def apply(self, msg_type: MsgType, payload: str,
              timeout: float | None = None) -> tuple[int, Any]:
        """Commit one message and return ``(index, result)`` from the local FSM.

        Raises :class:`Unavailable` if there is no leader within ``leader_wait``
        or no commit within ``timeout``; re-raises the error the FSM returned
        for the message (``NotFound`` ...).
        """
        sync = self._sync
        if self.failure:
            raise Unavailable(f"raft failed: {self.failure}")
        if sync is None or self._stopping.is_set():
            raise Unavailable("raft is not running")
        if threading.current_thread() is self._tick_thread:
            raise RuntimeError("Raft.apply called from the raft tick thread (an FSM "
                               "listener must not write through raft)")
        if not self.wait_for_leader(self.leader_wait):
            raise Unavailable("No cluster leader")
        done = threading.Event()
        outcome: list[Any] = []
        settled = [False]

        def settle() -> None:
            with self._inflight_lock:
                if not settled[0]:
                    settled[0] = True
                    self._inflight -= 1
                    self._waiting.discard(on_result)

        def on_result(result: Any, error: int | OSError | None) -> None:
            outcome.append((result, error))
            settle()
            done.set()

        if self._journal is not None:
            try:
                self._journal.reserve(len(payload.encode()) + RECORD_OVERHEAD)
            except JournalFullError as err:
                raise Unavailable(f"raft could not commit {msg_type.name}: {err.strerror}; "
                                  "free disk space in the data dir") from err
        with self._inflight_lock:
            if self._stopping.is_set():
                raise Unavailable("raft is shutting down")
            self._inflight += 1
            self._waiting.add(on_result)
        self._consumer.apply_message(wire_type(msg_type), payload, callback=on_result)
        if not done.wait(timeout if timeout is not None else self.apply_timeout):
            settle()
            raise Unavailable(f"timed out waiting for raft to commit {msg_type.name}")
        result, error = outcome[0]
        if error is None:
            raise Unavailable(f"raft shut down before committing {msg_type.name}")
        if isinstance(error, OSError):
            raise Unavailable(f"raft could not commit {msg_type.name}: writing the raft "
                              f"journal failed: {error}; the outcome of writes in flight is "
                              "unknown")
        if error != FAIL_REASON.SUCCESS:
            raise Unavailable(f"raft could not commit {msg_type.name}: "
                              f"{_FAIL_NAMES.get(error, error)}")
        index, value = result
        if isinstance(value, Exception):
            raise value
        return index, value

    # -- status ------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self._sync is not None and not self.failure and self._sync._isLeader()

    def leader(self) -> str:
        """The raft address of the current leader, "" when unknown (and after a
        :attr:`failure`: what PySyncObj last believed is stale then)."""
        if self._sync is None or self.failure:
            return ""
        leader = self._sync._getLeader()
        return str(leader) if leader is not None else ""

    def wait_for_leader(self, timeout: float) -> bool:
        """True once some server (maybe this one) is known to lead."""
        deadline = time.monotonic() + timeout
        with self._leader_changed:
            while not self.leader():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return False
                self._leader_changed.wait(min(remaining, 0.01))
        return True

    def peers(self) -> list[str]:
        """Raft addresses of every voter, this server included."""
        return sorted({self.address, *self.peer_addrs})

    def connected(self, addr: str) -> bool:
        """Whether this server currently talks to the peer at ``addr``."""
        if addr == self.address:
            return True
        return self._sync is not None and self._sync.isNodeConnected(TCPNode(addr))

    def status(self) -> dict[str, Any]:
        """PySyncObj's status dump (term, commit index, log length ...)."""
        return dict(self._sync.getStatus()) if self._sync is not None else {}

    # -- snapshots on disk -------------------------------------------------------
    def _write_snapshot(self, filename: str, raft_data: tuple[Any, ...]) -> None:
        """PySyncObj serializer hook: ``raft_data`` is (last applied entry, the
        one before it, cluster nodes); entries are (command bytes, index, term)."""
        last, previous, cluster = raft_data
        document = {
            "FSM": self.fsm.snapshot(),
            "Raft": {
                "LastEntry": _encode_entry(last),
                "PreviousEntry": _encode_entry(previous),
                "Cluster": sorted(str(node) for node in cluster),
            },
        }
        with open(filename, "w", encoding="utf-8") as out:
            json.dump(document, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())

    def _read_snapshot(self, filename: str) -> tuple[Any, ...]:
        """PySyncObj deserializer hook: restores the FSM, returns the raft data
        exactly as it was given to :meth:`_write_snapshot`.

        PySyncObj logs and swallows a failing deserializer and would carry on
        with an empty state; instead a bad snapshot stops this raft node
        (:attr:`failure`), since serving without the state is worse than not
        serving."""
        try:
            with open(filename, encoding="utf-8") as source:
                document = json.load(source)
            self.fsm.restore(document["FSM"])
            raft = document["Raft"]
            return (_decode_entry(raft["LastEntry"]), _decode_entry(raft["PreviousEntry"]),
                    {TCPNode(addr) for addr in raft["Cluster"]})
        except Exception as err:
            self.failure = f"cannot restore the raft snapshot {filename!r}: {err}"
            log.critical("%s; this server stops applying raft entries", self.failure)
            raise


def _encode_entry(entry: tuple[bytes, int, int]) -> list[Any]:
    command, index, term = entry
    return [base64.b64encode(bytes(command)).decode("ascii"), index, term]


def _decode_entry(data: list[Any]) -> tuple[bytes, int, int]:
    # A tuple, equal to the journal's own entries: PySyncObj compares them to
    # decide whether the journal continues the snapshot.
    return (base64.b64decode(data[0]), int(data[1]), int(data[2]))
