"""The sans-I/O ACL text layer: commands from DRFs, CGI encoding and decoding, response parsing."""

from __future__ import annotations

import pytest

from pacsys_rx.drf import Field, parse_request
from pacsys_rx.errors import ProtocolError
from pacsys_rx.model import AcnetStatus, BasicStatus, ValueType
from pacsys_rx.protocols import acl
from pacsys_rx.protocols.acl import (
    BasicStatusRead,
    ReadCommand,
    Refused,
    basic_status_reading,
    batch_by_length,
    batch_lines,
    decode_query,
    encode_command,
    encode_script,
    error_message,
    error_status,
    parse_command,
    parse_raw,
    parse_value,
    plan_read,
    reading_from_line,
    split_script,
)


def query(*drfs: str) -> str:
    """The ``acl=`` value a batch of DRFs is sent as."""
    commands = []
    for drf in drfs:
        plan = plan_read(drf)
        assert isinstance(plan, ReadCommand)
        commands.append(plan.text)
    return encode_script(commands)


def read(drf: str, line: str):
    return reading_from_line(drf, parse_request(drf), line)


# ------------------------------------------------------------------- DRF -> command (acl.md 4)


@pytest.mark.parametrize(("drfs", "expected"), [
    (["M:OUTTMP"], "read+M:OUTTMP"),
    (["M:OUTTMP", "G:AMANDA"], "read+M:OUTTMP\\;read+G:AMANDA"),
    (["M:OUTTMP.RAW"], "read+M:OUTTMP.RAW/raw"),
    (["M:OUTTMP@e,02"], "read/pendwait+M:OUTTMP.READING/event='e,02'"),
    (["M:OUTTMP.RAW@e,0f"], "read/pendwait+M:OUTTMP.READING.RAW/raw/event='e,0f'"),
    (["M:OUTTMP@I"], "read+M:OUTTMP.READING"),
    (["M~OUTTMP"], "read+M:OUTTMP.DESCRIPTION"),
    (["M_OUTTMP"], "read+M:OUTTMP.SETTING"),
    (["Z&ACLTST"], "read+Z:ACLTST.CONTROL"),
    (["Z@ACLTST.MAX"], "read+Z:ACLTST.ANALOG.MAX"),
    (["N@H801.RAW"], "read+N:H801.ANALOG.RAW/raw"),
    (["N$H801"], "read+N:H801.DIGITAL"),
    (["B:IRMS06[0:3]"], "read+B:IRMS06[0:3]"),
])
def test_spec_mapping_examples(drfs: list[str], expected: str) -> None:
    assert query(*drfs) == expected


@pytest.mark.parametrize(("drf", "text"), [
    ("m:outtmp", "read m:outtmp"),
    ("M:OUTTMP{0:4}", "read M:OUTTMP{0:4}"),
    ("B:IRMS06[]", "read B:IRMS06[]"),
    ("M:OUTTMP.READING", "read M:OUTTMP.READING"),
    ("M:OUTTMP.PRIMARY", "read M:OUTTMP.PRIMARY"),
    ("M?OUTTMP", "read M:OUTTMP.READING"),
    ("M:OUTTMP@U", "read M:OUTTMP.READING"),
    ("M:OUTTMP@N", "read M:OUTTMP.READING"),
    ("M:OUTTMP@S,G:AMANDA,1,0,=", "read M:OUTTMP.READING"),
    ("M:OUTTMP[0:3]@E,02,H,100", "read/pendwait M:OUTTMP.READING[0:3]/event='E,02,H,100'"),
    ("M:OUTTMP.SETTING[2]", "read M:OUTTMP.SETTING[2]"),
    ("M_OUTTMP.RAW@e,02", "read/pendwait M:OUTTMP.SETTING.RAW/raw/event='e,02'"),
    ("Z@ACLTST", "read Z:ACLTST.ANALOG"),
    ("Z:ACLTST.ANALOG.MIN", "read Z:ACLTST.ANALOG.MIN"),
    ("N$H801.MASK", "read N:H801.DIGITAL.MASK"),
    ("N|LGXS.ON", "read N:LGXS.STATUS.ON"),
    ("N|LGXS.RAW", "read N:LGXS.STATUS.RAW/raw"),
    ("N|LGXS.TEXT", "read N:LGXS.STATUS.TEXT"),
    ("M^OUTTMP", "read M:OUTTMP.INDEX"),
    ("M#OUTTMP", "read M:OUTTMP.LONG_NAME"),
    ("M!OUTTMP", "read M:OUTTMP.ALARM_LIST_NAME"),
    ("M:OUTTMP.DESCRIPTION", "read M:OUTTMP.DESCRIPTION"),
])
def test_command_for_every_drf_shape(drf: str, text: str) -> None:
    plan = plan_read(drf)
    assert isinstance(plan, ReadCommand)
    assert plan.text == text


