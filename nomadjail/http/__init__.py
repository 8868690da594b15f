"""The HTTP API (Nomad's paths, JSON and status codes) as a Falcon ASGI app."""

from .agent_api import AgentAPI
from .app import create_app

__all__ = ["AgentAPI", "create_app"]
