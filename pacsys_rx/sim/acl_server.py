"""The simulator's ACL: an interpreter of ACL scripts over the device model, served as the ``acl.pl``
CGI over HTTP or HTTPS (acl.md 10). The ``acl`` command-line program (``acl_command``) runs the
same interpreter, so both print the same text.

The interpreter resolves every device of a script before running it: an unknown device anywhere
prints only its error line. At run time the first failing command prints its error line after the
output so far and ends the script.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import ipaddress
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pacsys_rx.drf import DataRequest, Extra, Field, Property, parse_request
from pacsys_rx.errors import DRFError, ProtocolError
from pacsys_rx.model import AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, TimedArray, ValueType
from pacsys_rx.protocols.acl import (
    CGI_PATH,
    STATUS_ATTRIBUTES,
    Command,
    alarm_label,
    decode_query,
    format_error_line,
    format_line,
    number_text,
    parse_command,
    raw_text,
    split_script,
    status_label,
)
from pacsys_rx.sim.logger import DataLogger
from pacsys_rx.sim.model import DeviceModel, Sample
from pacsys_rx.sim.server import SimContext, SimServer

ANALOG_BLOCK_FIELDS = (2, 4, 4, 1, 1, 1, 1, 2, 2, 2)
"""Byte sizes of the fields of a 20-byte alarm block, each printed as one raw hex number."""

DEFAULT_SERVER_URL_LIMIT = 8190
"""Longest request target the server accepts (longer ones get HTTP 414), like common web servers."""

_MAX_REQUEST_LINE = 65536
_ALARMS = (Property.ANALOG, Property.DIGITAL)


class ScriptError(Exception):
    """A command failed: ``line`` is the error line ACL prints before stopping."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


@dataclass(frozen=True)
class _Read:
    """A resolved ``read``: the request, the device text as written, and whether raw was asked."""

    request: DataRequest
    raw: bool


