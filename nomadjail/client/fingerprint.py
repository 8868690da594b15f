"""What this machine is: the node a client registers (Nomad's fingerprinters).

Attributes use Nomad's names and formats, so job constraints written for
Nomad work unchanged: ``cpu.arch`` is Go's name (``amd64``, ``arm64``),
``kernel.name`` is ``linux``/``freebsd``, ``driver.<name>`` is ``"1"`` for every
detected driver, and so on.  Capacity goes to ``NodeResources`` (CPU shares =
total compute in MHz, memory and free disk of the data dir in MB, one host
network with the node's address) and the operator's reservations to
``ReservedResources``.
"""

from __future__ import annotations

import platform
import signal
import socket
from collections.abc import Mapping

import psutil

from ..drivers.base import Driver
from ..structs import (
    ClientHostVolumeConfig,
    DriverInfo,
    NetworkResource,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeResources,
    NodeStatus,
    now_ns,
    rfc3339,
)
from ..structs.node import (
    NodeReservedCpuResources,
    NodeReservedMemoryResources,
    NodeReservedNetworkResources,
    NodeReservedResources,
)
from .config import ClientConfig

NOMAD_VERSION = "1.9.0"  # the Nomad version whose API and behaviour nomadjail follows
NOMAD_REVISION = "nomadjail"
MB = 1024 * 1024
DEFAULT_CPU_MHZ = 1000  # when the CPU frequency cannot be read (some VMs)
DEFAULT_LINK_MBITS = 1000

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "i386": "386", "i686": "386", "armv7l": "arm", "armv6l": "arm", "riscv64": "riscv64",
            "ppc64le": "ppc64le", "s390x": "s390x"}


def go_arch(machine: str) -> str:
    return _GO_ARCH.get(machine.lower(), machine.lower())


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as src:
            return src.read()
    except OSError:
        return ""


def _cpuinfo_value(key: str) -> str:
    for line in _read_text("/proc/cpuinfo").splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return ""


def cpu_mhz() -> int:
    """The per-core frequency in MHz (max if known, else current, else a default)."""
    freq = None
    try:
        freq = psutil.cpu_freq()
    except (NotImplementedError, OSError, AttributeError):
        pass
    if freq is not None and (freq.max or freq.current):
        return int(freq.max or freq.current)
    text = _cpuinfo_value("cpu MHz")
    try:
        return int(float(text)) if text else DEFAULT_CPU_MHZ
    except ValueError:
        return DEFAULT_CPU_MHZ


def os_release() -> tuple[str, str]:
    """``(os.name, os.version)`` as Nomad (gopsutil) reports them."""
    system = platform.system().lower()
    if system == "linux":
        fields = {}
        for line in _read_text("/etc/os-release").splitlines():
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip().strip('"')
        return fields.get("ID", "linux"), fields.get("VERSION_ID", "")
    return system, platform.release().split("-")[0]


def _default_route_interface() -> str:
    for line in _read_text("/proc/net/route").splitlines()[1:]:
        parts = line.split()
        if len(parts) > 2 and parts[1] == "00000000":
            return parts[0]
    return ""


def detect_address(interface: str = "") -> tuple[str, str]:
    """``(device, IPv4 address)`` of ``interface``, else of the default route, else loopback.

    Raises ValueError when a named interface has no IPv4 address.
    """
    addrs = psutil.net_if_addrs()

    def ipv4(dev: str) -> str:
        for addr in addrs.get(dev, []):
            if addr.family == socket.AF_INET:
                return addr.address
        return ""

    if interface:
        ip = ipv4(interface)
        if not ip:
            raise ValueError(f"network_interface {interface!r} has no IPv4 address "
                             f"(interfaces: {', '.join(sorted(addrs))})")
        return interface, ip
    device = _default_route_interface()
    if device and ipv4(device):
        return device, ipv4(device)
    try:  # ask the routing table which local address reaches the world (sends nothing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            local = probe.getsockname()[0]
        for dev in addrs:
            if ipv4(dev) == local:
                return dev, local
    except OSError:
        pass
    for dev in addrs:
        ip = ipv4(dev)
        if ip and not ip.startswith("127."):
            return dev, ip
    loopback = next((d for d in addrs if ipv4(d).startswith("127.")), "lo")
    return loopback, "127.0.0.1"


def driver_info(driver: Driver) -> DriverInfo:
    """The driver's own fingerprint; a driver that raises is reported unhealthy."""
    try:
        fp = driver.fingerprint()
    except Exception as err:  # noqa: BLE001 - a broken driver must not break the node
        return DriverInfo(detected=False, healthy=False,
                          health_description=f"fingerprint failed: {err}",
                          update_time=rfc3339(now_ns()))
    return DriverInfo(attributes=dict(fp.attributes), detected=fp.detected, healthy=fp.healthy,
                      health_description=fp.health_description, update_time=rfc3339(now_ns()))


