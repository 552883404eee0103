"""pacsys_rx: reactive access to Fermilab's ACNET control system.

Every backend is an Observable source::

    import pacsys_rx as prx
    with prx.dpm() as dpm:
        dpm.stream("M:OUTTMP@p,1000").subscribe(print)
"""

from pacsys_rx.auth import JWTAuth, KerberosAuth
from pacsys_rx.backends.base import Backend, Capability
from pacsys_rx.bridge import aiter, iterate
from pacsys_rx.errors import (
    AuthenticationError,
    BackendUnavailable,
    DeviceError,
    DRFError,
    NotSupported,
    PacsysError,
    ProtocolError,
    WriteOutcomeUnknown,
)
from pacsys_rx.factories import acl, acl_ssh, dmq, dpm, grpc
from pacsys_rx.model import AcnetStatus, Reading, ValueType, WriteResult
from pacsys_rx.verify import Verify

__all__ = [
    "AcnetStatus", "AuthenticationError", "Backend", "BackendUnavailable", "Capability", "DRFError",
    "DeviceError", "JWTAuth", "KerberosAuth", "NotSupported", "PacsysError", "ProtocolError", "Reading",
    "ValueType", "Verify", "WriteOutcomeUnknown", "WriteResult", "acl", "acl_ssh", "aiter", "dmq", "dpm",
    "grpc", "iterate",
]
