"""nomadjail: HashiCorp Nomad re-implemented in Python, FreeBSD-first."""

__version__ = "0.1.0"
