"""Import path kept for ``ACLSSHBackend``; the module lives in ``pacsys_rx.backends.acl.ssh``."""

from pacsys_rx.backends.acl.ssh import ACLSSHBackend

__all__ = ["ACLSSHBackend"]
