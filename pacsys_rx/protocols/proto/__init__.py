"""Protobuf messages and gRPC stubs of Fermilab's DAQ (DPM/gRPC) and DevDB services.

The ``.proto`` files here follow Fermilab's interface definitions field for field; the ``*_pb2``
modules are generated from them by ``scripts/gen_protos.py``. They register their descriptors in
:data:`POOL`, a private descriptor pool, so that they can live in one process with any other copy
of the same protobuf packages (such as the reference ``pacsys`` library's).
"""

from google.protobuf import descriptor_pool, empty_pb2, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
"""The descriptor pool of the generated modules (with the well-known types they import)."""

POOL.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
POOL.AddSerializedFile(empty_pb2.DESCRIPTOR.serialized_pb)
