"""Where a backend connects: explicit arguments, else environment variables, else built-in defaults."""

from __future__ import annotations

import os


def resolve_host(value: str | None, env: str, default: str) -> str:
    """``value``, else the non-blank environment variable ``env``, else ``default``; never empty."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"host must be a str, got {type(value).__name__}")
    host = value if value is not None else os.environ.get(env, "").strip() or default
    if not host:
        raise ValueError("host must not be empty")
    return host


def resolve_port(value: int | str | None, env: str, default: int) -> int:
    """``value``, else the non-blank environment variable ``env``, else ``default``, as a port 1..65535.

    A port that is not an integer (a bool or a float included) or is out of range raises ``ValueError``
    naming where it came from.
    """
    origin = "port"
    if value is None:
        text = os.environ.get(env, "").strip()
        value, origin = (text, env) if text else (default, origin)
    port: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        port = int(value)
    if port is None or not 1 <= port <= 65535:
        raise ValueError(f"{origin} must be an integer port 1..65535, got {value!r}")
    return port