@pytest.mark.parametrize("drf", ["N|LGXS", "Z:ACLTST.STATUS", "N|LGXS.ALL", "N|LGXS[0:2]"])
def test_basic_status_becomes_five_attribute_reads(drf: str) -> None:
    plan = plan_read(drf)
    assert isinstance(plan, BasicStatusRead)
    device = plan.request.device
    assert [c.text for c in plan.commands] == [
        f"read {device}.STATUS.{attribute}" for attribute in ("ON", "READY", "REMOTE", "POSITIVE", "RAMP")]


@pytest.mark.parametrize(("drf", "message"), [
    ("M:OUTTMP@p,1000", "ACL does not support periodic/streaming events"),
    ("M:OUTTMP@Q,500", "ACL does not support periodic/streaming events"),
    ("M:OUTTMP<-LOGGER:1000:2000", "ACL does not support the <-LOGGER data source"),
    ("M:OUTTMP@p,1000<-FTP", "ACL does not support the <-FTP data source"),
    ("XF:31IDA-OP{Tbl-Ax:X1}Mtr.VAL", "ACL reads ACNET devices only"),
])
def test_refused_requests(drf: str, message: str) -> None:
    plan = plan_read(drf)
    assert isinstance(plan, Refused)
    assert plan.message == message


# ---------------------------------------------------------------------------- CGI encoding


def test_only_blanks_and_double_quotes_are_encoded() -> None:
    text = "logger_get/date_format='utc_seconds'/start=\"2024-01-01 00:00:00\" M:OUTTMP[0:1]{2:3}|$@~^.,_-"
    assert encode_command(text) == (
        "logger_get/date_format='utc_seconds'/start=%222024-01-01+00:00:00%22+M:OUTTMP[0:1]{2:3}|$@~^.,_-")


@pytest.mark.parametrize("text", ["read A#B", "read A&B", "read 1+1", "read 1%", "read \u00e9", "read a\tb"])
def test_text_the_cgi_cannot_receive_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="cannot receive"):
        encode_command(text)


def test_spec_example_26_logger_get_url() -> None:
    script = ("logger_get/date_format='utc_seconds'/start=\"2024-01-01 00:00:00\"/end=\"2024-01-01 00:01:00\""
              " M:OUTTMP")
    assert encode_script(split_script(script)) == (
        "logger_get/date_format='utc_seconds'/start=%222024-01-01+00:00:00%22/end=%222024-01-01+00:01:00%22"
        "+M:OUTTMP")


def test_spec_example_23_device_list_script() -> None:
    script = ("device_list/create devs devices='M:OUTTMP,G:AMANDA';"
              " read_list/no_name/no_units device_list=devs")
    assert encode_script(split_script(script)) == (
        "device_list/create+devs+devices='M:OUTTMP,G:AMANDA'\\;read_list/no_name/no_units+device_list=devs")


