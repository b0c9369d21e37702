"""A private PostgreSQL cluster for the local stack (STACK_POSTGRES=1), never the machine's shared server: the
game day stops and hangs it.  PostgreSQL will not run as root, so as root it runs as the `postgres` account
(or `nobody`), which owns the cluster's directory."""
from __future__ import annotations

import os
import pwd
import shlex
import subprocess
from pathlib import Path

from stack import tools


def account() -> pwd.struct_passwd | None:
    """The account the server runs as: None for the current one, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a `postgres` nor a `nobody` account exists for PostgreSQL")


def as_account(who: pwd.struct_passwd | None) -> list[str]:
    """The argv prefix that runs a command as `who` (nothing when it is the current account)."""
    if who is None:
        return []
    return ["setpriv", f"--reuid={who.pw_uid}", f"--regid={who.pw_gid}", "--clear-groups"]


def server_binary(tool: str) -> str:
    """postgres or initdb, beside pg_ctl (Debian keeps them off PATH)."""
    return str(Path(tools.require("pg_ctl")).resolve().parent / tool)


def init_cluster(directory: Path) -> Path:
    """An initialised cluster in directory/data (once; kept across `make up`s), owned by the server's account."""
    data = directory / "data"
    if (data / "PG_VERSION").exists():
        return data
    directory.mkdir(parents=True, exist_ok=True)
    who = account()
    if who is not None:
        os.chown(directory, who.pw_uid, who.pw_gid)
    subprocess.run([*as_account(who), server_binary("initdb"), "--pgdata", str(data), "--username=postgres",
                    "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"], check=True, capture_output=True,
                   cwd="/")
    return data


def server_command(directory: Path, host: str, port: int) -> str:
    """The shell command that runs the server in the foreground (for the supervisor)."""
    data = init_cluster(directory)
    argv = [*as_account(account()), server_binary("postgres"), "-D", str(data), "-p", str(port),
            "-c", f"listen_addresses={host}", "-c", f"unix_socket_directories={directory}",
            # A development stack: a crash may lose the last transactions, and saves seconds of fsync.
            "-c", "fsync=off", "-c", "synchronous_commit=off"]
    return f"cd / && exec {shlex.join(argv)}"
