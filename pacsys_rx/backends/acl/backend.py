"""ACL backend: one-shot reads through the ACL CGI (``acl.pl``) over HTTP(S), read-only.

``ACLScriptBackend`` holds what every ACL transport shares (planning, batching, the per-device
fallback when ACL aborts a batch at its first bad device, basic-status reads, ``execute``);
``ACLBackend`` runs the scripts as CGI GET requests through a ``requests`` session.

Threads: each backend owns a small pool of worker threads (``workers``, default 4, named
``pacsys-rx-acl-N``); every reading and every ``execute`` result is emitted on one of them.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import requests
from reactivex import Observable
from reactivex import abc as rxabc
from reactivex.disposable import Disposable
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

from pacsys_rx.backends.base import DEFAULT_TIMEOUT, Backend, Capability, OneShotSink, ReadRequest
from pacsys_rx.drf import DefaultEvent, parse_request
from pacsys_rx.errors import BackendUnavailable
from pacsys_rx.model import OK, Reading, TimedArray, ValueType
from pacsys_rx.model.reading import utc_now
from pacsys_rx.protocols.acl import (
    BACKEND_NAME,
    CGI_SEPARATOR,
    DEFAULT_URL,
    URL_ENV,
    BasicStatusRead,
    ReadCommand,
    Refused,
    basic_status_reading,
    batch_by_length,
    batch_lines,
    encode_command,
    encode_script,
    error_message,
    error_reading,
    error_status,
    plan_read,
    reading_from_line,
    split_lines,
    split_script,
)

DEFAULT_MAX_URL_LENGTH = 8000
"""Longest GET URL sent (servers typically refuse request lines near 8 KB)."""

DEFAULT_WORKERS = 4

__all__ = ["DEFAULT_MAX_URL_LENGTH", "DEFAULT_URL", "URL_ENV", "ACLBackend", "ACLScriptBackend",
           "ScriptFailed"]


class ScriptFailed(Exception):
    """The ACL interpreter itself failed (HTTP status >= 400, remote command error), not the script."""


class _Operation:
    """Cancellation flag of one read or execute, shared by its worker tasks."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()