@pytest.mark.parametrize(("raw", "script"), [
    ("read+M:OUTTMP", "read M:OUTTMP"),
    ("read%20M:OUTTMP", "read M:OUTTMP"),
    ("read+M:OUTTMP/event=%27e,02%27", "read M:OUTTMP/event='e,02'"),
    ("x/start=%222024-01-01+00:00:00%22", 'x/start="2024-01-01 00:00:00"'),
    ("read+M%3AOUTTMP", "read M%3AOUTTMP"),
    ("read+M%3FOUTTMP\\;read+G:AMANDA", "read M%3FOUTTMP\\;read G:AMANDA"),
    ("read+B:X%5B0%5D", "read B:X%5B0%5D"),
])
def test_cgi_decodes_only_plus_and_three_escapes(raw: str, script: str) -> None:
    assert decode_query(f"acl={raw}") == script
    assert decode_query(f"other=1&acl={raw}") == script


def test_query_without_acl_parameter() -> None:
    assert decode_query("x=read+M:OUTTMP") is None


# ----------------------------------------------------------------------------- script syntax


def test_split_script_at_separators_outside_quotes() -> None:
    assert split_script("read A\\;read B;read C\nread D/event='e,02;x'; ;") == [
        "read A", "read B", "read C", "read D/event='e,02;x'"]


def test_parse_command_words_and_qualifiers() -> None:
    command = parse_command("read/pendwait M:OUTTMP.RAW/raw/event='e,02,e,500'")
    assert command.verb.text == "read" and command.verb.qualifier("pendwait") == ""
    (device,) = command.arguments
    assert device.text == "M:OUTTMP.RAW"
    assert device.qualifiers == (("raw", None), ("event", "e,02,e,500"))
    quoted = parse_command('logger_get/start="2024-01-01 00:00:00" M:OUTTMP devices=\'A,B\'')
    assert quoted.verb.qualifier("start") == "2024-01-01 00:00:00"
    assert quoted.arguments[1].keyword() == ("devices", "A,B")
    assert quoted.verb.qualifier("end") is None


def test_unbalanced_quote_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_command("read M:OUTTMP/event='e,02")


# ----------------------------------------------------------------------------- URL batching


def test_batches_never_exceed_the_limit() -> None:
    base = "https://www-bd.fnal.gov/cgi-bin/acl.pl"
    commands = [f"read Z:DEV{i:04d}" for i in range(500)]
    limit = 1000
    batches = batch_by_length([len(encode_command(c)) for c in commands], len(base) + 5, 2, limit)
    assert [i for batch in batches for i in batch] == list(range(500))
    for batch in batches:
        url = f"{base}?acl={encode_script(commands[i] for i in batch)}"
        assert len(url) <= limit
    assert len(batches) > 1
    merged = [batches[i] + batches[i + 1][:1] for i in range(len(batches) - 1)]
    for batch in merged:
        assert len(f"{base}?acl={encode_script(commands[i] for i in batch)}") > limit


def test_command_longer_than_the_limit_is_alone() -> None:
    assert batch_by_length([10, 500, 10, 10], overhead=50, separator=2, limit=100) == [[0], [1], [2, 3]]


# --------------------------------------------------------------------------- error lines


@pytest.mark.parametrize(("line", "status"), [
    ("Invalid device name (Z:BAD) in read device command at line 0 - DIO_NO_SUCH", AcnetStatus(14, -17)),
    ("Invalid device name (Z:NOTFND) in read device command at line 1 - DBM_NOREC", AcnetStatus(16, -1)),
    ("Invalid read value variable (G:AMANDA) specified in read_device command at line 1 - CLIB_SYNTAX",
     AcnetStatus(7, -1)),
    ("Error determining status text in read device command at line 1 - Z:ACLTST DIO_NOATT",
     AcnetStatus(14, -6)),
    ("Error in read device command - DIO_NOSCALE", AcnetStatus(14, -7)),
    ("Invalid device name (Z:BAD) - DIO_NO_SUCH", AcnetStatus(14, -17)),
    ("Something failed - ZZZ_UNKNOWN_NAME", AcnetStatus(0, -1)),
])
def test_error_lines(line: str, status: AcnetStatus) -> None:
    assert error_message(line) == line
    assert error_status(line) == status


