"""Time to register 1,000 service instances from one client and see all their checks pass.

Target: <= 10 s.  One client's Consul provider (the real one, through
python-consul2) registers 1,000 workloads -- one service with a TCP check each,
1 s interval -- with the Consul double, which probes a listening loopback
socket as a Consul agent would.  Printed: the time until Consul holds all
1,000 registrations, until all 1,000 checks pass in Consul, and until the
provider (what the health watcher asks) sees them all passing.

No Consul binary can run here: the double stands in for the local Consul agent
(a real agent staggers first probes within the interval, as the double does).

    .venv/bin/python bench/service_registration.py [--services 1000]
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' Consul double

from nomadjail.agent.config import ConsulSettings  # noqa: E402 - after the path above
from nomadjail.agent.consul import consul_client  # noqa: E402
from nomadjail.client.services import (  # noqa: E402
    ConsulServiceProvider,
    PythonConsulAgent,
    WorkloadServices,
)
from nomadjail.structs import SECOND, PortMapping  # noqa: E402
from nomadjail.structs.services import Service, ServiceCheck  # noqa: E402
from tests.doubles.consul import ConsulDouble  # noqa: E402


def workload(port: int) -> WorkloadServices:
    return WorkloadServices(
        alloc_id=str(uuid.uuid4()), job_id="bench", group="web", task="", namespace="default",
        node_id="node", datacenter="dc1",
        services=[Service(name="bench", port_label="http", provider="consul",
                          address_mode="host", checks=[ServiceCheck(
                              name="port", type="tcp", interval=SECOND, timeout=SECOND,
                              on_update="require_healthy")])],
        ports=[PortMapping(label="http", value=port, host_ip="127.0.0.1")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    double = ConsulDouble().start()
    settings = ConsulSettings(enabled=True, address=double.address)
    provider = ConsulServiceProvider(PythonConsulAgent(consul_client(settings)))
    provider.start("bench-node")
    workloads = [workload(port) for _ in range(args.services)]
    try:
        start = time.monotonic()
        for work in workloads:
            provider.register_workload(work)
        registered = passing = seen = 0.0
        while not seen:
            now = time.monotonic() - start
            if not registered and len(double.services) >= args.services:
                registered = now
            checks = double.agent_checks().values()
            if not passing and sum(c["Status"] == "passing" for c in checks) >= args.services:
                passing = now
            if passing and all(
                    (found := provider.alloc_checks(w.alloc_id)) is not None
                    and [c.status for c in found.checks()] == ["passing"] for w in workloads):
                seen = time.monotonic() - start
            if now > 120:
                raise SystemExit("gave up after 120 s")
            time.sleep(0.05)
            # accept and drop the probes' connections
            listener.settimeout(0)
            try:
                while True:
                    listener.accept()[0].close()
            except OSError:
                pass
        print(f"{args.services} services: registered in Consul after {registered:.2f} s, "
              f"all checks passing after {passing:.2f} s, seen passing by the client after "
              f"{seen:.2f} s (target <= 10 s)")
    finally:
        provider.shutdown()
        double.close()
        listener.close()


if __name__ == "__main__":
    main()
