"""A local emulator of the Azure Resource Manager and Azure ML control plane.

Reached only over HTTPS, like Azure. State models (``models/``) know nothing of HTTP;
handlers (``api/``) parse, call and serialise; ``routes.py`` is the routing table.
Imports nothing else of amlops.
"""

from amlops.emulator.server import Emulator

__all__ = ["Emulator"]
