"""Job ``template`` blocks on the client: render, write, watch, apply change_mode.

==================  ================================================================
``hook.py``         the task runner hook: first render in prestart, env, stop
``manager.py``      one per task: render loop, "Missing" events, the watcher thread
``sources.py``      the DataSource: Consul KV/catalog, Nomad services/variables, files
``writer.py``       paths (sandbox) and atomic writes with perms/uid/gid
``env_file.py``     ``env = true`` output -> task environment
``change.py``       change_mode, coalesced, and splay (pure)
``config.py``       the client's ``template { ... }`` block
==================  ================================================================

Nothing is imported here, so :mod:`nomadjail.client.hooks.base` can use
:mod:`.sources` without an import cycle.
"""
