"""Regenerate the protobuf and gRPC modules of ``pacsys_rx/protocols/proto`` from its ``.proto`` files.

Run from anywhere: ``python scripts/gen_protos.py``. Needs ``grpcio-tools`` at the release pinned in
``requirements/constraints.txt``. The generated modules are rewritten to register their descriptors
in the package's private pool (``pacsys_rx.protocols.proto.POOL``) instead of protobuf's default
pool. ``generated.json`` beside them records the generator release and the SHA-256 of every
``.proto`` file they were generated from.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_PACKAGE_DIR = Path("pacsys_rx", "protocols", "proto")
PROTO_FILES = ("device.proto", "status.proto", "DAQ.proto", "DevDB.proto")
SERVICE_FILES = ("DAQ.proto", "DevDB.proto")
DEFAULT_POOL = "_descriptor_pool.Default()"
PRIVATE_POOL_IMPORT = "from pacsys_rx.protocols.proto import POOL as _PROTO_POOL\n"
MANIFEST = "generated.json"


def generator() -> str:
    """The generator release installed here, as recorded in the manifest."""
    return f"grpcio-tools {metadata.version('grpcio-tools')}"


def proto_digests(proto_dir: Path) -> dict[str, str]:
    """SHA-256 of every ``.proto`` file the modules are generated from."""
    return {name: hashlib.sha256((proto_dir / name).read_bytes()).hexdigest() for name in PROTO_FILES}


def manifest(proto_dir: Path) -> str:
    """The manifest text for the ``.proto`` files in ``proto_dir`` and the installed generator."""
    return json.dumps({"generator": generator(), "protos": proto_digests(proto_dir)}, indent=2) + "\n"


def generated_names() -> list[str]:
    """File names of every generated module, in a stable order."""
    names = [f"{Path(p).stem}_pb2.py" for p in PROTO_FILES]
    names += [f"{Path(p).stem}_pb2_grpc.py" for p in SERVICE_FILES]
    return names


def _use_private_pool(source: str, name: str) -> str:
    if source.count(DEFAULT_POOL) != 1:
        raise RuntimeError(f"{name}: expected exactly one {DEFAULT_POOL} in the generated code")
    marker = "# @@protoc_insertion_point(imports)\n"
    if marker not in source:
        raise RuntimeError(f"{name}: import insertion point not found in the generated code")
    source = source.replace(marker, marker + PRIVATE_POOL_IMPORT, 1)
    return source.replace(DEFAULT_POOL, "_PROTO_POOL")


def generate(out_dir: Path) -> list[Path]:
    """Generate every module into ``out_dir`` (flat); returns the written paths."""
    from grpc_tools import protoc

    protos = [str(PROTO_PACKAGE_DIR / name) for name in PROTO_FILES]
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as scratch:
        status = protoc.main([
            "grpc_tools.protoc", f"-I{REPO_ROOT}", f"-I{include}",
            f"--python_out={scratch}", f"--grpc_python_out={scratch}", *protos,
        ])
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status}")
        written = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in generated_names():
            source = (Path(scratch) / PROTO_PACKAGE_DIR / name).read_text(encoding="utf-8")
            if name.endswith("_pb2.py"):
                source = _use_private_pool(source, name)
            target = out_dir / name
            target.write_text(source, encoding="utf-8")
            written.append(target)
    return written


def main() -> int:
    out_dir = REPO_ROOT / PROTO_PACKAGE_DIR
    for path in generate(out_dir):
        print(path.relative_to(REPO_ROOT))
    (out_dir / MANIFEST).write_text(manifest(out_dir), encoding="utf-8")
    print((out_dir / MANIFEST).relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
