"""A throw-away PostgreSQL cluster for the tests: Debian's server binaries, a data folder and a socket in
a temporary folder, no TCP port, trust authentication; stopped and removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def server_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class Cluster:
    def __init__(self):
        self.bin = server_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
        self.base = Path(tempfile.mkdtemp(prefix="dermview-pg-"))
        self.data = self.base / "data"
        self.as_root = os.geteuid() == 0  # initdb refuses root: run the server as Debian's postgres user
        if self.as_root:
            os.chmod(self.base, 0o755)
            shutil.chown(self.base, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60",
                  "-o", f"-k {self.base} -c listen_addresses='' -F", "start")
        self.url = f"postgresql://postgres@/postgres?host={self.base}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def database(self, name: str) -> str:
        """A new, empty database on the cluster; its URL."""
        import psycopg

        with psycopg.connect(f"postgresql://postgres@/postgres?host={self.base}", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@/{name}?host={self.base}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
