"""The system tools the stack and the test suite run for real: find them, install the missing ones, or say how.

    python3 -m stack.tools ensure [--database-url URL]   # what `make install`, `make test` and `make up` run first
    python3 -m stack.tools which NAME                     # the path of one tool, or exit 1

Standard library only: it runs with the system Python before the virtualenv exists, so a machine that cannot
install stops within seconds with the command a person must run, not after a pip install and twenty failed
tests.  Once every tool is present it costs a few `which` look-ups and never touches the package manager.
"""
from __future__ import annotations

import argparse
import glob
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str  # what the code asks for
    binaries: tuple[str, ...]  # names to look for, Debian's first, then upstream's and Homebrew's
    apt: str  # the Debian/Ubuntu package that ships it
    brew: str  # the Homebrew formula
    dirs: tuple[str, ...] = ()  # globs searched after PATH (servers that distributions keep off PATH)


POSTGRES_DIRS = ("/usr/lib/postgresql/*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin")

TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool("prometheus", ("prometheus",), "prometheus", "prometheus"),
    Tool("promtool", ("promtool",), "prometheus", "prometheus"),
    # Debian renames the Alertmanager binary; upstream and Homebrew call it `alertmanager`.
    Tool("alertmanager", ("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager", "alertmanager"),
    Tool("amtool", ("amtool",), "prometheus-alertmanager", "alertmanager"),
    Tool("redis-exporter", ("prometheus-redis-exporter", "redis_exporter"), "prometheus-redis-exporter",
         "redis_exporter"),
    Tool("redis-server", ("redis-server",), "redis-server", "redis"),
    # The long-term store (STACK_LONG_TERM=1) and its tests; upstream's release binary is victoria-metrics-prod.
    Tool("victoria-metrics", ("victoria-metrics", "victoria-metrics-prod"), "victoria-metrics", "victoriametrics"),
    # Only when the tests have no PostgreSQL to talk to: they start a throwaway one (tests/fixtures/postgres.py).
    Tool("pg_ctl", ("pg_ctl",), "postgresql", "postgresql@15", POSTGRES_DIRS),
    Tool("initdb", ("initdb",), "postgresql", "postgresql@15", POSTGRES_DIRS),
)}
# What the stack and the suite always need; PostgreSQL's server tools are added only when no server answers.
ALWAYS = ("prometheus", "promtool", "alertmanager", "amtool", "redis-exporter", "redis-server", "victoria-metrics")
POSTGRES = ("pg_ctl", "initdb")


class ToolMissing(RuntimeError):
    pass


def find(name: str) -> str | None:
    """The path of a tool, or None."""
    tool = TOOLS[name]
    for binary in tool.binaries:
        path = shutil.which(binary)
        if path:
            return path
    for pattern in tool.dirs:
        for directory in sorted(glob.glob(pattern), reverse=True):  # the newest version first
            for binary in tool.binaries:
                path = os.path.join(directory, binary)
                if os.access(path, os.X_OK):
                    return path
    return None


def require(name: str) -> str:
    """The path of a tool, or ToolMissing saying how to get it."""
    path = find(name)
    if path is None:
        raise ToolMissing(f"{TOOLS[name].binaries[0]} is not installed; `make install` installs it, "
                          f"or run: {install_command([TOOLS[name]], Platform.detect())}")
    return path


def database_needs_server(url: str | None) -> bool:
    """True when the URL names a PostgreSQL that nothing answers for (the tests then start their own)."""
    if not url or not url.startswith(("postgres://", "postgresql://")):
        return False
    parts = urllib.parse.urlsplit(url)
    return not port_answers(parts.hostname or "127.0.0.1", parts.port or 5432)


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Platform:
    family: str  # "debian", "macos" or "other"
    installer: list[str] | None  # the prefix that installs (["apt-get"], ["sudo", "-n", "apt-get"], ["brew"]) or None
    why_not: str = ""  # why this account cannot install, when installer is None

    @classmethod
    def detect(cls) -> Platform:
        if platform.system() == "Darwin":
            brew = shutil.which("brew")
            return cls("macos", [brew] if brew else None, "" if brew else "Homebrew (brew) is not installed")
        if not is_debian():
            return cls("other", None, "this is neither Debian/Ubuntu nor macOS")
        apt = shutil.which("apt-get")
        if apt is None:
            return cls("debian", None, "apt-get is not on PATH")
        if os.geteuid() == 0:
            return cls("debian", [apt])
        sudo = shutil.which("sudo")
        if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True, timeout=10).returncode == 0:
            return cls("debian", [sudo, "-n", "env", "DEBIAN_FRONTEND=noninteractive", apt])
        return cls("debian", None, "not root, and sudo " + ("asks for a password" if sudo else "is not installed"))


