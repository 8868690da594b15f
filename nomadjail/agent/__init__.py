"""The agent: one ``nomadjail agent`` process, wiring a server and/or a client.

This is the only package that may import every other one (DESIGN.md §3): the
server and the client never import each other and meet here, or over the rpc
port.  One concern per module:

==================  ==============================================================
``command``         ``nomadjail agent``: flags and ``-config`` files -> a config
``config``          :class:`AgentConfig`: Nomad's keys, defaults, merge rules
``config_file``     HCL/JSON config files -> overlays, errors with file and line
``addresses``       ``host:port`` spelling for listeners and raft peers
``agent``           :class:`Agent`: builds and starts the server, client, Consul
``gunicorn_app``    gunicorn runs the one worker process that owns the agent
``consul``          service registration; servers and clients find each other
``saved_peers``     the raft peers a server found, remembered across restarts
``import_jobs``     ``-import-jobs DIR``: submit every job file once there is a leader
``log_setup``       stderr in Nomad's shape, optionally local and remote syslog
``processes``       find and end the task supervisors an agent started, by PID
==================  ==============================================================

Deliberately empty of imports: the appliance (``flavour cook``), the test
helpers and ``nomadjail agent`` before it starts anything load single modules
from here (``config``, ``config_file``, ``addresses``, ``processes``), and must
not pay for the server, the client and gunicorn that :mod:`.agent` and
:mod:`.gunicorn_app` bring in.  Import the module you need.
"""
