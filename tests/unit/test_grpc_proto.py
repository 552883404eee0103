"""Our generated DAQ/DevDB modules: wire compatibility of the trap fields, RPC paths, regeneration."""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import descriptor_pool

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from pacsys_rx.protocols.proto import DAQ_pb2, DAQ_pb2_grpc, DevDB_pb2, device_pb2, status_pb2

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "pacsys_rx" / "protocols" / "proto"


def _double(value: float) -> bytes:
    return struct.pack("<d", value)


def test_readings_repeated_reading_is_field_2() -> None:
    readings = DAQ_pb2.Readings(reading=[DAQ_pb2.Reading(data=device_pb2.Value(scalar=1.0))])
    value = b"\x09" + _double(1.0)
    reading = b"\x12" + bytes([len(value)]) + value
    assert readings.SerializeToString() == b"\x12" + bytes([len(reading)]) + reading


def test_setting_reply_repeated_status_is_field_2() -> None:
    reply = DAQ_pb2.SettingReply(status=[status_pb2.Status(facility_code=17, status_code=1)])
    assert reply.SerializeToString() == b"\x12\x04\x08\x11\x10\x01"


def test_negative_status_code_is_a_ten_byte_varint() -> None:
    status = status_pb2.Status(facility_code=17, status_code=-17, message="x")
    assert status.SerializeToString() == b"\x08\x11\x10" + b"\xef" + b"\xff" * 8 + b"\x01" + b"\x1a\x01x"


def test_reading_reply_oneof_members() -> None:
    with_status = DAQ_pb2.ReadingReply(index=3, status=status_pb2.Status(facility_code=17, status_code=-26))
    minus_26 = b"\xe6" + b"\xff" * 8 + b"\x01"
    assert with_status.SerializeToString() == b"\x08\x03\x1a\x0d\x08\x11\x10" + minus_26
    empty_readings = DAQ_pb2.ReadingReply(index=0, readings=DAQ_pb2.Readings())
    assert empty_readings.SerializeToString() == b"\x12\x00"
    assert DAQ_pb2.ReadingReply.FromString(b"\x12\x00").WhichOneof("value") == "readings"


def test_reading_fields_timestamp_data_status() -> None:
    reading = DAQ_pb2.Reading(data=device_pb2.Value(text="hi"), status=status_pb2.Status(facility_code=17,
                                                                                             status_code=2))
    reading.timestamp.seconds, reading.timestamp.nanos = 1234567890, 500_000_000
    encoded = reading.SerializeToString()
    timestamp = b"\x08\xd2\x85\xd8\xcc\x04\x10\x80\xca\xb5\xee\x01"
    assert encoded == (b"\x0a" + bytes([len(timestamp)]) + timestamp + b"\x12\x04\x22\x02hi"
                       + b"\x1a\x04\x08\x11\x10\x02")


def test_value_oneof_members_and_numbers() -> None:
    cases = [
        (device_pb2.Value(scalar=2.5), b"\x09" + _double(2.5)),
        (device_pb2.Value(scalarArr=device_pb2.Value.ScalarArray(value=[1.0, 2.0])),
         b"\x12\x12\x0a\x10" + _double(1.0) + _double(2.0)),
        (device_pb2.Value(raw=b"\x01\x02"), b"\x1a\x02\x01\x02"),
        (device_pb2.Value(text="ab"), b"\x22\x02ab"),
        (device_pb2.Value(textArr=device_pb2.Value.TextArray(value=["a", "b"])),
         b"\x2a\x06\x0a\x01a\x0a\x01b"),
        (device_pb2.Value(anaAlarm=device_pb2.Value.AnalogAlarm(alarmEnable=True, triesNow=2)),
         b"\x32\x04\x18\x01\x40\x02"),
        (device_pb2.Value(digAlarm=device_pb2.Value.DigitalAlarm(nominal=-1, mask=3)),
         b"\x3a\x0d\x08" + b"\xff" * 9 + b"\x01\x10\x03"),
        (device_pb2.Value(basicStatus=device_pb2.Value.BasicStatus(value={"On": "Yes"})),
         b"\x42\x0b\x0a\x09\x0a\x02On\x12\x03Yes"),
    ]
    for message, expected in cases:
        assert message.SerializeToString() == expected, message