def is_debian() -> bool:
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return os.path.exists("/etc/debian_version")
    ids = {fields.get("ID", "").strip('"'), *fields.get("ID_LIKE", "").strip('"').split()}
    return bool(ids & {"debian", "ubuntu"})


def packages(tools: list[Tool], family: str) -> list[str]:
    return sorted({t.brew if family == "macos" else t.apt for t in tools})


def install_command(tools: list[Tool], plat: Platform) -> str:
    """The one command a person runs to install these tools."""
    pkgs = " ".join(packages(tools, plat.family))
    if plat.family == "macos":
        return f"brew install {pkgs}"
    if plat.family == "debian":
        sudo = "" if os.geteuid() == 0 else "sudo "
        return f"{sudo}apt-get update && {sudo}apt-get install -y --no-install-recommends {pkgs}"
    names = ", ".join(f"{t.binaries[0]} (Debian package {t.apt})" for t in tools)
    return f"install with your system's package manager: {names}"


def run_install(tools: list[Tool], plat: Platform) -> None:
    assert plat.installer is not None
    pkgs = packages(tools, plat.family)
    if plat.family == "macos":
        steps = [[*plat.installer, "install", *pkgs]]
    else:
        # `update` only here, when something is missing: a machine with every tool never reaches the network.
        steps = [[*plat.installer, "update", "-q"],
                 [*plat.installer, "install", "-y", "-q", "--no-install-recommends", *pkgs]]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in steps:
        print("+ " + shlex.join(step), flush=True)
        if subprocess.run(step, env=env).returncode != 0:
            raise ToolMissing(f"`{shlex.join(step)}` failed")


def wanted(database_url: str | None) -> list[str]:
    return [*ALWAYS, *(POSTGRES if database_needs_server(database_url) else ())]


def ensure(names: list[str], *, out=sys.stdout) -> int:
    missing = [TOOLS[n] for n in names if find(n) is None]
    if not missing:
        return 0
    listing = ", ".join(t.binaries[0] for t in missing)
    plat = Platform.detect()
    if plat.installer is None:
        print(f"\nMissing system tools that the stack and the tests run for real: {listing}.\n"
              f"They cannot be installed from here ({plat.why_not}). Run this once, then the same make command again:\n\n"
              f"    {install_command(missing, plat)}\n", file=out)
        return 2
    print(f"installing the missing system tools ({listing}): {' '.join(packages(missing, plat.family))}", file=out,
          flush=True)
    started = time.monotonic()
    try:
        run_install(missing, plat)
    except (ToolMissing, OSError) as exc:
        print(f"\ninstalling failed: {exc}. Run this, then the same make command again:\n\n"
              f"    {install_command(missing, plat)}\n", file=out)
        return 2
    still = [t.binaries[0] for t in missing if find(t.name) is None]
    if still:
        print(f"\nstill missing after the install: {', '.join(still)}", file=out)
        return 2
    print(f"installed in {time.monotonic() - started:.0f}s", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m stack.tools", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_ensure = sub.add_parser("ensure", help="install the missing tools, or print the command that does")
    p_ensure.add_argument("--database-url", help="the tests' database: PostgreSQL's server tools are needed when "
                                                 "nothing answers there")
    p_which = sub.add_parser("which", help="print the path of one tool")
    p_which.add_argument("name", choices=sorted(TOOLS))
    args = parser.parse_args(argv)
    if args.command == "which":
        path = find(args.name)
        if path:
            print(path)
        return 0 if path else 1
    return ensure(wanted(args.database_url))


if __name__ == "__main__":
    sys.exit(main())