def test_bang_error_line() -> None:
    assert error_message("! Device not found") == "Device not found"
    assert error_status("! Device not found") == AcnetStatus(0, -1)


@pytest.mark.parametrize("line", [
    "M:FOO = Temperature - external sensor",
    "M:X = MODE - MAIN_INJ",
    "M:OUTTMP       =  72.5 DegF",
    "Some text - lower_case",
    "Some text - NOUNDERSCORE",
    "no separator DIO_NO_SUCH",
    "  12.68",
])
def test_value_lines_are_not_errors(line: str) -> None:
    assert error_message(line) is None


# ------------------------------------------------------------------- spec examples (acl.md 9)


@pytest.mark.parametrize(("drf", "line", "value", "value_type"), [
    ("M:OUTTMP", "M:OUTTMP       =  72.5 DegF", 72.5, ValueType.SCALAR),
    ("G:AMANDA", "G:AMANDA       =  66", 66.0, ValueType.SCALAR),
    ("M~OUTTMP", "M:OUTTMP = Outdoor Temperature", "Outdoor Temperature", ValueType.TEXT),
    ("M:OUTTMP.DESCRIPTION", "M:OUTTMP = Outdoor Temperature", "Outdoor Temperature", ValueType.TEXT),
    ("Z@ACLTST.MAX", "Z:ACLTST alarm maximum = 50 blip", 50.0, ValueType.SCALAR),
    ("Z:ACLTST.ANALOG.MIN", "Z:ACLTST alarm minimum = -4.007 DegF", -4.007, ValueType.SCALAR),
    ("M:OUTTMP.RAW", "M:OUTTMP       = 2C9F", bytes.fromhex("9F2C"), ValueType.RAW),
    ("Z:ACLTST.RAW", "Z:ACLTST       = 000042F0", bytes.fromhex("F0420000"), ValueType.RAW),
    ("N@H801.RAW", "N:H801 = C220 0000E7D8 0000F4A4 00 01 00 00 0000 0002 0000",
     bytes.fromhex("20C2D8E70000A4F40000000100000000" "02000000"), ValueType.RAW),
    ("N:LGXS.STATUS.ON", "N:LGXS is on = False", False, ValueType.SCALAR),
    ("N:LGXS.STATUS.READY", "N:LGXS is ready = False", False, ValueType.SCALAR),
    ("N:LGXS.STATUS.REMOTE", "N:LGXS is remote = True", True, ValueType.SCALAR),
    ("N:LGXS.STATUS.POSITIVE", "N:LGXS is positive = True", True, ValueType.SCALAR),
    ("N:LGXS.STATUS.RAMP", "N:LGXS is ramping = False", False, ValueType.SCALAR),
    ("M:OUTTMP@e,02", "M:OUTTMP       =  72.5 DegF", 72.5, ValueType.SCALAR),
    ("M:OUTTMP.RAW", "M:OUTTMP = 0x42900000", bytes.fromhex("00009042"), ValueType.RAW),
    ("M:FOO", "M:FOO = Temperature - external sensor", "Temperature - external sensor", ValueType.TEXT),
])
def test_spec_value_examples(drf: str, line: str, value: object, value_type: ValueType) -> None:
    reading = read(drf, line)
    assert reading.ok and reading.value == value and reading.value_type is value_type
    assert type(reading.value) is type(value)
    assert reading.backend == "acl" and reading.drf == drf and reading.cycle is None and reading.meta is None
    assert reading.timestamp.tzinfo is not None


def test_spec_example_16_and_25_error_readings() -> None:
    line = "Invalid device name (Z:BAD) in read device command at line 0 - DIO_NO_SUCH"
    reading = read("Z:BAD", line)
    assert reading.is_error and reading.value is None and reading.message == line
    assert reading.status.name == "DIO_NO_SUCH" and reading.device == "Z:BAD"
    syntax = "Invalid read value variable (G:AMANDA) specified in read_device command at line 1 - CLIB_SYNTAX"
    assert read("G:AMANDA", syntax).message == syntax


