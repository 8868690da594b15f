"""The server keyring: root keys that seal Nomad Variables, and sealing itself.

Where key material lives.  Every server must open every variable, and the servers
share nothing but the raft log (and, optionally, the agent's ``encrypt`` gossip
key), so root keys travel *through raft* (:data:`~.messages.MsgType.ROOT_KEY_UPSERT`)
and sit in the state store, the journal and snapshots like any other replicated
state -- never the variables' cleartext, which is sealed before it enters the log.

* With ``encrypt`` set (the same on every server, as it must be for raft to talk at
  all), the key material is itself sealed with a key-encryption key derived from it
  (HKDF-SHA256) before it is replicated.  The data dir then holds nothing that opens a
  variable: a stolen disk or snapshot needs the agent's config as well.  This plays
  the part of Nomad's keystore KEK; change ``encrypt`` and the stored keys no longer
  open (rotate before you change it... and keep the old one until you did).
* Without ``encrypt`` the key material is stored as is (base64): variables are still
  never written in the clear, but whoever reads the whole data dir can open them, as
  with Nomad's default keystore whose KEK sits next to the key.  Set ``encrypt`` on
  servers that hold real secrets.

Sealing is AES-256-GCM (``cryptography``'s AESGCM): a fresh 96-bit nonce per write,
the namespace and path as associated data (a sealed value copied onto another path
does not open), ``Data`` = base64(nonce + ciphertext + tag).

The leader makes the first key when it takes office (:meth:`Keyring.ensure_active_key`);
``operator root keyring rotate`` makes a new active key (``-full`` re-seals every
variable with it); ``remove`` deletes an inactive key that seals nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..state import StateStore
from ..structs import BadRequest, Conflict, NotFound, Unavailable, generate_uuid
from ..structs.keyring import (
    ALGORITHM_AES256_GCM,
    KeyWrapping,
    RootKey,
    RootKeyMeta,
    RootKeyState,
)
from ..structs.variables import VariableEncrypted, VarOp
from . import messages as m

log = logging.getLogger(__name__)

Apply = Callable[[Any], tuple[int, Any]]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
_KEK_INFO = b"nomadjail keyring: root key wrapping"
REKEY_ATTEMPTS = 5  # a variable rewritten while it is re-sealed is tried again this often


class KeyringError(Unavailable):
    """A stored key or variable cannot be opened (wrong ``encrypt`` key, damaged data)."""


def key_encryption_key(encrypt: str | None) -> bytes | None:
    """The key-encryption key derived from the agent's ``encrypt`` key; None without one."""
    if not encrypt:
        return None
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=_KEK_INFO).derive(encrypt.encode())


def _aad(namespace: str, path: str) -> bytes:
    return f"{namespace}\x00{path}".encode()


