"""The one error a download raises: the message is what the task event shows."""

from __future__ import annotations


class ArtifactError(Exception):
    """A download, checksum or unpack step failed.

    ``recoverable`` follows Nomad: a failed fetch may work on the next attempt
    (the restart policy decides), a destination that escapes the allocation
    directory never will.
    """

    def __init__(self, message: str, *, recoverable: bool = True) -> None:
        super().__init__(message)
        self.recoverable = recoverable