def test_spec_example_3_batch_and_18_19_batch_rejection() -> None:
    assert batch_lines("M:OUTTMP       =  72.5 DegF\nG:AMANDA       =  66\n", 2) == [
        "M:OUTTMP       =  72.5 DegF", "G:AMANDA       =  66"]
    assert batch_lines("Invalid device name (Z:BAD) - DIO_NO_SUCH", 3) is None
    assert batch_lines("M:OUTTMP       =  72.5 DegF", 2) is None
    assert batch_lines("A = 1\n! broken", 2) is None


def status_plan(drf: str) -> BasicStatusRead:
    plan = plan_read(drf)
    assert isinstance(plan, BasicStatusRead)
    return plan


def test_spec_example_14_basic_status() -> None:
    answers = ["N:LGXS is on = False", "N:LGXS is ready = False", "N:LGXS is remote = True",
               "N:LGXS is positive = True", "N:LGXS is ramping = False"]
    reading = basic_status_reading("N|LGXS", status_plan("N|LGXS"), iter(answers))
    assert reading.value_type is ValueType.BASIC_STATUS
    assert reading.value == BasicStatus(on=False, ready=False, remote=True, positive=True, ramp=False)
    assert isinstance(reading.value, BasicStatus)
    assert reading.value.to_dict() == {"on": False, "ready": False, "remote": True, "positive": True,
                                       "ramp": False}


def test_spec_example_15_missing_attribute_is_left_out() -> None:
    noatt = "Error determining status text in read device command at line 1 - Z:ACLTST DIO_NOATT"
    answers = ["Z:ACLTST is on = False", "Z:ACLTST is ready = True", noatt, "Z:ACLTST is positive = False",
               "Z:ACLTST is ramping = False"]
    reading = basic_status_reading("Z:ACLTST.STATUS", status_plan("Z:ACLTST.STATUS"), iter(answers))
    assert isinstance(reading.value, BasicStatus)
    assert reading.value.to_dict() == {"on": False, "ready": True, "positive": False, "ramp": False}


def test_spec_example_17_status_fails_at_once() -> None:
    pulled: list[str] = []
    failure = "Invalid device name (Z:NOTFND) in read device command at line 1 - DBM_NOREC"

    def answers():
        for answer in [failure, "x = True", "x = True", "x = True", "x = True"]:
            pulled.append(answer)
            yield answer

    reading = basic_status_reading("Z:NOTFND.STATUS", status_plan("Z:NOTFND.STATUS"), answers())
    assert reading.is_error and reading.message == failure and pulled == [failure]


def test_status_attribute_must_be_true_or_false() -> None:
    reading = read("N:LGXS.STATUS.ON", "N:LGXS is on = Yes")
    assert reading.is_error and "neither True nor False" in (reading.message or "")
    with pytest.raises(ProtocolError):
        parse_value("N:LGXS is on = 1", parse_request("N:LGXS.STATUS.ON"))


# ---------------------------------------------------------------------- value parsing rules


@pytest.mark.parametrize(("line", "value", "value_type", "units"), [
    ("B:IRMS06 = 45  2.2  2  102.81933", (45.0, 2.2, 2.0, 102.81933), ValueType.SCALAR_ARRAY, None),
    ("B:IRMS06 = 45  2.2  3.0 blip", (45.0, 2.2, 3.0), ValueType.SCALAR_ARRAY, "blip"),
    ("M:OUTTMP = 72.5 DegF", 72.5, ValueType.SCALAR, "DegF"),
    ("M:OUTTMP = 1.23e-4", 1.23e-4, ValueType.SCALAR, None),
    ("M:OUTTMP = -4.007", -4.007, ValueType.SCALAR, None),
    ("M:X = 1 of 2", "1 of 2", ValueType.TEXT, None),
    ("M:X = MODE - MAIN_INJ", "MODE - MAIN_INJ", ValueType.TEXT, None),
    ("  12.68", 12.68, ValueType.SCALAR, None),
    ("M:X =", "M:X =", ValueType.TEXT, None),
    ("M:X = hello", "hello", ValueType.TEXT, None),
])
def test_value_rules(line: str, value: object, value_type: ValueType, units: str | None) -> None:
    assert parse_value(line, parse_request("M:X")) == (value, value_type, units)


