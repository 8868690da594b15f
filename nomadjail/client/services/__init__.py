"""Service registration on the client: the ``service`` blocks of groups and tasks.

    workload.py        what to register for a workload (pure): IDs, interpolation, checks
    address.py         where a service or check is reached, by address_mode (pure)
    provider.py        the ServiceProvider protocol every provider satisfies
    consul.py          the Consul provider: desired state, sync loop, check statuses
    consul_definitions.py  registrations as Consul's JSON; when Consul's copy differs
    consul_agent.py    the Consul agent calls, over python-consul2
    nomad.py           Nomad's own service discovery: registrations through the servers
    nomad_checks.py    the http and tcp checks of Nomad-provider services, run here
    nomad_record.py    what the Nomad provider may have registered, kept on disk
    check_watcher.py   check_restart: restart a task whose check stays unhealthy
    script_checks.py   script checks, run by the client in the task
    group_hook.py      a group's services, kept by the allocation runner

A task's services are kept by its task runner's hook
(:mod:`nomadjail.client.hooks.services`).
"""

from .consul import ConsulServiceProvider
from .consul_agent import ConsulAgent, ConsulError, PythonConsulAgent
from .nomad import NomadServiceProvider
from .nomad_checks import NomadChecks
from .provider import (
    AllocChecks,
    CheckState,
    MissingProvider,
    ServiceProvider,
    ServiceProviders,
    ServiceRegistrationError,
    ServiceState,
)
from .workload import ServiceInstance, WorkloadServices, registrations

__all__ = ["AllocChecks", "CheckState", "ConsulAgent", "ConsulError", "ConsulServiceProvider",
           "MissingProvider", "NomadChecks", "NomadServiceProvider", "PythonConsulAgent",
           "ServiceInstance", "ServiceProvider", "ServiceProviders", "ServiceRegistrationError",
           "ServiceState", "WorkloadServices", "registrations"]
