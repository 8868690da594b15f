"""What the Nomad provider may have registered with the servers, kept on disk.

The servers are the truth, but a client cannot list "my registrations" over its RPC,
so it remembers what it sent: ``<client dir>/nomad_services.json`` maps each
registration ID to its namespace and allocation.  An ID is written *before* its upsert
is sent and dropped only once its deletion succeeded (or the servers refused it), so
after any crash -- ``kill -9`` between the two included -- the record holds at least
everything the servers might hold for this node.  A restarted client deletes from it
what belongs to allocations it did not restore (:mod:`.nomad`).

A record that cannot be read is reported and treated as empty (what it held can no
longer be cleaned up by the client; the servers still drop an allocation's instances
when it stops).
"""

from __future__ import annotations

import json
import logging
import os

from ...helper.atomic_file import write_atomically

log = logging.getLogger(__name__)

FILE_NAME = "nomad_services.json"

Entries = dict[str, dict[str, str]]  # registration ID -> {"Namespace": ..., "AllocID": ...}


class RegistrationRecord:
    def __init__(self, directory: str | None) -> None:
        """``directory`` None: nothing is kept (tests, benchmarks)."""
        self.path = os.path.join(directory, FILE_NAME) if directory else None

    def load(self) -> Entries:
        if self.path is None:
            return {}
        try:
            with open(self.path, encoding="utf-8") as src:
                data = json.load(src)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            log.error("cannot read %s (registrations made before this start will not be "
                      "cleaned up): %s", self.path, err)
            return {}
        records = data.get("Registrations") if isinstance(data, dict) else None
        if not isinstance(records, dict):
            return {}
        return {str(k): {"Namespace": str(v.get("Namespace", "")),
                         "AllocID": str(v.get("AllocID", ""))}
                for k, v in records.items() if isinstance(v, dict)}

    def save(self, entries: Entries) -> bool:
        """Replace the record (atomically); False, logged, when it cannot be written."""
        if self.path is None:
            return True
        try:
            write_atomically(self.path, json.dumps({"Registrations": entries},
                                                   sort_keys=True))
        except OSError as err:
            log.error("cannot record Nomad service registrations in %s: %s", self.path, err)
            return False
        return True
