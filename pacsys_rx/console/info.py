"""``pacsys-rx info DRF...``: what DevDB knows of each device, like acinfo or cainfo."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from pacsys_rx import factories
from pacsys_rx.backends.grpc.backend import DeviceInfoResult, GRPCBackend, PropertyInfo
from pacsys_rx.backends.grpc.devdb_alarms import AlarmInfo, AlarmText
from pacsys_rx.console.targets import TargetError, port_number, positive_seconds
from pacsys_rx.drf import parse_request
from pacsys_rx.errors import DeviceError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "info", help="show what DevDB knows of devices (like acinfo, cainfo)",
        description="Print each device's DevDB entry: description, units, limits, scaling, status bits, "
                    "control commands and alarm texts with priorities. Exits with status 1 when DevDB "
                    "does not know a device.")
    parser.add_argument("drfs", nargs="+", metavar="DRF", help="devices (any DRF of them), e.g. Z:ACLTST")
    group = parser.add_argument_group("connection")
    group.add_argument("--devdb", metavar="HOST:PORT",
                       help="DevDB gRPC server (default: $PACSYS_DEVDB_HOST/_PORT, then Fermilab's)")
    group.add_argument("--devdb-tls", action="store_true", help="use TLS to the --devdb server")
    group.add_argument("--timeout", type=positive_seconds, default=5.0,
                       help="seconds to wait for answers (default 5)")
    group.add_argument("--sim", action="store_true", help="start the embedded simulator and ask its DevDB")
    parser.set_defaults(handler=run)


@contextlib.contextmanager
def open_devdb(args: argparse.Namespace) -> Iterator[GRPCBackend]:
    """A gRPC backend used only for its DevDB calls."""
    with contextlib.ExitStack() as stack:
        address, tls = args.devdb, args.devdb_tls
        if args.sim:
            from pacsys_rx.sim import Simulator

            address, tls = stack.enter_context(Simulator(servers=["grpc"])).endpoints["grpc"], False
        options: dict[str, object] = {"timeout": args.timeout, "reading_meta": False}
        if address is not None:
            host, _, port = address.rpartition(":")
            try:
                options.update(devdb_host=host, devdb_port=port_number(port), devdb_tls=tls)
            except argparse.ArgumentTypeError as error:
                raise TargetError(f"--devdb must be HOST:PORT, got {address!r} ({error})") from None
        backend = factories.grpc(**options)
        assert isinstance(backend, GRPCBackend)
        stack.enter_context(backend)
        yield backend


def _property_lines(name: str, prop: PropertyInfo | None) -> list[str]:
    if prop is None:
        return []
    coefficients = ", ".join(f"{c:g}" for c in prop.coeff)
    return [f"  {name}: units {prop.common_units or '-'} (primary {prop.primary_units or '-'}), "
            f"limits {prop.min_val:g} .. {prop.max_val:g}, "
            f"scaling p{prop.p_index}/c{prop.c_index} [{coefficients}]"]


def device_lines(info: DeviceInfoResult, alarms: list[AlarmInfo], texts: dict[int, AlarmText]) -> list[str]:
    """The indented lines ``info`` prints under a device's name."""
    lines = [f"  description: {info.description}  (index {info.device_index})"]
    lines += _property_lines("reading", info.reading) + _property_lines("setting", info.setting)
    if info.status_bits:
        bits = ", ".join(f"{b.short_name} 0x{b.mask:x} ({b.long_name}: {b.true_str}/{b.false_str})"
                         for b in info.status_bits)
        lines.append(f"  status bits: {bits}")
    if info.control:
        lines.append("  control: " + ", ".join(f"{c.short_name}={c.value}" for c in info.control))
    for alarm in alarms:
        text = texts.get(alarm.text_id) if alarm.text_id is not None else None
        described = f'"{text.text}" priority {text.priority}' if text else "no text"
        url = f" {text.url}" if text and text.url else ""
        lines.append(f"  {'analog' if alarm.analog else 'digital'} alarm: {described}{url}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Exit status 1 when DevDB does not know a device."""
    devices = list(dict.fromkeys(parse_request(drf).device for drf in args.drfs))
    unknown = 0
    with open_devdb(args) as devdb:
        alarms = devdb.alarm_info(devices)
        texts = devdb.alarm_texts(sorted({a.text_id for a in alarms if a.text_id is not None}))
        for device in devices:
            try:
                info = devdb.device_info(device)
            except DeviceError as error:
                unknown += 1
                print(f"{device}  error: {error}")
                continue
            print(device)
            for line in device_lines(info, [a for a in alarms if a.device == device], texts):
                print(line)
    return 1 if unknown else 0
