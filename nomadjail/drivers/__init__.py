"""Task drivers: the protocol (``base``), raw_exec, the scriptable mock and the registry.

Deliberately empty of imports: ``python -m nomadjail.drivers.supervisor`` imports
this package, and the supervisor must start fast with the standard library only.
"""