class ACLInterpreter:
    """Runs ACL scripts against a device model: ``read``, ``device_list/create``, ``read_list``,
    ``logger_get``."""

    def __init__(self, model: DeviceModel, clock: Callable[[], float] | None = None,
                 data_logger: DataLogger | None = None) -> None:
        self.model = model
        self.clock = clock or model.clock
        self.data_logger = data_logger or DataLogger(model)

    def run(self, script: str) -> str:
        """The output of ``script``; error lines are part of the output, as ACL prints them."""
        lists: dict[str, list[_Read]] = {}
        try:
            commands = split_script(script)
            steps = [self._compile(text, number, lists) for number, text in enumerate(commands, 1)]
        except ScriptError as error:
            return error.line + "\n"
        lines: list[str] = []
        try:
            for step in steps:
                step(lines)
        except ScriptError as error:
            lines.append(error.line)
        return "".join(line + "\n" for line in lines)

    # ---------------------------------------------------------------------- compiling

    def _compile(self, text: str, number: int, lists: dict[str, list[_Read]]) -> Callable[[list[str]], None]:
        """Check one command and resolve its devices (lists created so far are in ``lists``);
        the returned step runs it, appending its output lines."""
        try:
            command = parse_command(text)
        except ProtocolError:
            raise ScriptError(f"Invalid ACL command at line {number} - CLIB_SYNTAX") from None
        verb = command.verb.text.lower()
        if verb == "read":
            read = self._compile_read(command, number)
            return lambda lines: lines.append(self._read_line(read, number))
        if verb == "device_list":
            name, reads = self._compile_list(command, number)
            lists[name] = reads
            return lambda lines: None
        if verb == "read_list":
            return self._compile_read_list(command, number, lists)
        if verb == "logger_get":
            return self._compile_logger_get(command, number)
        raise ScriptError(f"Unknown command ({command.verb.text}) at line {number} - CLIB_SYNTAX")

    def _compile_read(self, command: Command, number: int) -> _Read:
        device = command.arguments[0].text if command.arguments else ""
        unknown = [name for name, _ in command.verb.qualifiers if name != "pendwait"]
        if len(command.arguments) != 1 or unknown:
            raise ScriptError(
                f"Invalid read value variable ({device}) specified in read_device command at line {number} "
                "- CLIB_SYNTAX"
            )
        word = command.arguments[0]
        if any(name not in ("raw", "event", "ftd") for name, _ in word.qualifiers):
            raise ScriptError(
                format_error_line(f"Invalid qualifier for ({device})", "read device", number, "CLIB_SYNTAX")
            )
        return _Read(self._resolve(device, "read device", number), word.qualifier("raw") is not None)

    def _compile_list(self, command: Command, number: int) -> tuple[str, list[_Read]]:
        keywords = dict(k for k in (w.keyword() for w in command.arguments) if k is not None)
        names = [w.text for w in command.arguments if w.keyword() is None]
        if command.verb.qualifier("create") is None or len(names) != 1 or "devices" not in keywords:
            raise ScriptError(f"Invalid device_list command at line {number} - CLIB_SYNTAX")
        devices = [d.strip() for d in keywords["devices"].split(",") if d.strip()]
        return names[0].lower(), [_Read(self._resolve(d, "device_list", number), False) for d in devices]

    def _compile_read_list(
        self, command: Command, number: int, lists: dict[str, list[_Read]]
    ) -> Callable[[list[str]], None]:
        keywords = dict(k for k in (w.keyword() for w in command.arguments) if k is not None)
        name = keywords.get("device_list", "").lower()
        if name not in lists:
            raise ScriptError(
                format_error_line(f"Invalid device list ({name})", "read_list", number, "DIO_NOLIST")
            )
        with_name = command.verb.qualifier("no_name") is None
        with_units = command.verb.qualifier("no_units") is None

        reads = lists[name]

        def run(lines: list[str]) -> None:
            lines.extend(self._read_line(read, number, with_name, with_units) for read in reads)

        return run

    def _compile_logger_get(self, command: Command, number: int) -> Callable[[list[str]], None]:
        """``logger_get/start=T/end=T[/node=N][/date_format='utc_seconds'] DEVICE`` (acl.md 8): one line
        per logged sample; times are read as UTC (``YYYY-MM-DD HH:MM:SS[.fff]`` or ``now``)."""
        verb = command.verb
        device = command.arguments[0].text if len(command.arguments) == 1 else ""
        known = {"start", "end", "node", "date_format"}
        if not device or any(name not in known for name, _ in verb.qualifiers):
            raise ScriptError(f"Invalid logger_get command at line {number} - CLIB_SYNTAX")
        request = self._resolve(device, "logger_get", number)
        try:
            start, end = (_acl_time(verb.qualifier(name), self.clock()) for name in ("start", "end"))
        except ValueError:
            raise ScriptError(
                format_error_line("Invalid time", "logger_get", number, "CLIB_SYNTAX", device)) from None
        node = verb.qualifier("node")
        extra = f"LOGGER:{start:.0f}:{end:.0f}" + (f":{node}" if node else "")
        request = dataclasses.replace(request, extra=Extra("LOGGER", extra))
        seconds = verb.qualifier("date_format") == "utc_seconds"

        def run(lines: list[str]) -> None:
            answer = self.data_logger.answer(request, self.clock())
            if isinstance(answer, AcnetStatus):
                raise ScriptError(format_error_line(
                    "Error", "logger_get", number, answer.name or "DIO_GENERIC_ERROR", request.device))
            for chunk in answer.chunks():
                value = chunk.value
                if isinstance(value, TimedArray):
                    lines.extend(f"{_logged_time(m, seconds)} {v!r}" for v, m in zip(
                        value.data, value.micros, strict=True))
                elif isinstance(value, tuple):
                    lines.append(f"{_logged_time(chunk.timestamp * 1000, seconds)} "
                                 + " ".join(repr(float(v)) for v in value))

        return run

    def _resolve(self, device: str, command: str, number: int) -> DataRequest:
        try:
            request = parse_request(device)
        except DRFError:
            raise ScriptError(
                f"Invalid read value variable ({device}) specified in read_device command at line {number} "
                "- CLIB_SYNTAX"
            ) from None
        if request.device not in self.model.devices:
            raise ScriptError(
                format_error_line(f"Invalid device name ({device})", command, number, "DIO_NO_SUCH")
            )
        return request

    # ---------------------------------------------------------------------- running

    def _read_line(self, read: _Read, number: int, with_name: bool = True, with_units: bool = True) -> str:
        request = read.request
        if read.raw and request.field is not Field.RAW:
            request = dataclasses.replace(request, field=Field.RAW)
        sample = self.model.read(request, self.clock())
        if not sample.ok:
            raise ScriptError(_runtime_error(request, sample.status, number))
        return self._format(request, sample, with_name, with_units)

    def _format(self, request: DataRequest, sample: Sample, with_name: bool, with_units: bool) -> str:
        device, value, field = request.device, sample.value, request.field
        units = sample.units if with_units else None
        if sample.value_type is ValueType.RAW and isinstance(value, bytes):
            label, text = device, raw_text(_split_raw(value, self._element_size(request)))
            padded = request.property in (Property.READING, Property.SETTING)
        elif request.property is Property.STATUS and field in STATUS_ATTRIBUTES:
            label, text, padded = status_label(device, field), str(bool(value)), False
        elif request.property in _ALARMS and field not in (None, Field.ALL, Field.TEXT):
            label, padded = alarm_label(device, field), False
            text = (
                number_text([value], units, sign_blank=False)
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else str(value)
            )
        elif isinstance(value, (bool, str, AnalogAlarm, DigitalAlarm, BasicStatus)):
            label, text, padded = device, _text(value), False
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            label, text, padded = device, ", ".join(str(v) for v in value), False
        elif isinstance(value, tuple):
            label, text, padded = device, number_text([float(v) for v in value], units), True
        elif isinstance(value, (int, float)):
            label, text, padded = device, number_text([float(value)], units), True
        else:
            label, text, padded = device, str(value), False
        if not with_name:
            return f" {text}"
        return format_line(label, text, padded)

    def _element_size(self, request: DataRequest) -> int | tuple[int, ...]:
        if request.property in _ALARMS:
            return ANALOG_BLOCK_FIELDS
        if request.property in (Property.STATUS, Property.BIT_STATUS):
            return 2
        spec = self.model.devices[request.device].spec
        values = spec.reading if request.property is Property.READING else spec.setting
        return 1 if values is None or values.is_text else values.scaling.raw_bytes


