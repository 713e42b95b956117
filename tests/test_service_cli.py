"""``toolkit serve``: configuration errors are one line with exit code 2;
the server socket is set up for low latency. (A real ``toolkit serve`` process
is started, killed and restarted in test_service_recovery.py.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.service.local import ServerThread


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "70000"], {}, "port=70000 must be between 0 and 65535"),
        (["--workers", "0"], {}, "workers=0"),
        ([], {"TOOLKIT_API_KEYS": "{oops"}, "TOOLKIT_API_KEYS: not valid JSON"),
        (["--config", "/nonexistent/service.toml"], {}, "Cannot read service config"),
    ],
)
def test_configuration_errors_are_one_line(args: list[str], env: dict[str, str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unusable_store_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "store.duckdb").mkdir()
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--store", str(tmp_path / "store.duckdb")])
    assert result.exit_code == 2 and "Cannot open the store" in result.output


def test_a_port_in_use_is_a_configuration_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and f"Cannot listen on 127.0.0.1:{port}" in result.output


def test_server_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    # Without IPPROTO_TCP on the listening socket, asyncio skips TCP_NODELAY
    # and every response waits for a delayed ACK (~40 ms).
    server = ServerThread(app=None, host="127.0.0.1", port=0)
    try:
        assert server._socket.proto == socket.IPPROTO_TCP
    finally:
        server._socket.close()
