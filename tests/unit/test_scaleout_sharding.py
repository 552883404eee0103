"""Stable shard hashing: CRC-32 of the canonical device name."""

from __future__ import annotations

import zlib

import pytest

from pacsys_rx.scaleout import Shard, canonical_device, parse_shard, shard_of


def test_shard_is_crc32_of_the_canonical_name():
    assert shard_of("Z:BANK000", 7) == zlib.crc32(b"Z:BANK000") % 7
    assert shard_of("z_bank000", 7) == shard_of("Z:BANK000", 7)


def test_known_values_do_not_change_between_releases():
    assert zlib.crc32(b"M:OUTTMP") == 0xD432746E
    assert shard_of("M:OUTTMP", 4) == 0xD432746E % 4 == 2


def test_epics_names_are_kept_as_written():
    assert canonical_device("ring:current") == "ring:current"
    assert canonical_device("IOC1:temp-probe") == "IOC1:temp-probe"


def test_shards_split_a_bank_roughly_evenly():
    counts = [0, 0]
    for i in range(1000):
        counts[shard_of(f"Z:BANK{i:03d}", 2)] += 1
    assert min(counts) > 400


def test_every_device_belongs_to_exactly_one_shard():
    shards = [Shard(k, 3) for k in range(3)]
    for i in range(100):
        assert sum(shard.owns(f"Z:BANK{i:03d}") for shard in shards) == 1


@pytest.mark.parametrize("text", ["2/2", "-1/2", "a/b", "1", "0/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(ValueError):
        parse_shard(text)


def test_parse_shard():
    assert parse_shard("1/4") == Shard(1, 4)
    assert str(Shard(1, 4)) == "1/4"
