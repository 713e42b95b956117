"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` on
127.0.0.1 and a free port (and a Unix socket in its own directory), with
fsync off; stopped at the end of the session.

    >>> server = PostgresServer.start()             # doctest: +SKIP
    >>> url = server.new_database()                 # doctest: +SKIP
    >>> server.stop()                               # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["PostgresServer", "find_pg_bin"]


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One running cluster; ``new_database()`` gives each test its own database."""

    def __init__(self, bin_dir: Path, root: Path, port: int, as_user: list[str]) -> None:
        self.bin_dir, self.root, self.port, self._as_user = bin_dir, root, port, as_user
        self.user = "toolkit"

    @classmethod
    def start(cls) -> "PostgresServer":
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL (initdb) in /usr/lib/postgresql/*/bin or on PATH")
        root = Path(tempfile.mkdtemp(prefix="toolkit-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o700)
        server = cls(bin_dir, root, _free_port(), as_user)
        server._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", server.user, "--no-sync",
                    "-E", "UTF8", "--locale", "C")
        options = f"-k {root} -h 127.0.0.1 -p {server.port} -F -c max_connections=200 -c fsync=off"
        server._run("pg_ctl", "-D", str(root / "data"), "-o", options, "-l", str(root / "server.log"),
                    "-w", "-t", "60", "start")
        return server

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as_user, str(self.bin_dir / tool), *args], capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}\n{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        """The connection URL of ``database``."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
