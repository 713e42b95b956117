"""Streamlit's file uploads streamed to disk: the app never holds an uploaded file in memory.

Streamlit's own upload route (``PUT /_stcore/upload_file/{session}/{file}``)
parses the multipart body, then reads the file into one ``bytes`` that its
upload manager keeps while the file is in the widget: a 200 MB file costs
about 400 MB at its peak. ``UploadSpool`` is an ASGI middleware that takes
that route over: it makes the same checks (XSRF, an active session,
``server.maxUploadSize`` from Content-Length and while the body arrives),
writes the file part straight into ``<folder>/<session>/<file id>`` and
registers the upload with Streamlit's manager with **empty data**, so
``st.file_uploader`` returns an ``UploadedFile`` with the right id and name
(the widget shows the browser's name and size) but no bytes. The app asks
``spooled_file(file_id)`` for the file (``uploads.upload_path`` does it).

A removed upload (the widget's ✕, Streamlit's DELETE) and an ended session
delete their files: the manager's ``remove_file`` and
``remove_session_files`` are wrapped; a closed tab's session, which Streamlit
drops after ``server.disconnectedSessionTTL`` without ending it, loses its
files at the next upload after that; the folder goes when the process exits
(or, after a kill, when the next app process starts). The app keeps its
working folders in the session's folder (``session_folder``), so they go
with it. An oversized, malformed or aborted upload leaves no file. If the
Streamlit objects it needs are missing (another Streamlit version), the
middleware passes every request on to Streamlit's own route and logs one
line.

It is installed by the app's entry script (``serve_app.py``)::

    app = st.App("app.py", middleware=[Middleware(UploadSpool)])
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["UploadSpool", "spool_folder", "spooled_file", "session_folder", "MULTIPART_OVERHEAD_BYTES"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOGGER = logging.getLogger(__name__)
#: The upload route's tail (any ``server.baseUrlPath`` before it).
_ROUTE = re.compile(r"/_stcore/upload_file/(?P<session>[^/]+)/(?P<file>[^/]+)$")
#: Session and file ids are Streamlit's UUIDs: anything else never becomes a path.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: The multipart framing allowed on top of ``server.maxUploadSize`` while the body arrives
#: (Streamlit's own route allows the same); the file part itself is held to the limit exactly.
MULTIPART_OVERHEAD_BYTES = 1 << 20
_PARTIAL_SUFFIX = ".part"


def spool_folder() -> Path:
    """This process's default upload folder (``<tmp>/toolkit-app-uploads-<pid>``).

        >>> spool_folder().name.startswith("toolkit-app-uploads-")
        True
    """
    return Path(tempfile.gettempdir()) / f"toolkit-app-uploads-{os.getpid()}"


def spooled_file(file_id: str, folder: Path | None = None) -> Path | None:
    """The file a completed spooled upload ``file_id`` was written to, or None.

    None when the middleware did not take this upload (plain
    ``streamlit run app.py``, AppTest): the widget then holds the bytes.

        >>> spooled_file("no-such-upload", Path(tempfile.mkdtemp())) is None
        True
    """
    if not _SAFE_ID.match(file_id):
        return None
    root = folder if folder is not None else spool_folder()
    # File ids are unique UUIDs and a script only ever sees its own session's ids.
    return next((path for path in root.glob(f"*/{file_id}") if path.is_file()), None)


def session_folder(session_id: str, folder: Path | None = None) -> Path | None:
    """The folder of a session's uploads when the middleware runs in this process, else None.

    The app makes its working folders there too, so whatever a session leaves
    on disk goes when its uploads go (the session ends or is dropped).

        >>> session_folder("0b7c-session", Path(tempfile.mkdtemp())).name
        '0b7c-session'
    """
    root = folder if folder is not None else spool_folder()
    if not _SAFE_ID.match(session_id) or not root.is_dir():
        return None
    path = root / session_id
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _Aborted(Exception):
    """The client went away before the body was complete."""


def _streamlit_parts() -> dict[str, Any] | None:
    """The Streamlit objects the middleware needs, or None (one log line) when any is missing."""
    try:
        from streamlit import config
        from streamlit.runtime import Runtime
        from streamlit.runtime.uploaded_file_manager import UploadedFileRec
        from streamlit.web.server.server_util import (
            allow_all_cross_origin_requests,
            get_url,
            is_allowed_origin,
            is_xsrf_enabled,
        )
        from streamlit.web.server.starlette.starlette_app_utils import validate_xsrf_token
        from streamlit.web.server.starlette.starlette_server_config import XSRF_COOKIE_NAME
    except ImportError as exc:
        _LOGGER.warning("Uploads go through Streamlit's own route (held in memory): %s", exc)
        return None
    return dict(config=config, Runtime=Runtime, UploadedFileRec=UploadedFileRec,
                allow_all_cross_origin_requests=allow_all_cross_origin_requests, get_url=get_url,
                is_allowed_origin=is_allowed_origin, is_xsrf_enabled=is_xsrf_enabled,
                validate_xsrf_token=validate_xsrf_token, XSRF_COOKIE_NAME=XSRF_COOKIE_NAME)


class UploadSpool:
    """ASGI middleware: Streamlit's upload route, streamed to files in ``folder`` (see the module).

        >>> from starlette.middleware import Middleware          # doctest: +SKIP
        >>> st.App("app.py", middleware=[Middleware(UploadSpool)])  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, folder: Path | None = None) -> None:
        self.app = app
        self.folder = folder if folder is not None else spool_folder()
        self._parts = _streamlit_parts()
        if self._parts is not None and not _private_folder(self.folder):
            self._parts = None
        if folder is None:
            _remove_folders_of_ended_processes(self.folder.parent)
        self._hooked: set[int] = set()
        self._lock = threading.Lock()
        # Sessions still open when the server stops are not ended one by one: their files go here.
        atexit.register(shutil.rmtree, self.folder, True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ROUTE.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or self._parts is None or scope.get("method") != "PUT":
            await self.app(scope, receive, send)
            return
        manager = self._manager()
        if manager is None:
            await self.app(scope, receive, send)
            return
        session_id, file_id = match["session"], match["file"]
        try:
            response_headers = self._check(scope, session_id, file_id)
            self._sweep_expired_sessions()
            await self._receive_upload(scope, receive, manager, session_id, file_id)
        except _Refused as exc:
            await _respond(send, exc.status, exc.detail.encode())
            return
        except _Aborted:
            return  # nobody to answer
        await _respond(send, 204, b"", response_headers)

    def _manager(self) -> Any:
        """Streamlit's upload manager, its removals wrapped to delete the spooled files (once)."""
        assert self._parts is not None
        runtime_class = self._parts["Runtime"]
        if not runtime_class.exists():
            return None
        manager = runtime_class.instance().uploaded_file_mgr
        if not all(hasattr(manager, name) for name in ("add_file", "remove_file", "remove_session_files")):
            return None
        with self._lock:
            if id(manager) not in self._hooked:
                _delete_spooled_files_on_removal(manager, self.folder)
                self._hooked.add(id(manager))
        return manager

    def _sweep_expired_sessions(self) -> None:
        """Delete the folders of sessions Streamlit no longer knows.

        A closed tab's session is kept for ``server.disconnectedSessionTTL``
        seconds, then dropped without being shut down, so ``remove_session_files``
        never runs for it: its files go at the next upload after that.
        """
        assert self._parts is not None
        sessions = getattr(self._parts["Runtime"].instance(), "_session_mgr", None)
        known = getattr(sessions, "get_session_info", None)
        if known is None or not self.folder.is_dir():
            return
        for folder in self.folder.iterdir():
            if folder.is_dir() and known(folder.name) is None:
                shutil.rmtree(folder, ignore_errors=True)

    def _check(self, scope: Scope, session_id: str, file_id: str) -> list[tuple[bytes, bytes]]:
        """What Streamlit's route checks before reading the body; returns the success response's headers."""
        from starlette.requests import Request

        parts = self._parts
        assert parts is not None
        request = Request(scope)
        xsrf = bool(parts["is_xsrf_enabled"]())
        if xsrf and not parts["validate_xsrf_token"](request.headers.get("X-Xsrftoken"),
                                                     request.cookies.get(parts["XSRF_COOKIE_NAME"])):
            raise _Refused(403, "XSRF token missing or invalid")
        if not (_SAFE_ID.match(session_id) and _SAFE_ID.match(file_id)):
            raise _Refused(400, "Invalid session or file id")
        if not parts["Runtime"].instance().is_active_session(session_id):
            raise _Refused(400, "Invalid session_id")
        length = request.headers.get("content-length")
        if length:
            try:
                too_large = int(length) > self.max_bytes()
            except ValueError:
                raise _Refused(400, "Invalid Content-Length header") from None
            if too_large:
                raise _Refused(413, "File too large")
        headers = [(b"access-control-allow-methods", b"PUT, OPTIONS, DELETE"),
                   (b"access-control-allow-headers", b"Content-Type")]
        if xsrf:
            origin = parts["get_url"](parts["config"].get_option("browser.serverAddress"))
            headers = [headers[0], (b"access-control-allow-headers", b"X-Xsrftoken, Content-Type"),
                       (b"access-control-allow-origin", str(origin).encode("latin-1")), (b"vary", b"Origin"),
                       (b"access-control-allow-credentials", b"true")]
        elif parts["allow_all_cross_origin_requests"]():
            headers.append((b"access-control-allow-origin", b"*"))
        elif (origin := request.headers.get("origin")) and parts["is_allowed_origin"](origin):
            headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
        return headers

    def max_bytes(self) -> int:
        """``server.maxUploadSize`` (megabytes) in bytes."""
        assert self._parts is not None
        return int(self._parts["config"].get_option("server.maxUploadSize")) * 1024 * 1024

    async def _receive_upload(self, scope: Scope, receive: Receive, manager: Any, session_id: str,
                              file_id: str) -> None:
        """Stream the body's one file part into ``<folder>/<session>/<file id>`` and register it."""
        import anyio.to_thread

        assert self._parts is not None
        folder = self.folder / session_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = folder / file_id
        partial = folder / (file_id + _PARTIAL_SUFFIX)
        parser = _FilePartParser(_header(scope, b"content-type"), partial, self.max_bytes())
        limit = self.max_bytes() + MULTIPART_OVERHEAD_BYTES
        received = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Aborted()
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    raise _Refused(413, "File too large")
                if chunk:
                    await anyio.to_thread.run_sync(parser.write, chunk)
                if not message.get("more_body", False):
                    break
            name, content_type = await anyio.to_thread.run_sync(parser.finish)
            os.replace(partial, final)
        except BaseException:
            parser.close()
            partial.unlink(missing_ok=True)
            raise
        record = self._parts["UploadedFileRec"](file_id=file_id, name=name, type=content_type, data=b"")
        manager.add_file(session_id=session_id, file=record)


class _FilePartParser:
    """A multipart body's single file part, written to ``path`` as it arrives (python_multipart)."""

    def __init__(self, content_type: str, path: Path, max_file_bytes: int) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        kind, params = parse_options_header(content_type)
        if kind != b"multipart/form-data" or not params.get(b"boundary"):
            raise _Refused(400, "Expected a multipart/form-data body with a boundary")
        self._path = path
        self._max = max_file_bytes
        self._out: BinaryIO | None = None
        self._files = 0
        self._size = 0
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._complete = False
        self.name = ""
        self.content_type = "application/octet-stream"
        self._parse_options = parse_options_header
        self._parser = MultipartParser(params[b"boundary"], {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._add_field(data[start:end]),
            "on_header_value": lambda data, start, end: self._add_value(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        })

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _add_field(self, data: bytes) -> None:
        self._field += data

    def _add_value(self, data: bytes) -> None:
        self._value += data

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = self._parse_options(self._headers.get(b"content-disposition", b""))
        if b"filename" not in options:
            return  # a plain form field: ignored, as Streamlit ignores it
        self._files += 1
        if self._files > 1:
            raise _Refused(400, "Expected 1 file, but got more")
        self._in_file = True
        self.name = options[b"filename"].decode("utf-8", errors="replace")
        part_type = self._headers.get(b"content-type", b"").decode("latin-1").strip()
        self.content_type = part_type or "application/octet-stream"
        self._out = self._path.open("wb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file or self._out is None:
            return
        self._size += end - start
        if self._size > self._max:
            raise _Refused(413, "File too large")
        self._out.write(data[start:end])

    def _part_end(self) -> None:
        self._in_file = False

    def _end(self) -> None:
        self._complete = True

    def write(self, chunk: bytes) -> None:
        from python_multipart.exceptions import MultipartParseError

        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise _Refused(400, f"Malformed multipart body: {exc}") from None

    def finish(self) -> tuple[str, str]:
        """Close the file; (file name, content type). 400 unless the body held exactly one file."""
        self._parser.finalize()
        self.close()
        if not self._complete:  # the body stopped before its closing boundary: the file may be cut short
            raise _Refused(400, "Incomplete multipart body")
        if self._files != 1:
            raise _Refused(400, f"Expected 1 file, but got {self._files}")
        return self.name, self.content_type

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


def _private_folder(folder: Path) -> bool:
    """Make ``folder`` (mode 700), or accept it if it exists as this user's private folder.

    Its name is predictable (the pid), so a folder someone else made first is refused:
    the uploads then go through Streamlit's own route (one log line).
    """
    try:
        folder.mkdir(mode=0o700, parents=True)
        return True
    except FileExistsError:
        info = os.lstat(folder)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
            return True
    except OSError:
        pass
    _LOGGER.warning("Uploads go through Streamlit's own route (held in memory): %s is not a private folder "
                    "of this user", folder)
    return False


def _remove_folders_of_ended_processes(parent: Path) -> None:
    """Delete the upload folders earlier app processes left behind (stopped by a signal, not an exit)."""
    for folder in parent.glob("toolkit-app-uploads-*"):
        pid = folder.name.rpartition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that process still runs
        except ProcessLookupError:
            pass
        except OSError:
            continue  # another user's process: not ours to judge
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid():
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _delete_spooled_files_on_removal(manager: Any, folder: Path) -> None:
    """Wrap ``manager``'s removals so a removed upload's or ended session's files go with them."""
    remove_file = manager.remove_file
    remove_session_files = manager.remove_session_files

    def removing_file(session_id: str, file_id: str) -> None:
        remove_file(session_id, file_id)
        if _SAFE_ID.match(session_id) and _SAFE_ID.match(file_id):
            (folder / session_id / file_id).unlink(missing_ok=True)

    def removing_session_files(session_id: str) -> None:
        remove_session_files(session_id)
        if _SAFE_ID.match(session_id):
            shutil.rmtree(folder / session_id, ignore_errors=True)

    manager.remove_file = removing_file
    manager.remove_session_files = removing_session_files


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    head = list(headers or [])
    if body:
        head += [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
