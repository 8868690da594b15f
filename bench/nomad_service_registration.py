"""Time for one client to register 1,000 Nomad-provider service instances and see all
their checks pass.

The client's Nomad provider (the real one) registers 1,000 workloads -- one service with
a TCP check each, 1 s interval -- with in-memory servers (``FakeServers``: the servers'
side of the client RPC, so this measures the client, not raft), and runs the 1,000
checks itself against a listening loopback socket, as it does for ``provider =
"nomad"``.  Printed: the time until the servers hold all 1,000 registrations and until
the provider (what the health watcher asks) sees all 1,000 checks passing.  A check
first runs half an interval after registration, so ~0.5 s is the floor.

    .venv/bin/python bench/nomad_service_registration.py [--services 1000]
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
import uuid

from nomadjail.client.services import NomadServiceProvider, WorkloadServices
from nomadjail.structs import SECOND, PortMapping
from nomadjail.structs.services import Service, ServiceCheck
from nomadjail.testing.fake_servers import FakeServers


def workload(port: int) -> WorkloadServices:
    return WorkloadServices(
        alloc_id=str(uuid.uuid4()), job_id="bench", group="web", task="", namespace="default",
        node_id="node", datacenter="dc1",
        services=[Service(name="bench", port_label="http", provider="nomad",
                          address_mode="host", checks=[ServiceCheck(
                              name="port", type="tcp", interval=SECOND, timeout=SECOND,
                              on_update="require_healthy")])],
        ports=[PortMapping(label="http", value=port, host_ip="127.0.0.1")])


def drain(listener: socket.socket, stop: threading.Event) -> None:
    """Accept and drop the probes' connections."""
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            listener.accept()[0].close()
        except OSError:
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    stop = threading.Event()
    acceptor = threading.Thread(target=drain, args=(listener, stop), daemon=True)
    acceptor.start()
    servers = FakeServers()
    provider = NomadServiceProvider(servers)
    provider.start("bench-node")
    workloads = [workload(port) for _ in range(args.services)]
    try:
        start = time.monotonic()
        for work in workloads:
            provider.register_workload(work)
        registered = seen = 0.0
        while not seen:
            now = time.monotonic() - start
            if not registered and len(servers.services) >= args.services:
                registered = now
            if registered and all([c.status for c in provider.alloc_checks(w.alloc_id).checks()]
                                  == ["passing"] for w in workloads):
                seen = time.monotonic() - start
            if now > 120:
                raise SystemExit("gave up after 120 s")
            time.sleep(0.05)
        print(f"{args.services} Nomad services: registered with the servers after "
              f"{registered:.2f} s, all checks seen passing by the client after {seen:.2f} s "
              f"(target <= 10 s)")
    finally:
        provider.shutdown()
        stop.set()
        acceptor.join(5)
        listener.close()


if __name__ == "__main__":
    main()