class Keyring:
    """Seals and opens variables with the replicated root keys; rotates them."""

    def __init__(self, store: StateStore, apply: Apply, *, kek: bytes | None,
                 clock: Callable[[], int]):
        self.store = store
        self.apply = apply
        self._kek = kek
        self._clock = clock
        self._ciphers: dict[str, AESGCM] = {}  # key ID -> cipher (opened key material)
        self._lock = threading.Lock()  # one rotation or first key at a time

    # -- keys --------------------------------------------------------------------
    def _wrap(self, key_id: str, material: bytes) -> tuple[KeyWrapping, str]:
        if self._kek is None:
            return KeyWrapping.NONE, base64.b64encode(material).decode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._kek).encrypt(nonce, material, key_id.encode())
        return KeyWrapping.AES256_GCM, base64.b64encode(nonce + sealed).decode()

    def _unwrap(self, key: RootKey) -> bytes:
        raw = base64.b64decode(key.material)
        if key.wrapping == KeyWrapping.NONE:
            return raw
        if self._kek is None:
            raise KeyringError(f"root key {key.meta.key_id} is sealed with a key-encryption "
                               "key, but this server has no `encrypt` key configured")
        try:
            return AESGCM(self._kek).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                             key.meta.key_id.encode())
        except InvalidTag:
            raise KeyringError(f"root key {key.meta.key_id} does not open with this server's "
                               "`encrypt` key (it differs from the one it was sealed "
                               "with)") from None

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            key = self.store.root_key(key_id)
            if key is None:
                raise KeyringError(f"root key {key_id} not found in the keyring")
            cipher = self._ciphers[key_id] = AESGCM(self._unwrap(key))
        return cipher

    def active_key(self) -> RootKeyMeta | None:
        return next((k.meta for k in self.store.root_keys() if k.meta.is_active()), None)

    def keys(self) -> list[RootKeyMeta]:
        return [k.meta for k in self.store.root_keys()]

    def _new_key(self) -> RootKeyMeta:
        """Make a key, replicate it as the active one; its metadata as stored."""
        key_id = generate_uuid()
        material = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        wrapping, stored = self._wrap(key_id, material)
        meta = RootKeyMeta(key_id=key_id, algorithm=ALGORITHM_AES256_GCM,
                           create_time=self._clock(), state=RootKeyState.ACTIVE)
        self.apply(m.RootKeyUpsertRequest(root_key=RootKey(meta=meta, wrapping=wrapping,
                                                           material=stored)))
        self._ciphers[key_id] = AESGCM(material)
        stored_key = self.store.root_key(key_id)
        return stored_key.meta if stored_key is not None else meta

    def ensure_active_key(self) -> RootKeyMeta:
        """The active key, made (and replicated) first if there is none: the leader
        calls it on taking office, a write calls it if it runs before that."""
        with self._lock:
            active = self.active_key()
            if active is not None:
                return active
            meta = self._new_key()
            log.info("keyring: created root key %s", meta.key_id)
            return meta

    def rotate(self, *, full: bool = False, algorithm: str = "") -> RootKeyMeta:
        """A new active key; with ``full`` every variable is sealed again with it and the
        keys it replaced end ``deprecated`` (else they stay ``inactive``, still opening
        what they sealed)."""
        if algorithm and algorithm != ALGORITHM_AES256_GCM:
            raise BadRequest(f"unsupported algorithm {algorithm!r}: nomadjail keys are "
                             f"{ALGORITHM_AES256_GCM!r}")
        with self._lock:
            old = [k.meta.key_id for k in self.store.root_keys()
                   if k.meta.state != RootKeyState.DEPRECATED]
            meta = self._new_key()
            log.info("keyring: rotated to root key %s (full=%s)", meta.key_id, full)
            if full:
                for key_id in old:
                    self.apply(m.RootKeyStateRequest(key_id=key_id, state=RootKeyState.REKEYING))
                self._reseal_all(meta.key_id)
                for key_id in old:
                    self.apply(m.RootKeyStateRequest(key_id=key_id,
                                                     state=RootKeyState.DEPRECATED))
            stored = self.store.root_key(meta.key_id)
            return stored.meta if stored is not None else meta

    def _reseal_all(self, key_id: str) -> None:
        for var in list(self.store.variables):
            current: VariableEncrypted | None = var
            for _ in range(REKEY_ATTEMPTS):
                if current is None or current.key_id == key_id:
                    break
                items = self.open(current)
                resealed = self.seal(current.namespace, current.path, items, key_id=key_id)
                update = VariableEncrypted(
                    namespace=current.namespace, path=current.path, lock=current.lock,
                    create_time=current.create_time, modify_time=current.modify_time,
                    data=resealed, key_id=key_id)
                _, result = self.apply(m.VarApplyStateRequest(
                    op=VarOp.CAS, var=update, cas_index=current.modify_index))
                if result.ok:
                    break
                current = self.store.variables.get(current.namespace, current.path)
            else:
                raise Conflict(f"variable {var.path!r} kept changing while it was re-sealed")

    def remove(self, key_id: str) -> int:
        """Delete an inactive key that seals no variable; the raft index."""
        key = self.store.root_key(key_id)
        if key is None:
            raise NotFound(f"root key {key_id!r} not found")
        if key.meta.is_active():
            raise BadRequest("active root key cannot be deleted - call rotate first")
        if self.store.variables.sealed_with(key_id):
            raise BadRequest(f"root key {key_id} is in use by variables: rotate with "
                             "-full first")
        index, _ = self.apply(m.RootKeyDeleteRequest(key_id=key_id))
        self._ciphers.pop(key_id, None)
        return index

    # -- sealing -----------------------------------------------------------------
    def seal(self, namespace: str, path: str, items: dict[str, str], *,
             key_id: str = "") -> str:
        """base64(nonce + ciphertext) of ``items`` under ``key_id`` (default: the
        active key, made first if the cluster has none yet)."""
        key_id = key_id or self.ensure_active_key().key_id
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(items, separators=(",", ":"), sort_keys=True).encode()
        sealed = self._cipher(key_id).encrypt(nonce, plaintext, _aad(namespace, path))
        return base64.b64encode(nonce + sealed).decode()

    def seal_with_active(self, namespace: str, path: str,
                         items: dict[str, str]) -> tuple[str, str]:
        """``(key ID, data)`` sealed with the active key."""
        key_id = self.ensure_active_key().key_id
        return key_id, self.seal(namespace, path, items, key_id=key_id)

    def open(self, var: VariableEncrypted) -> dict[str, str]:
        """The items of a sealed variable."""
        try:
            raw = base64.b64decode(var.data)
            plaintext = self._cipher(var.key_id).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                                         _aad(var.namespace, var.path))
        except (InvalidTag, ValueError) as err:
            raise KeyringError(f"variable {var.path!r} in namespace {var.namespace!r} cannot "
                               f"be opened with root key {var.key_id}: {err or 'bad tag'}"
                               ) from None
        items = json.loads(plaintext)
        return {str(k): str(v) for k, v in items.items()}