def apply_driver_info(node: Node, name: str, info: DriverInfo) -> bool:
    """Record ``info`` on ``node`` (attributes included); True if anything changed."""
    old = node.drivers.get(name)
    changed = (old is None or old.detected != info.detected or old.healthy != info.healthy
               or old.health_description != info.health_description
               or old.attributes != info.attributes)
    if old is not None:
        for key in old.attributes:
            if key not in info.attributes:
                node.attributes.pop(key, None)
    node.attributes.update(info.attributes)
    if info.detected:
        node.attributes[f"driver.{name}"] = "1"
    else:
        node.attributes.pop(f"driver.{name}", None)
    if changed:
        node.drivers[name] = info
    return changed


def host_attributes(config: ClientConfig) -> tuple[dict[str, str], str, str]:
    """Nomad's host attributes, and the network device and address found."""
    cores = psutil.cpu_count(logical=True) or 1
    mhz = cpu_mhz()
    total_compute = config.cpu_total_compute or mhz * cores
    device, ip = detect_address(config.network_interface)
    os_name, os_version = os_release()
    machine = platform.machine()
    attrs = {
        "cpu.arch": go_arch(machine),
        "cpu.numcores": str(cores),
        "cpu.reservablecores": str(cores),
        "cpu.frequency": str(mhz),
        "cpu.totalcompute": str(total_compute),
        "cpu.usablecompute": str(total_compute),
        "kernel.name": platform.system().lower(),
        "kernel.version": platform.release(),
        "kernel.arch": machine,
        "os.name": os_name,
        "memory.totalbytes": str(psutil.virtual_memory().total),
        "unique.hostname": socket.gethostname(),
        "unique.network.ip-address": ip,
        "nomad.version": NOMAD_VERSION,
        "nomad.revision": NOMAD_REVISION,
        "os.signals": ",".join(sorted(s.name for s in signal.Signals
                                      if s.name.startswith("SIG") and "_" not in s.name)),
    }
    if os_version:
        attrs["os.version"] = os_version
    model = _cpuinfo_value("model name") or platform.processor()
    if model:
        attrs["cpu.modelname"] = model
    try:
        usage = psutil.disk_usage(config.data_dir)
        attrs["unique.storage.volume"] = config.data_dir
        attrs["unique.storage.bytestotal"] = str(usage.total)
        attrs["unique.storage.bytesfree"] = str(usage.free)
    except OSError:
        pass
    if config.http_addr:
        attrs["unique.advertise.address"] = config.http_addr
        attrs["nomad.advertise.address"] = config.http_addr
    return attrs, device, ip


def fingerprint_node(config: ClientConfig, *, node_id: str, secret_id: str,
                     drivers: Mapping[str, Driver]) -> Node:
    """The node this client registers, status ``initializing``."""
    attrs, device, ip = host_attributes(config)
    cores = int(attrs["cpu.numcores"])
    try:
        disk_mb = psutil.disk_usage(config.data_dir).free // MB
    except OSError:
        disk_mb = 0
    node = Node(
        id=node_id, secret_id=secret_id, datacenter=config.datacenter, name=config.node_name,
        http_addr=config.http_addr, attributes=attrs, meta=dict(config.meta),
        node_class=config.node_class, node_pool=config.node_pool or "default",
        node_resources=NodeResources(
            cpu=NodeCpuResources(cpu_shares=int(attrs["cpu.totalcompute"]),
                                 total_cpu_cores=cores,
                                 reservable_cpu_cores=list(range(cores))),
            memory=NodeMemoryResources(memory_mb=int(attrs["memory.totalbytes"]) // MB),
            disk=NodeDiskResources(disk_mb=disk_mb),
            networks=[NetworkResource(mode="host", device=device, cidr=f"{ip}/32", ip=ip,
                                      mbits=DEFAULT_LINK_MBITS)],
            min_dynamic_port=config.min_dynamic_port, max_dynamic_port=config.max_dynamic_port),
        reserved_resources=NodeReservedResources(
            cpu=NodeReservedCpuResources(cpu_shares=config.reserved_cpu),
            memory=NodeReservedMemoryResources(memory_mb=config.reserved_memory_mb),
            networks=NodeReservedNetworkResources(reserved_host_ports=config.reserved_ports)),
        status=NodeStatus.INITIALIZING,
        status_updated_at=now_ns() // 1_000_000_000,
    )
    node.host_volumes = {name: ClientHostVolumeConfig(name=name, path=volume.path,
                                                       read_only=volume.read_only)
                         for name, volume in config.host_volumes.items()}
    for name, driver in drivers.items():
        apply_driver_info(node, name, driver_info(driver))
    return node  # ComputedClass is left to the servers, which fill it on registration
