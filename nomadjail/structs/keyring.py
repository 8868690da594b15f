"""The servers' keyring: the root keys that seal Nomad Variables.

:class:`RootKeyMeta` is what ``/v1/operator/keyring/keys`` and ``operator root
keyring list`` show (Nomad's shape).  :class:`RootKey` is what the raft log and the
state store hold: the metadata plus the key material, *wrapped* when the servers
share a key-encryption key (see :mod:`nomadjail.server.keyring` for where that key
comes from and what an operator must keep secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .codec import field

ALGORITHM_AES256_GCM = "aes256-gcm"


class RootKeyState(StrEnum):
    """Nomad's root key states: one key is ``active`` (it seals new writes);
    ``inactive`` keys still open what they sealed; a key being replaced by a full
    rotation is ``rekeying`` until every variable is sealed again, then
    ``deprecated``."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    REKEYING = "rekeying"
    DEPRECATED = "deprecated"


class KeyWrapping(StrEnum):
    """How a root key's material is stored."""

    NONE = "none"  # base64 of the key itself (no key-encryption key configured)
    AES256_GCM = "aes256-gcm"  # sealed with the key-encryption key derived from `encrypt`


@dataclass(slots=True)
class RootKeyMeta:
    key_id: str = field("", key="KeyID")
    algorithm: str = ALGORITHM_AES256_GCM
    create_time: int = 0  # ns since the epoch
    create_index: int = 0
    modify_index: int = 0
    state: RootKeyState = RootKeyState.ACTIVE

    def is_active(self) -> bool:
        return self.state == RootKeyState.ACTIVE


@dataclass(slots=True)
class RootKey:
    """A root key as replicated: ``material`` is base64 of the 32-byte key, sealed
    (nonce + ciphertext) when ``wrapping`` says so."""

    meta: RootKeyMeta = field(default_factory=RootKeyMeta)
    wrapping: KeyWrapping = KeyWrapping.NONE
    material: str = ""