def _acl_time(text: str | None, now: float) -> float:
    """An ACL time qualifier as epoch ms (UTC); ValueError when missing or unreadable."""
    if text is None:
        raise ValueError("missing time")
    if text.strip().lower() == "now":
        return now
    when = datetime.datetime.fromisoformat(text.strip().replace("+", " "))
    return when.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0


def _logged_time(micros: int, seconds: bool) -> str:
    """A sample time as ``logger_get`` prints it: Unix seconds, or ``DD-Mon-YYYY HH:MM:SS.fff`` (UTC)."""
    if seconds:
        whole, rest = divmod(micros, 1_000_000)
        return f"{whole}.{rest // 1000:03d}" if rest else str(whole)
    when = datetime.datetime.fromtimestamp(micros / 1e6, datetime.timezone.utc)
    return when.strftime("%d-%b-%Y %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def _text(value: object) -> str:
    if isinstance(value, (AnalogAlarm, DigitalAlarm, BasicStatus)):
        return " ".join(f"{key}={item}" for key, item in value.to_dict().items())
    return str(value)


def _split_raw(data: bytes, size: int | tuple[int, ...]) -> list[bytes]:
    """Raw data cut into elements of ``size`` bytes, or into fields of the given sizes."""
    if isinstance(size, int):
        return [data[i : i + size] for i in range(0, len(data), size)]
    elements, offset = [], 0
    for width in size:
        elements.append(data[offset : offset + width])
        offset += width
    return [element for element in elements if element]


def _runtime_error(request: DataRequest, status: AcnetStatus, number: int) -> str:
    name = status.name or "DIO_GENERIC_ERROR"
    if status == AcnetStatus.named("DIO_NOATT"):
        return format_error_line("Error determining status text", "read device", number, name, request.device)
    return format_error_line("Error", "read device", number, name, request.device)


# ------------------------------------------------------------------------------ HTTP(S)


class ACLServer(SimServer):
    """The ``acl.pl`` CGI on the simulator loop; HTTPS with a generated certificate when ``tls``.

    The host names the server (``acl`` by default; another name lets a plain and a TLS server run
    side by side, e.g. ``Simulator(servers={"acl": ACLServer(), "acl_tls": ACLServer(tls=True)})``).

    ``tls`` defaults to the simulator's ``acl_tls`` setting (``--acl-tls``). ``ca_path`` (HTTPS
    only) is the PEM certificate of the generated CA that signed the server's
    certificate: pass it as ``verify=`` to trust the server explicitly. Fault switches: the
    ``SimServer`` hooks plus :meth:`set_http_status` (answer every request with 400/500/503...).
    """

    def __init__(self, tls: bool | None = None, url_limit: int = DEFAULT_SERVER_URL_LIMIT) -> None:
        self.tls = tls
        self.url_limit = url_limit
        self.ca_path: Path | None = None
        self._interpreter: ACLInterpreter | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._running = asyncio.Event()
        self._running.set()
        self._delay = 0.0
        self._corrupt = False
        self._http_status: int | None = None
        self._requests = 0
        self._certificates: tempfile.TemporaryDirectory[str] | None = None

    async def start(self, context: SimContext) -> str:
        self._interpreter = ACLInterpreter(context.model, data_logger=context.data_logger)
        if self.tls is None:
            self.tls = context.config.acl_tls
        host = context.config.host
        ssl_context = self._ssl_context(host) if self.tls else None
        self._server = await asyncio.start_server(
            self._serve, host, context.port(self.name), ssl=ssl_context, limit=_MAX_REQUEST_LINE
        )
        self.bound_port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.bound_port}{CGI_PATH}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self.drop_connections()
            await self._server.wait_closed()
            self._server = None

    def counters(self) -> dict[str, int]:
        return {"connections": len(self._writers), "requests": self._requests, "jobs": 0}

    async def drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def corrupt_next_frame(self) -> None:
        self._corrupt = True

    def set_reply_delay(self, seconds: float) -> None:
        self._delay = max(0.0, seconds)

    def set_http_status(self, status: int | None) -> None:
        """Answer every request with this HTTP status and an empty body (None: normal answers)."""
        self._http_status = status

    # -------------------------------------------------------------------- connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._answer_one(reader, writer):
                pass
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            ssl.SSLError,
        ):
            pass
        except asyncio.CancelledError:
            pass  # the loop is shutting down; Python 3.11's stream callback would log a traceback
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection should close."""
        request_line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not request_line:
            return False
        headers: dict[str, str] = {}
        while True:
            line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._requests += 1
        method, target, version = [*request_line.split(" "), "", ""][:3]
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        await self._running.wait()
        if self._delay:
            await asyncio.sleep(self._delay)
        status, body = self._respond(method, target)
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        if self._corrupt:
            self._corrupt = False
            head = "HTTP/1.1 2\x00\x00 CORRUPTED\r\n" + head.split("\r\n", 1)[1]
        writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
        await writer.drain()
        return keep_alive

    def _respond(self, method: str, target: str) -> tuple[str, bytes]:
        if self._http_status is not None:
            return f"{self._http_status} Fault injected", b""
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", b""
        if len(target) > self.url_limit:
            return "414 URI Too Long", b""
        parts = urlsplit(target)
        if not parts.path.endswith(CGI_PATH):
            return "404 Not Found", b""
        script = decode_query(parts.query)
        if script is None or self._interpreter is None:
            return "400 Bad Request", b""
        return "200 OK", self._interpreter.run(script).encode("utf-8")

    # ------------------------------------------------------------------------- TLS

    def _ssl_context(self, host: str) -> ssl.SSLContext:
        if self._certificates is None:
            self._certificates = tempfile.TemporaryDirectory(prefix="pacsys-rx-acl-tls-")
            make_certificates(Path(self._certificates.name), host)
        directory = Path(self._certificates.name)
        self.ca_path = directory / "ca.pem"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(directory / "server.pem", directory / "server.key")
        return context


def make_certificates(directory: Path, host: str) -> None:
    """Write ``ca.pem`` (a new CA) and ``server.pem``/``server.key`` (signed by it, valid for ``host``,
    ``localhost`` and 127.0.0.1), with the ``cryptography`` package or else the ``openssl`` command."""
    try:
        import cryptography  # noqa: F401
    except ModuleNotFoundError:
        _certificates_with_openssl(directory, host)
    else:
        _certificates_with_cryptography(directory, host)


def _names(host: str) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses the server certificate covers."""
    candidates = {host, "localhost", "127.0.0.1"}
    addresses, dns = [], []
    for name in sorted(candidates):
        try:
            addresses.append(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.append(name)
    return dns, addresses


def _certificates_with_cryptography(directory: Path, host: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2)
    ca_usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pacsys_rx simulator CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    dns, addresses = _names(host)
    san = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(server.public_bytes(pem))
    (directory / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _certificates_with_openssl(directory: Path, host: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("HTTPS needs the cryptography package or the openssl command")
    dns, addresses = _names(host)
    san = ",".join([f"DNS:{n}" for n in dns] + [f"IP:{a}" for a in addresses])
    (directory / "server.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )

    def run(*arguments: str) -> None:
        subprocess.run([openssl, *arguments], cwd=directory, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pacsys_rx simulator CA",
    )
    run(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        f"/CN={host}",
    )
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    )


SERVER = ACLServer
