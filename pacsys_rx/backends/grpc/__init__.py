"""DPM over gRPC: the backend."""

from pacsys_rx.backends.grpc.backend import GRPCBackend

__all__ = ["GRPCBackend"]