def test_setting_and_lists() -> None:
    setting = DAQ_pb2.SettingList(setting=[DAQ_pb2.Setting(device="Z:ACLTST.SETTING@N",
                                                            value=device_pb2.Value(scalar=1.0))])
    inner = b"\x0a\x12Z:ACLTST.SETTING@N\x12\x09\x09" + _double(1.0)
    assert setting.SerializeToString() == b"\x0a" + bytes([len(inner)]) + inner
    assert DAQ_pb2.ReadingList(drf=["A", "B"]).SerializeToString() == b"\x0a\x01A\x0a\x01B"


def test_devdb_trap_fields() -> None:
    entry = DevDB_pb2.InfoEntry(name="X", errMsg="no")
    assert entry.SerializeToString() == b"\x0a\x01X\x1a\x02no"
    prop = DevDB_pb2.Property(common_units="")
    assert prop.HasField("common_units") and prop.SerializeToString() == b"\x12\x00"
    info = DevDB_pb2.DeviceInfo(reading=DevDB_pb2.Property())
    assert info.HasField("reading") and info.SerializeToString() == b"\x1a\x00"


def test_service_paths() -> None:
    daq = DAQ_pb2.DESCRIPTOR.services_by_name["DAQ"]
    assert daq.full_name == "services.daq.DAQ"
    assert {m.name: (m.input_type.full_name, m.output_type.full_name, m.server_streaming)
            for m in daq.methods} == {
        "Read": ("services.daq.ReadingList", "services.daq.ReadingReply", True),
        "Set": ("services.daq.SettingList", "services.daq.SettingReply", False),
    }
    devdb = DevDB_pb2.DESCRIPTOR.services_by_name["DevDB"]
    assert devdb.full_name == "services.devdb.DevDB"
    assert "getDeviceInfo" in devdb.methods_by_name
    assert hasattr(DAQ_pb2_grpc, "DAQStub")


def test_descriptors_live_in_a_private_pool() -> None:
    try:
        descriptor_pool.Default().FindMessageTypeByName("services.daq.ReadingList")
    except KeyError:
        pass
    else:
        raise AssertionError("services.daq.ReadingList leaked into protobuf's default pool")


def _gen_protos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_protos", REPO / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_protos"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["gen_protos"]
    return module


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((PROTO_DIR / "generated.json").read_text(encoding="utf-8"))
    return manifest


def test_committed_modules_were_generated_from_these_proto_files() -> None:
    """A .proto edited without regenerating is caught whatever generator is installed."""
    recorded = _manifest()["protos"]
    assert _gen_protos().proto_digests(PROTO_DIR) == recorded, "a .proto changed: run scripts/gen_protos.py"


def test_proto_digest_check_catches_an_edited_proto(tmp_path: Path) -> None:
    gen_protos = _gen_protos()
    for name in gen_protos.PROTO_FILES:
        (tmp_path / name).write_bytes((PROTO_DIR / name).read_bytes())
    (tmp_path / "DAQ.proto").write_text((PROTO_DIR / "DAQ.proto").read_text() + "\n// edited\n")
    assert gen_protos.proto_digests(tmp_path) != _manifest()["protos"]


def test_committed_modules_match_the_pinned_generator(tmp_path: Path) -> None:
    """Byte-for-byte regeneration, with the generator release the modules were made by.

    Under the lock files that release is installed; a newer one (``make test-latest``) only
    changes version strings, so the comparison is left to the digest check above.
    """
    gen_protos = _gen_protos()
    pinned = _manifest()["generator"]
    if gen_protos.generator() != pinned:
        pytest.skip(f"{gen_protos.generator()} installed; the modules were generated by {pinned}")
    written = gen_protos.generate(tmp_path)
    assert [path.name for path in written] == gen_protos.generated_names()
    for path in written:
        committed = (PROTO_DIR / path.name).read_text(encoding="utf-8")
        stale = f"{path.name} is stale: run scripts/gen_protos.py"
        assert path.read_text(encoding="utf-8") == committed, stale


def test_generator_pin_matches_the_manifest_and_the_grpcio_floor() -> None:
    """constraints.txt pins the release that made the modules; pyproject's grpcio floor is that release."""
    version = _manifest()["generator"].split()[-1]
    constraints = (REPO / "requirements" / "constraints.txt").read_text()
    assert f"grpcio-tools=={version}" in constraints
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert f"grpcio>={version}" in pyproject["project"]["dependencies"]
    assert f"GRPC_GENERATED_VERSION = '{version}'" in (PROTO_DIR / "DAQ_pb2_grpc.py").read_text()
