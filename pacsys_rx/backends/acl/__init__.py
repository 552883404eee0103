"""ACL: the CGI over HTTPS, and the ``acl`` command over SSH."""

from pacsys_rx.backends.acl.backend import (
    DEFAULT_URL,
    DEFAULT_WORKERS,
    ACLBackend,
    ACLScriptBackend,
    ScriptFailed,
)
from pacsys_rx.backends.acl.ssh import ACLSSHBackend

__all__ = [
    "DEFAULT_URL", "DEFAULT_WORKERS", "ACLBackend", "ACLSSHBackend", "ACLScriptBackend", "ScriptFailed",
]
