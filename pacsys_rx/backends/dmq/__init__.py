"""DMQ over RabbitMQ: the backend, its I/O thread, jobs and SDD values."""

from pacsys_rx.backends.dmq.backend import DMQBackend

__all__ = ["DMQBackend"]
