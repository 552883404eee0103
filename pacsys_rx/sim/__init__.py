"""The embedded ACNET simulator: device model, event engine, permissions and the server host.

``Simulator`` is the entry point for tests and the ``pacsys-rx sim`` command; protocol servers
implement ``SimServer`` (see :mod:`pacsys_rx.sim.server`).
"""

from pacsys_rx.sim.catalogue import Catalogue, DeviceSpec, load_catalogue
from pacsys_rx.sim.engine import Batch, EventEngine, RealTimeDriver, Sink, Subscription
from pacsys_rx.sim.generators import CatalogueError
from pacsys_rx.sim.host import Simulator, SimulatorError
from pacsys_rx.sim.model import CompiledRequest, DeviceModel, Sample
from pacsys_rx.sim.permissions import ANONYMOUS, Identity, Permissions, identity_from_jwt_claims
from pacsys_rx.sim.server import SERVER_MODULES, ServerDisabled, SimConfig, SimContext, SimServer

__all__ = [
    "ANONYMOUS",
    "SERVER_MODULES",
    "Batch",
    "Catalogue",
    "CatalogueError",
    "CompiledRequest",
    "DeviceModel",
    "DeviceSpec",
    "EventEngine",
    "Identity",
    "Permissions",
    "RealTimeDriver",
    "Sample",
    "ServerDisabled",
    "SimConfig",
    "SimContext",
    "SimServer",
    "Simulator",
    "SimulatorError",
    "Sink",
    "Subscription",
    "identity_from_jwt_claims",
    "load_catalogue",
]
