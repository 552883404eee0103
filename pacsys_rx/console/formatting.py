"""Text and JSON renderings of readings and write results for the commands."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, is_dataclass
from typing import Any

from rich.console import Console

from pacsys_rx.model import Reading, WriteResult

INTERRUPTED = 130
"""Exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it."""

LOG_WIDTH = 160
"""Columns of output that is not a terminal (logs, pipes): wide enough that tables do not wrap."""


def make_console() -> Console:
    """A rich Console for a command; output that is not a terminal is not wrapped at 80 columns."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, LOG_WIDTH)
    return console


def format_value(value: Any) -> str:
    """A compact human rendering of a reading's value."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        shown = ", ".join(format_value(v) for v in value[:8])
        return f"[{shown}{', ...' if len(value) > 8 else ''}] ({len(value)} values)"
    if is_dataclass(value) and not isinstance(value, type):
        return " ".join(f"{k}={v}" for k, v in asdict(value).items() if v is not None)
    return str(value)


def describe_status(reading: Reading | WriteResult) -> str:
    """The reading's message, else its status described (``DPM_PRIV: ...``)."""
    return reading.message or reading.status.describe()


def is_numeric(value: Any) -> bool:
    """A number or a tuple of numbers: the values that units apply to."""
    if isinstance(value, tuple):
        return bool(value) and all(is_numeric(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reading_line(reading: Reading) -> str:
    """``M:OUTTMP  72.5 DegF`` or ``Z:NOSUCH  error: DPM_NO_SUCH_DEVICE: ...``."""
    if reading.value is None:
        return f"{reading.drf}  error: {describe_status(reading)}"
    units = f" {reading.units}" if reading.units and is_numeric(reading.value) else ""
    warning = f"  (warning: {describe_status(reading)})" if reading.status.is_warning else ""
    return f"{reading.drf}  {format_value(reading.value)}{units}{warning}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    return value


def reading_json(reading: Reading) -> str:
    """One JSON object per reading (bytes as base64)."""
    return json.dumps({
        "drf": reading.drf,
        "device": reading.device,
        "value": _jsonable(reading.value),
        "value_type": reading.value_type.value if reading.value_type else None,
        "units": reading.units,
        "timestamp": reading.timestamp.isoformat(),
        "cycle": reading.cycle,
        "status": {"facility": reading.status.facility, "error": reading.status.error,
                   "name": reading.status.name},
        "message": reading.message,
        "backend": reading.backend,
    })


def write_line(result: WriteResult) -> str:
    """``Z:ACLTST.SETTING@N  ok`` or ``... refused: DPM_PRIV: ...``."""
    if result.ok:
        return f"{result.drf}  ok"
    return f"{result.drf}  refused: {describe_status(result)}"
