"""The web console at `/console/`: server-rendered pages over the admin API, and nothing else."""

from gateway.console.app import PREFIX, Console

__all__ = ["PREFIX", "Console"]
