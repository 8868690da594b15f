"""Nomad Variables and the keyring from the outside (Go's ``client.Variables()`` and
``client.Keyring()``): what ``var put|get|list|purge`` and ``operator root keyring`` use.

A failed check-and-set is not a plain 409: the server answers with the variable that
won, and :class:`ApiCASConflict` carries it (``conflict``) with the index the caller
expected (``check_index``), so the CLI can say what it found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..structs import DecodeError, format_duration, from_api, parse_duration, to_api
from ..structs.keyring import RootKeyMeta
from ..structs.variables import Variable, VariableMetadata
from ._errors import ApiConflict, ApiError, ApiNotFound
from ._meta import QueryMeta, WriteMeta

if TYPE_CHECKING:
    from .client import ApiClient

__all__ = ["ApiCASConflict", "KeyringApi", "VariablesApi"]


class ApiCASConflict(ApiConflict):
    """A check-and-set failed: ``conflict`` is the variable as the server holds it (an
    empty one naming the path when there is none)."""

    def __init__(self, message: str, conflict: Variable, check_index: int):
        super().__init__(409, message)
        self.conflict = conflict
        self.check_index = check_index


def _lock_in_ns(data: Any) -> Any:
    """Nomad writes a lock's TTL and delay as Go durations ("15s"); the structs hold ns."""
    lock = data.get("Lock") if isinstance(data, dict) else None
    if isinstance(lock, dict):
        for key in ("TTL", "LockDelay"):
            if isinstance(lock.get(key), str):
                try:
                    lock[key] = parse_duration(lock[key])
                except ValueError:
                    raise ApiError(200, f"unexpected answer: Lock.{key} {lock[key]!r} is "
                                        "not a duration") from None
    return data


def _variable(data: Any) -> Variable:
    try:
        return from_api(Variable, _lock_in_ns(data))
    except DecodeError as err:
        raise ApiError(200, f"unexpected answer: {err}") from None


def _path(path: str) -> str:
    return "/v1/var/" + quote(path, safe="/")


@dataclass
class VariablesApi:
    client: ApiClient

    def list(self, prefix: str = "", *, namespace: str | None = None, per_page: int = 0,
             next_token: str = "", index: int = 0, wait: float | None = None
             ) -> tuple[list[VariableMetadata], QueryMeta]:
        """Metadata of the variables under ``prefix`` (``namespace="*"``: every one)."""
        params = {"per_page": per_page or None, "next_token": next_token or None}
        data, meta = self.client.query("/v1/vars", params, namespace=namespace, prefix=prefix,
                                       index=index, wait=wait)
        try:
            return [from_api(VariableMetadata, _lock_in_ns(item)) for item in data or []], meta
        except DecodeError as err:
            raise ApiError(200, f"unexpected answer: {err}") from None

    def read(self, path: str, *, namespace: str | None = None, index: int = 0,
             wait: float | None = None) -> tuple[Variable, QueryMeta]:
        """The variable at ``path``; ApiNotFound ("variable not found") when missing."""
        data, meta = self.client.query(_path(path), namespace=namespace, index=index,
                                       wait=wait)
        return _variable(data), meta

    def peek(self, path: str, *, namespace: str | None = None) -> Variable | None:
        """The variable at ``path``, or None when there is none."""
        try:
            return self.read(path, namespace=namespace)[0]
        except ApiNotFound:
            return None

    def put(self, var: Variable, *, cas: int | None = None) -> tuple[Variable, WriteMeta]:
        """Store ``var`` (Go's Update, or CheckedUpdate with ``cas``: 0 = only if it does
        not exist yet).  ApiCASConflict when the check fails."""
        params = {"cas": cas} if cas is not None else None
        return self._put(var, params, cas or 0)

    def _put(self, var: Variable, params: dict[str, Any] | None,
             check_index: int) -> tuple[Variable, WriteMeta]:
        body = to_api(var)
        if isinstance(body.get("Lock"), dict):
            for key in ("TTL", "LockDelay"):
                body["Lock"][key] = format_duration(int(body["Lock"][key] or 0))
        try:
            data, meta = self.client.write("PUT", _path(var.path), body, params,
                                           namespace=var.namespace or None)
        except ApiConflict as err:
            raise self._conflict(err, check_index) from None
        return _variable(data), meta

    # -- locks (Go's client.Locks()) ------------------------------------------------------
    def acquire_lock(self, var: Variable) -> tuple[Variable, WriteMeta]:
        """Lock ``var`` (its ``lock`` gives TTL and delay; made if missing).  The answer
        carries the lock ID; ApiCASConflict (the holder's variable) when it is locked."""
        return self._put(var, {"lock-acquire": ""}, 0)

    def renew_lock(self, var: Variable) -> tuple[VariableMetadata, WriteMeta]:
        """Restart the TTL of the lock ``var.lock.id``; ApiConflict when it is lost."""
        body = to_api(Variable(namespace=var.namespace, path=var.path, lock=var.lock))
        body["Lock"] = {"ID": var.lock.id if var.lock else ""}
        data, meta = self.client.write("PUT", _path(var.path), body, {"lock-renew": ""},
                                       namespace=var.namespace or None)
        try:
            return from_api(VariableMetadata, _lock_in_ns(data)), meta
        except DecodeError as err:
            raise ApiError(200, f"unexpected answer: {err}") from None

    def release_lock(self, var: Variable) -> tuple[Variable, WriteMeta]:
        """Give up the lock ``var.lock.id`` (the variable stays)."""
        release = Variable(namespace=var.namespace, path=var.path, lock=var.lock)
        return self._put(release, {"lock-release": ""}, 0)

    def delete(self, path: str, *, namespace: str | None = None,
               cas: int | None = None) -> WriteMeta:
        """Remove the variable (``cas``: only if its ModifyIndex is that)."""
        params = {"cas": cas} if cas is not None else None
        try:
            _, meta = self.client.write("DELETE", _path(path), None, params,
                                        namespace=namespace)
        except ApiConflict as err:
            raise self._conflict(err, cas or 0) from None
        return meta

    @staticmethod
    def _conflict(err: ApiConflict, check_index: int) -> ApiConflict:
        try:
            conflict = from_api(Variable, _lock_in_ns(json.loads(err.message)))
        except (ValueError, DecodeError):
            return err
        return ApiCASConflict(err.message, conflict, check_index)


@dataclass
class KeyringApi:
    client: ApiClient

    def list(self) -> tuple[list[RootKeyMeta], QueryMeta]:
        data, meta = self.client.query("/v1/operator/keyring/keys")
        try:
            return [from_api(RootKeyMeta, item) for item in data or []], meta
        except DecodeError as err:
            raise ApiError(200, f"unexpected answer: {err}") from None

    def rotate(self, *, full: bool = False, algorithm: str = "") -> tuple[RootKeyMeta,
                                                                          WriteMeta]:
        params = {"full": full or None, "algo": algorithm or None}
        data, meta = self.client.write("PUT", "/v1/operator/keyring/rotate", None, params)
        try:
            return from_api(RootKeyMeta, (data or {}).get("Key") or {}), meta
        except DecodeError as err:
            raise ApiError(200, f"unexpected answer: {err}") from None

    def remove(self, key_id: str) -> WriteMeta:
        _, meta = self.client.write("DELETE", f"/v1/operator/keyring/key/{quote(key_id, safe='')}")
        return meta
