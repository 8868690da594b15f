"""Task drivers: the protocol (``base``), raw_exec, the scriptable mock and the registry.

Supervision, the executor every driver that runs processes shares:

``supervision``      :class:`~.supervision.Supervisor`, the agent-side library that
                     launches supervisor processes and follows them (wait, kill, recover)
``invocation``       one start attempt: the command, its files, what is persisted
``process_session``  finding and killing a command's processes by pid *and* identity
``reaper``           reaping supervisor processes nobody waits for any more
``supervisor``       the supervisor *process* itself (``python -m
                     nomadjail.drivers.supervisor``): runs one command, its logs, its exit
``logrotate``        the rotated log files the supervisor process writes

Deliberately empty of imports: ``python -m nomadjail.drivers.supervisor`` imports
this package, and the supervisor must start fast with the standard library only.
"""
