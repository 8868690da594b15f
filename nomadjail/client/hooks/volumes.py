"""Host volumes a task mounts: ``volume_mount`` -> the node's ``host_volume`` -> a mount.

Nomad's volume hook: every ``volume_mount`` of the task names a group
``volume { type = "host" source = "..." }`` (``per_alloc`` appends the
allocation's ``[N]``), which must be one of the node's host volumes (client
config ``host_volume "name" { path read_only }``).  The mount is read-only
when the host volume, the volume request or the mount says so.  Drivers
with filesystem isolation (pot) receive these in ``TaskConfig.mounts``.
"""

from __future__ import annotations

from ...drivers.base import MountConfig
from .. import events
from .base import HookContext, HookError

VOLUME_TYPE_HOST = "host"


class VolumesHook:
    name = "volumes"

    def prestart(self, ctx: HookContext) -> None:
        group = ctx.alloc.lookup_task_group()
        volumes = group.volumes if group is not None else {}
        mounts: list[MountConfig] = []
        for mount in ctx.task.volume_mounts:
            request = volumes.get(mount.volume)
            if request is None or request.type != VOLUME_TYPE_HOST:
                continue  # validation rejects unknown volumes; other types are not ours
            source = request.source
            if request.per_alloc:
                source += f"[{ctx.alloc.index}]"
            host_volume = ctx.node.host_volumes.get(source)
            if host_volume is None:
                message = f"host volume validation error: no host volume named: {source}"
                raise HookError(message, event=events.setup_failure(message))
            mounts.append(MountConfig(host_path=host_volume.path, task_path=mount.destination,
                                      readonly=(host_volume.read_only or request.read_only
                                                or mount.read_only)))
        ctx.volume_mounts = mounts
