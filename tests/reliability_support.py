"""Shared helpers of the reliability tests (``tests/test_reliability_*.py``).

- :class:`FaultProxy`: an HTTP/1.1 proxy on 127.0.0.1 in front of S3 (moto)
  that can answer 500, reset connections, cut answers short or stop
  listening, per request method and path; it records every request.
- :class:`ServeProcess`: ``toolkit serve`` in its own process (so it can be
  SIGKILLed), with its log lines readable by the test.
- :func:`write_ops_cc5` and :func:`apply_ops`: cc5 files made of explicit
  upserts and deletes, and the table they make when applied in order.
- :func:`query_store`, :func:`compare_tables`: a stopped service's store, read-only.
- :func:`wait_for`, :func:`percentile`: small utilities.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FaultProxy",
    "ProxiedRequest",
    "ServeProcess",
    "write_ops_cc5",
    "apply_ops",
    "query_store",
    "compare_tables",
    "wait_for",
    "percentile",
    "Op",
    "Tally",
]

_S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
)


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy saw and what it did with it."""

    method: str
    path: str
    action: str


class _Closed(Exception):
    """The peer closed the connection."""


class _Reader:
    """Buffered reads from a socket: up to a delimiter or an exact length."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise _Closed()
        self.buffer += data

    def until(self, delimiter: bytes, limit: int = 1 << 20) -> bytes:
        while delimiter not in self.buffer:
            if len(self.buffer) > limit:
                raise _Closed()
            self._fill()
        index = self.buffer.index(delimiter) + len(delimiter)
        data, self.buffer = self.buffer[:index], self.buffer[index:]
        return data

    def exactly(self, size: int) -> Iterable[bytes]:
        """Yield ``size`` bytes in pieces as they arrive."""
        while size > 0:
            if not self.buffer:
                self._fill()
            piece, self.buffer = self.buffer[:size], self.buffer[size:]
            size -= len(piece)
            yield piece

    def rest(self) -> Iterable[bytes]:
        """Everything until the peer closes."""
        if self.buffer:
            yield self.buffer
            self.buffer = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            yield data


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _relay_body(reader: _Reader, headers: Mapping[str, str], out: socket.socket | None,
                budget: list[int] | None = None) -> None:
    """Copy one message body (Content-Length or chunked) to ``out`` (None: drop it).

    ``budget`` (a one-item list) limits the bytes forwarded; at 0 the
    connection is cut (raises _Closed)."""
    def send(data: bytes) -> None:
        if out is None:
            return
        if budget is not None:
            data = data[: budget[0]]
            budget[0] -= len(data)
        out.sendall(data)
        if budget is not None and budget[0] <= 0:
            raise _Closed()

    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = reader.until(b"\r\n")
            send(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            for piece in reader.exactly(size + 2):
                send(piece)
            if size == 0:
                return
    length = int(headers.get("content-length", "0") or 0)
    for piece in reader.exactly(length):
        send(piece)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (what a crashed peer or a middlebox does)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 in front of ``upstream`` (host, port).

    Each request is passed on, or failed by the first matching rule:
    ``"error"`` (an S3 XML error with ``status``), ``"reset"`` (connection
    reset before any answer), ``"cut"`` (the answer is cut after
    ``cut_after`` bytes of its body). ``down()`` stops listening
    (connection refused) until ``up()``. ``requests`` lists what it saw.

        >>> proxy = FaultProxy(("127.0.0.1", 9000))               # doctest: +SKIP
        >>> proxy.fail("error", method="GET", times=2)            # doctest: +SKIP
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.requests: list[ProxiedRequest] = []
        self._rules: list[dict[str, Any]] = []
        self._hooks: list[tuple[str | None, str | None, str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self.port = 0
        self.up()
        self.port = self._listener.getsockname()[1]  # type: ignore[union-attr]

    @classmethod
    def for_url(cls, url: str) -> "FaultProxy":
        """A proxy in front of ``http://host:port``."""
        host, port = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
        return cls((host, int(port)))

    @property
    def url(self) -> str:
        """The proxy's base URL (use it as the S3 endpoint)."""
        return f"http://127.0.0.1:{self.port}"

    # -- control ---------------------------------------------------------------
    def fail(self, action: str, *, method: str | None = None, path_contains: str | None = None,
             times: int | None = None, status: int = 500, cut_after: int = 4096) -> None:
        """Fail matching requests (all, or the next ``times`` ones) with ``action``."""
        assert action in ("error", "reset", "cut"), action
        with self._lock:
            self._rules.append({"action": action, "method": method, "path": path_contains,
                                "times": times, "status": status, "cut_after": cut_after})
        self.drop_connections()

    def heal(self) -> None:
        """Remove every rule and listen again: requests pass from now on."""
        with self._lock:
            self._rules.clear()
        self.up()

    def down(self) -> None:
        """Stop listening and drop open connections: clients get ECONNREFUSED."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self.drop_connections()

    def up(self) -> None:
        """Listen (again) on the same port."""
        with self._lock:
            if self._listener is not None or self._closed:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            listener.settimeout(0.2)
            self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True,
                         name="fault-proxy-accept").start()

    def watch(self, method: str | None = None, path_contains: str | None = None, *,
              when: str = "seen") -> threading.Event:
        """An event set when a matching request is ``"seen"`` (before it is
        passed on) or ``"answered"`` (its answer fully relayed)."""
        event = threading.Event()
        self.on(method, path_contains, when=when, callback=event.set)
        return event

    def on(self, method: str | None, path_contains: str | None, *, when: str,
           callback: Callable[[], None]) -> None:
        """Run ``callback`` in the connection's thread when a matching request is
        ``"seen"`` or ``"answered"``: the next request on that connection waits for it."""
        with self._lock:
            self._hooks.append((method, path_contains, when, callback))

    def _notify(self, method: str, path: str, when: str) -> None:
        with self._lock:
            hooks = [callback for wanted, fragment, moment, callback in self._hooks
                     if moment == when and wanted in (None, method) and (not fragment or fragment in path)]
        for callback in hooks:
            callback()

    def drop_connections(self) -> None:
        """Close pooled connections so the next request meets the current rules."""
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        """Stop for good."""
        self._closed = True
        self.down()

    def count(self, method: str | None = None, action: str | None = None,
              path_contains: str | None = None) -> int:
        """How many requests matched (method, action, a path fragment)."""
        with self._lock:
            seen = list(self.requests)
        return sum(1 for r in seen if (method is None or r.method == method)
                   and (action is None or r.action == action)
                   and (path_contains is None or path_contains in r.path))

    # -- serving ---------------------------------------------------------------
    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                if self._listener is not listener:
                    return
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self._connections.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True, name="fault-proxy-conn").start()

    def _decide(self, method: str, path: str) -> dict[str, Any] | None:
        with self._lock:
            for rule in self._rules:
                if rule["method"] not in (None, method) or (rule["path"] and rule["path"] not in path):
                    continue
                if rule["times"] is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                return rule
        return None

    def _record(self, method: str, path: str, action: str) -> None:
        with self._lock:
            self.requests.append(ProxiedRequest(method, path, action))

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        reader = _Reader(client)
        try:
            while True:
                head = reader.until(b"\r\n\r\n")
                request_line, headers = _parse_head(head)
                method, path = (request_line.split(" ") + ["", ""])[:2]
                rule = self._decide(method, path)
                action = rule["action"] if rule else "pass"
                self._record(method, path, action)
                self._notify(method, path, "seen")
                if action == "reset":
                    _reset(client)
                    return
                expects = headers.get("expect", "").lower() == "100-continue"
                if action == "error":
                    if not expects:
                        _relay_body(reader, headers, None)
                    self._answer_error(client, method, rule["status"])  # type: ignore[index]
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=60)
                    with self._lock:
                        self._connections.add(upstream)
                if expects:  # answer 100 ourselves; upstream gets a plain request
                    head = re.sub(rb"(?im)^expect:[^\r\n]*\r\n", b"", head)
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                upstream.sendall(head)
                _relay_body(reader, headers, upstream)
                keep_open = self._relay_answer(upstream, client, method, rule)
                self._notify(method, path, "answered")
                if not keep_open:
                    return
        except (_Closed, OSError, ValueError):
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._connections.discard(sock)
                    try:
                        sock.close()
                    except OSError:
                        pass

    def _relay_answer(self, upstream: socket.socket, client: socket.socket, method: str,
                      rule: dict[str, Any] | None) -> bool:
        """Copy one answer; False when the connection must end."""
        reader = _Reader(upstream)
        head = reader.until(b"\r\n\r\n")
        status_line, headers = _parse_head(head)
        status = int(status_line.split(" ")[1])
        client.sendall(head)
        budget = [rule["cut_after"]] if rule is not None else None
        if method == "HEAD" or status in (204, 304) or status < 200:
            return True
        if "content-length" in headers or headers.get("transfer-encoding", "").lower() == "chunked":
            try:
                _relay_body(reader, headers, client, budget)
            except _Closed:
                if budget is not None:
                    _reset(client)
                raise
            if reader.buffer:
                raise _Closed()  # pipelined data we do not expect
            return headers.get("connection", "").lower() != "close"
        for data in reader.rest():
            client.sendall(data)
        return False

    @staticmethod
    def _answer_error(client: socket.socket, method: str, status: int) -> None:
        codes = {500: ("InternalError", "We encountered an internal error. Please try again."),
                 503: ("SlowDown", "Please reduce your request rate.")}
        code, message = codes.get(status, ("InternalError", "Injected failure"))
        body = b"" if method == "HEAD" else _S3_ERROR.format(code=code, message=message).encode()
        head = (f"HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        client.sendall(head + body)


# -- toolkit serve in its own process -----------------------------------------------
_LAUNCH = (
    "import logging, sys\n"
    "handler = logging.StreamHandler(sys.stdout)\n"
    "handler.setFormatter(logging.Formatter('%(name)s %(levelname)s %(message)s'))\n"
    "log = logging.getLogger('toolkit'); log.addHandler(handler); log.setLevel(logging.INFO)\n"
    "from toolkit.cli import main\n"
    "main()\n"
)


class ServeProcess:
    """``toolkit serve`` in a child process with the toolkit's INFO log on its
    stdout, so tests can wait for a line (e.g. ``planned in``) and SIGKILL it.

        >>> with ServeProcess(store, s3_endpoint, keys={"k": ["*"]}) as proc:   # doctest: +SKIP
        ...     proc.url
    """

    def __init__(self, store: Path, s3_endpoint: str, *, keys: Mapping[str, Any], bucket: str = "toolkit-imports",
                 env: Mapping[str, str] | None = None, args: Iterable[str] = ()) -> None:
        self.store = Path(store)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
        self.environment = {
            **inherited, "PYTHONUNBUFFERED": "1", "TOOLKIT_API_KEYS": json.dumps(dict(keys)),
            "TOOLKIT_S3_ACCESS_KEY_ID": "test", "TOOLKIT_S3_SECRET_ACCESS_KEY": "test", **(env or {}),
        }
        self.command = [sys.executable, "-c", _LAUNCH, "serve", "--port", "0", "--store", str(store),
                        "--s3-endpoint", s3_endpoint, "--bucket", bucket, *args]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.lines: list[str] = []

    def start(self, timeout: float = 120.0) -> "ServeProcess":
        """Start and wait until it announces its URL."""
        self.lines = []
        self.proc = subprocess.Popen(self.command, env=self.environment, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, args=(self.proc, self.lines), daemon=True).start()
        found = self.wait_line(r"toolkit service on (http://127\.0\.0\.1:(\d+))", timeout)
        self.url = found.group(1)
        # Belt and braces: also wait until the port accepts connections.
        wait_for(lambda: self._accepts(int(found.group(2))), timeout=timeout, interval=0.02,
                 what=f"{self.url} to accept connections")
        return self

    def _accepts(self, port: int) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"toolkit serve exited ({self.proc.returncode}); output: {self.lines[-20:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    @staticmethod
    def _pump(proc: subprocess.Popen[str], lines: list[str]) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """Wait for an output line (of this life of the process) matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if found := regex.search(line):
                    return found
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.2)  # let the pump read the last lines
                raise AssertionError(f"toolkit serve exited ({self.proc.returncode}) before {pattern!r}; "
                                     f"output: {self.lines[-20:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output: {self.lines[-20:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(60)

    def stop(self) -> int:
        """SIGTERM and wait: a clean shutdown; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(30)

    def __enter__(self) -> "ServeProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- files made of explicit operations -------------------------------------------------
@dataclass(frozen=True)
class Op:
    """One row of a cc5 file: an upsert (``values`` set) or a delete (``values`` None)."""

    key: str
    values: tuple[str, int] | None = None


FIELDS = ("code:string", "label:string", "amount:int")


def write_ops_cc5(path: Path, ops: Iterable[Op], *, workspace: str, entity: str = "item",
                  reference: str = "ops") -> Path:
    """A cc5 file keyed by ``code`` with ``label`` and ``amount``, one row per op."""
    ops = list(ops)
    lines = [f"00|ACME|cc5|20261122093000|{reference}", f"01|{entity}|{workspace}|bk-main|CRM|UPSERT",
             "02|code", "03|" + "|".join(FIELDS)]
    for op in ops:
        lines.append(f"90|{op.key}" if op.values is None else f"10|{op.key}|{op.values[0]}|{op.values[1]}|")
    lines.append(f"99|{len(ops)}|")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def apply_ops(files: Iterable[Iterable[Op]]) -> list[tuple[str, str, int]]:
    """The table (sorted rows ``(code, label, amount)``) after applying ``files`` in order."""
    table: dict[str, tuple[str, int]] = {}
    for ops in files:
        for op in ops:
            if op.values is None:
                table.pop(op.key, None)
            else:
                table[op.key] = op.values
    return sorted((key, *values) for key, values in table.items())


def query_store(store: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one query on a store no process has open (read-only)."""
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def compare_tables(store_a: Path, table_a: str, store_b: Path, table_b: str) -> dict[str, int]:
    """Row counts of two imported tables (``workspace/entity``) in two stores
    and how many rows (with multiplicity) each has that the other lacks."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"ATTACH '{store_a}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{store_b}' AS b (READ_ONLY)")
        ta, tb = f'a.data."{table_a}"', f'b.data."{table_b}"'
        count = lambda sql: int(con.execute(sql).fetchall()[0][0])  # noqa: E731
        return {
            "rows_a": count(f"SELECT count(*) FROM {ta}"),
            "rows_b": count(f"SELECT count(*) FROM {tb}"),
            "only_a": count(f"SELECT count(*) FROM (SELECT * FROM {ta} EXCEPT ALL SELECT * FROM {tb})"),
            "only_b": count(f"SELECT count(*) FROM (SELECT * FROM {tb} EXCEPT ALL SELECT * FROM {ta})"),
        }


# -- utilities -----------------------------------------------------------------------
def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(interval)


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation between closest ranks)."""
    data = sorted(values)
    if not data:
        raise ValueError("no values")
    rank = (len(data) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


@dataclass
class Tally:
    """Counts per label, thread-safe (e.g. fuzz cases per operation)."""

    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, label: str, n: int = 1) -> None:
        with self._lock:
            self.counts[label] = self.counts.get(label, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())
