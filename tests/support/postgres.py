"""A throwaway PostgreSQL cluster for tests and benches, started from the installed server binaries.

``initdb`` refuses to run as root: as root, the cluster's folder belongs to the ``postgres``
user and every server binary runs through ``runuser -u postgres --``. The cluster listens on
loopback only, trusts every local connection and skips fsync: it holds nothing worth keeping.
No pytest here: ``scripts/bench/`` imports this module too.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_USER = "postgres"
_DEBIAN_BINARIES = Path("/usr/lib/postgresql")
_REQUIRED = ("initdb", "pg_ctl")


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL server binaries are missing, or the cluster would not start."""


class Cluster:
    """A running cluster: its port, its folder, and the databases made in it."""

    def __init__(self, binaries: Path, root: Path, port: int) -> None:
        self.binaries = binaries
        self.root = root
        self.port = port
        self.data_dir = root / "data"
        self.log_file = root / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        """The SQLAlchemy URL of a database of this cluster."""
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        """Creates an empty database; template0 is the cheapest one to copy."""
        self._administer(sql.SQL("CREATE DATABASE {} TEMPLATE template0"), name)

    def drop_database(self, name: str) -> None:
        """Drops a database, closing whatever connections a test left open to it."""
        self._administer(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"), name)

    def start(self) -> None:
        """Starts the server on this cluster's port and folder; returns once it accepts queries.

        Raises:
            PostgresUnavailableError: the server did not start (its log is in the message).
        """
        # fsync=off survives a killed server, not a crashed machine: enough for a test.
        # synchronous_commit stays on, or a stop() would lose commits a test relies on.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        command = ["-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w"]
        try:
            self._run("pg_ctl", *command, "start")
        except PostgresUnavailableError as error:
            raise PostgresUnavailableError(f"{error}\n{self._log_tail()}") from error

    def stop(self) -> None:
        """Stops the server at once, as a crash would; ``start`` brings it back.

        Raises:
            PostgresUnavailableError: pg_ctl could not stop it.
        """
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")

    def initialise(self) -> None:
        """Creates the cluster's data folder with ``initdb``.

        Raises:
            PostgresUnavailableError: initdb failed.
        """
        self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SERVER_USER,
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def _administer(self, statement: sql.SQL, name: str) -> None:
        # CREATE and DROP DATABASE refuse to run inside a transaction block.
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(statement.format(sql.Identifier(name)))

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.binaries / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        # The server user may not be allowed into the caller's working directory.
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            raise PostgresUnavailableError(
                f"{program} failed (exit {result.returncode}): {result.stderr.strip()}"
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


@contextmanager
def throwaway_cluster(port: int | None = None) -> Iterator[Cluster]:
    """Starts a fresh cluster in a temporary folder; stops it and removes the folder on exit.

    Raises:
        PostgresUnavailableError: the server binaries are missing or the cluster did not start.
    """
    binaries = find_binaries()
    root = Path(tempfile.mkdtemp(prefix="tutela-pg-"))
    try:
        _hand_to_server_user(root)
        cluster = Cluster(binaries, root, port or free_port())
        cluster.initialise()
        _start(cluster, retry_on_another_port=port is None)
        try:
            yield cluster
        finally:
            _stop_quietly(cluster)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def find_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then the newest Debian version.

    Raises:
        PostgresUnavailableError: no folder holds both.
    """
    initdb, pg_ctl = (shutil.which(program) for program in _REQUIRED)
    if initdb is not None and pg_ctl is not None and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    for candidate in sorted(_DEBIAN_BINARIES.glob("*/bin"), key=_version, reverse=True):
        if all((candidate / program).is_file() for program in _REQUIRED):
            return candidate
    raise PostgresUnavailableError(
        "the PostgreSQL server binaries (initdb, pg_ctl) are neither on PATH nor in "
        f"{_DEBIAN_BINARIES}/*/bin: run scripts/setup.sh as root, or apt-get install postgresql"
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _version(folder: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); "9.6" sorts below "10" as a number, not as text.
    parts = folder.parent.name.split(".")
    return tuple(int(part) for part in parts if part.isdigit())


def _hand_to_server_user(root: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError as error:
        raise PostgresUnavailableError(
            f"running as root, but there is no {SERVER_USER!r} user to run initdb as: "
            "apt-get install postgresql creates it"
        ) from error
    os.chown(root, account.pw_uid, account.pw_gid)


def _start(cluster: Cluster, retry_on_another_port: bool) -> None:
    # Another process may take the free port between the probe and the server's bind.
    for attempt in range(3):
        try:
            cluster.start()
            return
        except PostgresUnavailableError:
            if not retry_on_another_port or attempt == 2:
                raise
            cluster.port = free_port()


def _stop_quietly(cluster: Cluster) -> None:
    # A test may have stopped the server itself; the folder goes away either way.
    with suppress(PostgresUnavailableError, subprocess.TimeoutExpired):
        cluster.stop()
