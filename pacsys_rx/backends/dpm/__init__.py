"""DPM over TCP (acsys-proxy): the backend, its connection, jobs and reply values."""

from pacsys_rx.backends.dpm.backend import DPMBackend

__all__ = ["DPMBackend"]