class ACLScriptBackend(Backend):
    """Reads through an ACL interpreter that runs a script and returns its text output.

    Subclasses implement ``_run`` (one script, its output) and ``_batches`` (how commands are
    grouped into scripts).
    """

    capabilities = Capability.READ | Capability.BATCH | Capability.HISTORY

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, workers: int = DEFAULT_WORKERS,
                 scheduler: rxabc.SchedulerBase | None = None) -> None:
        super().__init__(timeout=timeout, scheduler=scheduler)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"pacsys-rx-{self.name}")

    # ------------------------------------------------------------------ transport hooks

    @abc.abstractmethod
    def _run(self, commands: Sequence[str]) -> str:
        """Run one script; its output text. Raises ``BackendUnavailable`` or ``ScriptFailed``."""

    @abc.abstractmethod
    def _batches(self, commands: Sequence[str]) -> list[list[int]]:
        """Indices of ``commands`` grouped into scripts; a group of one may still be too long."""

    @abc.abstractmethod
    def _too_long(self, command: str) -> str | None:
        """Why ``command`` alone cannot be sent, or None when it can."""

    def _close_transport(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------- execute

    def execute(self, script: str, timeout: float | None = None) -> Observable[str]:
        """Run raw ACL text (commands separated by ``;`` or line ends); emits the output text once.

        The text is returned verbatim: ACL reports script errors inside it (see
        ``pacsys_rx.protocols.acl.error_message``). An interpreter failure or a timeout is an
        Observable error (``BackendUnavailable``).
        """
        commands = split_script(script)
        if not commands:
            raise ValueError("the ACL script is empty")
        for command in commands:
            reason = self._too_long(command)
            if reason is not None:
                raise ValueError(reason)
        if len(self._batches(commands)) > 1:
            raise ValueError(f"the ACL script is too long for one {self.name} request")

        def start(_: Sequence[str], sink: OneShotSink) -> rxabc.DisposableBase:
            operation = _Operation()
            self._submit(sink, operation, lambda: sink.deliver(0, self._execute(commands)))
            return Disposable(operation.cancel)

        return self._one_shot([script], start, self._check_open, timeout, f"{self.name} execute")

    def _execute(self, commands: Sequence[str]) -> str:
        try:
            return self._run(commands)
        except ScriptFailed as failure:
            raise BackendUnavailable(str(failure)) from None

    # --------------------------------------------------------------------------- reads

    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        operation = _Operation()
        refused: list[tuple[int, Reading]] = []
        commands: list[tuple[ReadRequest, ReadCommand]] = []
        for request in requests:
            plan = plan_read(request.drf)
            if isinstance(plan, Refused):
                refused.append((request.index, error_reading(request.drf, plan.request.device, plan.message)))
            elif isinstance(plan, BasicStatusRead):
                self._submit(sink, operation, self._status_task(request, plan, sink))
            else:
                commands.append((request, plan))
        if refused:
            self._submit(sink, operation, lambda: _deliver_all(sink, refused))
        texts = [command.text for _, command in commands]
        for batch in self._batches(texts):
            items = [commands[i] for i in batch]
            self._submit(sink, operation, partial(self._read_batch, items, sink, operation))
        return Disposable(operation.cancel)

    def _start_history(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        """A logger DRF as ACL's ``logger_get`` (acl.md 8), its lines merged into one timed array."""
        operation = _Operation()
        request = requests[0]
        self._submit(sink, operation, lambda: sink.deliver(request.index, self._logger_get(request.drf)))
        return Disposable(operation.cancel)

    def _logger_get(self, drf: str) -> Reading:
        parsed = parse_request(drf)
        assert parsed.extra is not None
        name, *parameters = parsed.extra.text.split(":")
        device = dataclasses.replace(parsed, extra=None, event=DefaultEvent()).to_canonical()
        now = time.time() * 1000.0
        try:
            if name.upper() == "LOGGER":
                start, end, node = float(parameters[0]), float(parameters[1]), parameters[2:]
            elif name.upper() == "LOGGERDURATION":
                start, end, node = now - float(parameters[0]), now, parameters[1:]
            else:
                return error_reading(drf, parsed.device, "ACL's logger_get has no single-sample form")
        except (IndexError, ValueError):
            return error_reading(drf, parsed.device, f"malformed logger window in {drf!r}")
        window = f"/start=\"{_acl_time(start)}\"/end=\"{_acl_time(end)}\""
        command = (f"logger_get/date_format='utc_seconds'{window}"
                   + (f"/node={node[0]}" if node and node[0] else "") + f" {device}")
        try:
            output = self._run([command])
        except ScriptFailed as failure:
            return error_reading(drf, parsed.device, str(failure))
        return logged_reading(drf, parsed.device, split_lines(output))

    def _submit(self, sink: OneShotSink, operation: _Operation, task: Callable[[], None]) -> None:
        """Run ``task`` on the pool unless cancelled; any exception fails the whole operation."""

        def guarded() -> None:
            if operation.cancelled:
                return
            try:
                task()
            except Exception as error:
                sink.fail(error)

        self._pool.submit(guarded)

    def _read_batch(self, items: Sequence[tuple[ReadRequest, ReadCommand]], sink: OneShotSink,
                    operation: _Operation) -> None:
        if len(items) > 1:
            try:
                lines = batch_lines(self._run([command.text for _, command in items]), len(items))
            except ScriptFailed:
                lines = None
            if lines is not None:
                stamp = utc_now()
                for (request, command), line in zip(items, lines, strict=True):
                    sink.deliver(request.index, reading_from_line(request.drf, command.request, line, stamp))
                return
            for item in items:
                self._submit(sink, operation, partial(self._deliver_one, item, sink))
            return
        self._deliver_one(items[0], sink)

    def _deliver_one(self, item: tuple[ReadRequest, ReadCommand], sink: OneShotSink) -> None:
        request, command = item
        sink.deliver(request.index, self._read_one(request.drf, command))

    def _read_one(self, drf: str, command: ReadCommand) -> Reading:
        reason = self._too_long(command.text)
        if reason is not None:
            return error_reading(drf, command.request.device, reason)
        try:
            lines = split_lines(self._run([command.text]))
        except ScriptFailed as failure:
            return error_reading(drf, command.request.device, str(failure))
        return reading_from_line(drf, command.request, lines[0] if lines else "")

    def _status_task(self, request: ReadRequest, plan: BasicStatusRead,
                     sink: OneShotSink) -> Callable[[], None]:
        def read_status() -> None:
            answers: Iterator[str] = (self._run([command.text]) for command in plan.commands)
            try:
                reading = basic_status_reading(request.drf, plan, answers)
            except ScriptFailed as failure:
                reading = error_reading(request.drf, plan.request.device, str(failure))
            sink.deliver(request.index, reading)

        return read_status


def _acl_time(epoch_ms: float) -> str:
    """Epoch milliseconds as the UTC text ``logger_get`` reads (``YYYY-MM-DD HH:MM:SS.fff``)."""
    when = datetime.fromtimestamp(epoch_ms / 1000.0, timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def logged_reading(drf: str, device: str, lines: Sequence[str]) -> Reading:
    """``logger_get`` output in ``utc_seconds`` form (``<seconds> <value>...`` per line) as one
    TIMED_SCALAR_ARRAY reading; an error line becomes an error reading with its status."""
    data: list[Any] = []
    micros: list[int] = []
    for line in lines:
        if error_message(line) is not None:
            return error_reading(drf, device, line.strip(), error_status(line))
        tokens = line.split()
        try:
            values = tuple(float(token) for token in tokens[1:])
            micros.append(round(float(tokens[0]) * 1_000_000))
        except (IndexError, ValueError):
            return error_reading(drf, device, f"unreadable logger_get line {line!r}")
        data.append(values[0] if len(values) == 1 else values)
    stamp = datetime.fromtimestamp(micros[0] / 1e6, timezone.utc) if micros else utc_now()
    return Reading(drf, device, TimedArray(tuple(data), tuple(micros)), ValueType.TIMED_SCALAR_ARRAY, None,
                   stamp, None, OK, BACKEND_NAME)


def _deliver_all(sink: OneShotSink, readings: Sequence[tuple[int, Reading]]) -> None:
    for index, reading in readings:
        sink.deliver(index, reading)


class ACLBackend(ACLScriptBackend):
    """ACL through the CGI: ``prx.acl(base_url=None, verify=True, timeout=5.0, ...)``.

    ``base_url`` defaults to ``$PACSYS_ACL_URL``, then the production CGI. ``verify`` is passed to
    ``requests`` (False, True, or a CA bundle path). ``timeout`` bounds each HTTP request and each
    Observable (``BackendUnavailable`` when it passes). A batch becomes as few GET requests as fit
    in ``max_url_length`` characters each.
    """

    name = "acl"

    def __init__(self, base_url: str | None = None, *, verify: bool | str = True,
                 timeout: float = DEFAULT_TIMEOUT, max_url_length: int = DEFAULT_MAX_URL_LENGTH,
                 workers: int = DEFAULT_WORKERS, session: requests.Session | None = None,
                 scheduler: rxabc.SchedulerBase | None = None) -> None:
        if base_url is not None and not isinstance(base_url, str):
            raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
        url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"the ACL URL must be http(s)://host/path without a query, got {url!r}")
        if not isinstance(max_url_length, int) or max_url_length < len(url) + 32:
            raise ValueError(f"max_url_length {max_url_length!r} leaves no room for a command after {url}")
        super().__init__(timeout=timeout, workers=workers, scheduler=scheduler)
        self.base_url = url
        self.max_url_length = max_url_length
        self._path = parts.path or "/"
        self._session = session or requests.Session()
        self._session.verify = verify
        adapter = _VerbatimTargetAdapter(pool_maxsize=workers)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def _close_transport(self) -> None:
        super()._close_transport()
        self._session.close()

    def _batches(self, commands: Sequence[str]) -> list[list[int]]:
        return batch_by_length([len(encode_command(c)) for c in commands],
                               overhead=len(self.base_url) + len("?acl="),
                               separator=len(CGI_SEPARATOR), limit=self.max_url_length)

    def _too_long(self, command: str) -> str | None:
        length = len(self.base_url) + len("?acl=") + len(encode_command(command))
        if length <= self.max_url_length:
            return None
        return f"ACL request too long: a {length}-character URL exceeds the limit of {self.max_url_length}"

    def url_for(self, commands: Sequence[str]) -> str:
        """The exact URL that runs ``commands`` (what goes on the wire)."""
        return f"{self.base_url}?acl={encode_script(commands)}"

    def _run(self, commands: Sequence[str]) -> str:
        query = f"?acl={encode_script(commands)}"
        url = self.base_url + query
        target = self._path + query
        prepared = self._session.prepare_request(
            requests.Request("GET", self.base_url, headers={_RAW_TARGET: target}))
        try:
            response = self._session.send(prepared, timeout=self.timeout)
        except requests.Timeout:
            raise BackendUnavailable(f"ACL request timed out after {self.timeout:g}s ({url})") from None
        except requests.RequestException as error:
            raise BackendUnavailable(f"ACL request failed ({url}): {error}") from None
        if response.status_code >= 400:
            raise ScriptFailed(f"ACL request failed ({url}): HTTP {response.status_code}")
        return response.content.decode("utf-8", errors="replace")


# ----------------------------------------------------------------- verbatim request targets
#
# urllib3 percent-encodes '\', '[', ']', '{', '}', '|' and '^' in a request target, and the CGI
# decodes none of them. The adapter below passes the target built by ACLBackend in an internal
# header; the connection classes send it instead of urllib3's re-encoded one and drop the header.

_RAW_TARGET = "X-Pacsys-Raw-Target"


def _verbatim(url: str, headers: Mapping[str, str] | None) -> tuple[str, Mapping[str, str] | None]:
    """The request target to send and the headers without the internal one."""
    if headers is None or _RAW_TARGET not in headers:
        return url, headers
    remaining = {k: v for k, v in headers.items() if k.lower() != _RAW_TARGET.lower()}
    target = headers[_RAW_TARGET]
    if url.startswith("/"):
        return target, remaining
    origin_end = url.find("/", url.index("//") + 2)
    return (url if origin_end < 0 else url[:origin_end]) + target, remaining


class _VerbatimHTTPConnection(HTTPConnection):
    def request(self, method: str, url: str, body: Any = None,  # type: ignore[override]
                headers: Mapping[str, str] | None = None, **options: Any) -> None:
        target, remaining = _verbatim(url, headers)
        super().request(method, target, body, remaining, **options)


class _VerbatimHTTPSConnection(HTTPSConnection):
    def request(self, method: str, url: str, body: Any = None,  # type: ignore[override]
                headers: Mapping[str, str] | None = None, **options: Any) -> None:
        target, remaining = _verbatim(url, headers)
        super().request(method, target, body, remaining, **options)


class _VerbatimHTTPPool(HTTPConnectionPool):
    ConnectionCls = _VerbatimHTTPConnection


class _VerbatimHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _VerbatimHTTPSConnection


_VERBATIM_POOLS = {"http": _VerbatimHTTPPool, "https": _VerbatimHTTPSPool}


class _VerbatimTargetAdapter(HTTPAdapter):
    """A requests adapter whose connections send ``X-Pacsys-Raw-Target`` as the request target."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _use_verbatim_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _use_verbatim_pools(manager)
        return manager


def _use_verbatim_pools(manager: PoolManager) -> None:
    if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:
        manager.pool_classes_by_scheme = _VERBATIM_POOLS
