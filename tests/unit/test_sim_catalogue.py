"""Catalogue loading: the packaged default, replacement files (TOML and JSON), bank generation, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pacsys_rx.sim import CatalogueError, load_catalogue
from pacsys_rx.sim.catalogue import parse_catalogue

SPEC_DEVICES = [
    "M:OUTTMP",
    "G:AMANDA",
    "Z:ACLTST",
    *(f"Z:ACLTS{i}" for i in range(1, 10)),
    "N:I2B1RI",
    "B:IRMS06",
    "B:HS23T",
    "B:BOOSBP",
    "N:LGXS",
    "N:H801",
    "M:FOO",
]


def test_default_catalogue_has_the_spec_devices_and_the_bank() -> None:
    catalogue = load_catalogue()
    for name in SPEC_DEVICES:
        assert name in catalogue.devices, name
    bank = [name for name in catalogue.devices if name.startswith("Z:BANK")]
    assert len(bank) == 1000
    assert bank[0] == "Z:BANK000" and "Z:BANK999" in catalogue.devices
    assert catalogue.devices["Z:BANK007"].index == catalogue.devices["Z:BANK000"].index + 7
    assert {0x02, 0x0F, 0x8F}.issubset(catalogue.clock_events)
    assert catalogue.clock_events[0x0F].period_ms == pytest.approx(1000 / 15)


def test_default_catalogue_covers_every_kind_of_device() -> None:
    devices = load_catalogue().devices
    assert devices["B:IRMS06"].reading is not None and devices["B:IRMS06"].reading.length > 10
    assert devices["B:BOOSBP"].reading is not None and devices["B:BOOSBP"].reading.is_text
    assert devices["N:LGXS"].status is not None
    assert devices["N:H801"].analog_alarm is not None and devices["N:H801"].digital_alarm is not None


MINIMAL_TOML = """
[clock]
"0F" = { rate_hz = 15 }
[bank]
prefix = "T:B"
count = 12
first_index = 10
reading = { generator = { kind = "constant", value = 3.0 } }
[devices."Z:ONE"]
index = 1
reading = { units = "V", generator = { kind = "constant", value = 1.5 } }
"""


def test_replacement_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(MINIMAL_TOML)
    catalogue = load_catalogue(path)
    assert sorted(catalogue.devices)[:2] == ["T:B000", "T:B001"]
    assert len(catalogue.devices) == 13
    assert list(catalogue.clock_events) == [0x0F]


def test_replacement_json_file(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": {"Z:ONE": {"index": 1, "reading": {"text": "hi"}}}}))
    catalogue = load_catalogue(path)
    assert list(catalogue.devices) == ["Z:ONE"]
    assert 0x02 in catalogue.clock_events  # default clock when none is given


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"devices": {"Z:ONE": {"reading": {"text": "x"}}}}, "missing index"),
        ({"devices": {"z_one": {"index": 1}}}, "not canonical"),
        ({"devices": {"Z:ONE": {"index": 1, "colour": "red"}}}, "unknown key(s) colour"),
        (
            {"devices": {"Z:ONE": {"index": 1, "reading": {"generator": {"kind": "wobble"}}}}},
            "unknown generator kind",
        ),
        (
            {"devices": {"Z:ONE": {"index": 1, "reading": {"generator": {"kind": "sine", "period_ms": 0}}}}},
            "period_ms must be positive",
        ),
        (
            {"devices": {"Z:ONE": {"index": 1, "reading": {"generator": {"kind": "follow_setting"}}}}},
            "follow_setting needs",
        ),
        (
            {
                "devices": {
                    "Z:A": {"index": 1, "reading": {"text": "a"}},
                    "Z:B": {"index": 1, "reading": {"text": "b"}},
                }
            },
            "share index 1",
        ),
        ({"clock": {"XY": {"period_ms": 5}}}, "hexadecimal"),
        ({"clock": {"02": {"period_ms": 5, "rate_hz": 1}}}, "exactly one"),
        ({"devices": {"Z:ONE": {"index": 1, "analog_alarm": {"min": 0}}}}, "needs a numeric reading"),
    ],
)
def test_bad_catalogues_name_the_problem(document: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=r"cat\.toml") as info:
        parse_catalogue(document, "cat.toml")
    assert message in str(info.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[devices\n")
    with pytest.raises(CatalogueError, match="invalid TOML"):
        load_catalogue(broken)
    bad_json = tmp_path / "broken.json"
    bad_json.write_text("{")
    with pytest.raises(CatalogueError, match="invalid JSON"):
        load_catalogue(bad_json)