def test_description_is_never_a_number() -> None:
    assert parse_value("M:X = 42", parse_request("M~X")) == ("42", ValueType.TEXT, None)


@pytest.mark.parametrize(("text", "data"), [
    ("", b""),
    ("ABC", bytes.fromhex("BC0A")),
    ("0xFF 12 DegF", bytes.fromhex("FF12")),
    ("12 zz 34", bytes.fromhex("12")),
])
def test_raw_parsing(text: str, data: bytes) -> None:
    assert parse_raw(text) == data


def test_raw_without_hex_is_malformed() -> None:
    with pytest.raises(ProtocolError, match="No hex data"):
        parse_raw("DegF")
    reading = read("M:OUTTMP.RAW", "M:OUTTMP = nothing")
    assert reading.is_error and "No hex data" in (reading.message or "")


def test_empty_answer_is_an_error_reading() -> None:
    reading = read("M:OUTTMP", "")
    assert reading.is_error and reading.message == "Empty response from ACL"


# ---------------------------------------------------------------------- server formatting


@pytest.mark.parametrize(("line", "expected"), [
    (acl.format_line("M:OUTTMP", acl.number_text([72.5], "DegF")), "M:OUTTMP       =  72.5 DegF"),
    (acl.format_line("G:AMANDA", acl.number_text([66.0], None)), "G:AMANDA       =  66"),
    (acl.format_line("M:OUTTMP", acl.raw_text([bytes.fromhex("9F2C")])), "M:OUTTMP       = 2C9F"),
    (acl.format_line("Z:ACLTST", acl.raw_text([bytes.fromhex("F0420000")])), "Z:ACLTST       = 000042F0"),
    (acl.format_line(acl.alarm_label("Z:ACLTST", Field.MAX), acl.number_text([50.0], "blip", False), False),
     "Z:ACLTST alarm maximum = 50 blip"),
    (acl.format_line(acl.alarm_label("Z:ACLTST", Field.MIN), acl.number_text([-4.007], "DegF", False), False),
     "Z:ACLTST alarm minimum = -4.007 DegF"),
    (acl.format_line(acl.status_label("N:LGXS", Field.RAMP), "False", False), "N:LGXS is ramping = False"),
    (acl.format_line("M:OUTTMP", "Outdoor Temperature", False), "M:OUTTMP = Outdoor Temperature"),
    (acl.format_error_line("Invalid device name (Z:BAD)", "read device", 0, "DIO_NO_SUCH"),
     "Invalid device name (Z:BAD) in read device command at line 0 - DIO_NO_SUCH"),
    (acl.format_error_line("Error determining status text", "read device", 1, "DIO_NOATT", "Z:ACLTST"),
     "Error determining status text in read device command at line 1 - Z:ACLTST DIO_NOATT"),
])
def test_server_lines_match_the_spec(line: str, expected: str) -> None:
    assert line == expected


def test_formatted_lines_parse_back() -> None:
    line = acl.format_line("B:IRMS06", acl.number_text([45.0, 2.2, -3.5], "mm"))
    expected = ((45.0, 2.2, -3.5), ValueType.SCALAR_ARRAY, "mm")
    assert parse_value(line, parse_request("B:IRMS06[0:2]")) == expected
    assert acl.format_number(1e-5) == "1e-05" and acl.format_number(float("nan")) == "nan"
