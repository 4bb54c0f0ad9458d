"""A real, throwaway PostgreSQL server for the ledger contract tests and the benches.

Debian's `postgresql` package provides `initdb` / `pg_ctl` under /usr/lib/postgresql/N/bin
(`.ci/run` installs it). The server runs as an unprivileged user (initdb refuses root:
when we are root it runs as `postgres` through `runuser`), with its data directory and
unix socket in a temporary directory, on a free local TCP port, with password
authentication on TCP so wrong credentials can be tested. :meth:`PostgresServer.stop`
stops it and removes everything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "routing"
PASSWORD = "s3cret-routing"


class PostgresUnavailable(RuntimeError):
    """The server could not be found or started (the message says why)."""


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/N/bin with initdb, or $PG_BINDIR."""
    explicit = os.environ.get("PG_BINDIR")
    candidates = [explicit] if explicit else []
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += [
        str(p) for p in sorted(installed, key=lambda p: p.parent.name.zfill(4), reverse=True)
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin; "
        "install Debian's postgresql package (apt-get install -y postgresql)"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl start in a temporary directory; `url(db)` for each database."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.bindir = find_bindir()
        self.fsync = fsync
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="agent-routing-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> PostgresServer:
        for directory in (self.data, self.sockets):
            directory.mkdir()
        password_file = self.root / "pw"
        password_file.write_text(PASSWORD + "\n")
        if self.as_root:
            for path in (self.root, self.data, self.sockets, password_file):
                shutil.chown(path, "postgres", "postgres")
        else:
            self.data.chmod(0o700)
        result = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {result.stderr.strip()[-800:]}")
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            f"-c max_connections=300 -c fsync={'on' if self.fsync else 'off'} "
            f"-c synchronous_commit={'on' if self.fsync else 'off'} "
            "-c full_page_writes=off -c shared_buffers=128MB"
        )
        result = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr.strip()} {log}")
        self.started = True
        return self

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """A TCP URL with the superuser's password."""
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name is our own hex id
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
            self.started = False
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
