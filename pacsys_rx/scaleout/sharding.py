"""Static shards: which worker owns a device, from a stable hash of its canonical name."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_ACNET_NAME = re.compile(r"^[A-Za-z][:_?&@$!~^|][A-Za-z0-9_:]+$")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, device: str) -> bool:
        """Whether ``device`` hashes to this shard."""
        return shard_of(device, self.count) == self.index


def canonical_device(name: str) -> str:
    """The name that is hashed: ACNET names upper-cased with ':' as second character
    (``m_outtmp`` -> ``M:OUTTMP``), any other name (an EPICS PV) unchanged; no DRF property or event."""
    name = name.strip()
    if _ACNET_NAME.match(name):
        upper = name.upper()
        return f"{upper[0]}:{upper[2:]}"
    return name


def shard_of(device: str, count: int) -> int:
    """``CRC-32(UTF-8 of the canonical device name) mod count``: the same on every machine and run."""
    if count < 1:
        raise ValueError(f"the shard count must be at least 1, got {count}")
    return zlib.crc32(canonical_device(device).encode()) % count


def parse_shard(text: str) -> Shard:
    """``"K/N"`` -> ``Shard(K, N)``; ValueError unless 0 <= K < N."""
    index, slash, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        raise ValueError(f"a shard is written K/N (e.g. 0/2), got {text!r}") from None
    if not slash or shard.count < 1 or not 0 <= shard.index < shard.count:
        raise ValueError(f"a shard K/N needs 0 <= K < N, got {text!r}")
    return shard
