"""The client agent: registration, fingerprint, alloc and task runners, local state.

Import from the modules (``nomadjail.client.client.Client``,
``nomadjail.client.config.ClientConfig`` ...); this package imports nothing itself.
"""
