"""One routine that writes generated files, or checks them (`--check`), for every generator.

A generator renders {path: text} (paths relative to the repository); `sync` writes what changed and
removes generated files it no longer renders from the same directories, or with check=True changes
nothing and reports each file that is missing, out of date (with a diff) or stale.  A file counts as
generated when it says "generated, do not edit" in its first lines (YAML comments) or, for a dashboard (JSON),
in its `description`, so hand-written files beside generated ones are never touched.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = re.compile(r"generated.{0,80}do not edit", re.IGNORECASE)


def is_generated(path: Path) -> bool:
    try:
        with path.open(errors="replace") as fh:
            head = fh.read(600) if path.suffix != ".json" else fh.read()
    except OSError:
        return False
    if path.suffix != ".json":
        return bool(GENERATED.search(head))
    # A dashboard says it in its description: Grafana's schema has no field for a marker of our own.
    try:
        description = json.loads(head).get("description")
    except (ValueError, AttributeError):
        return False
    return isinstance(description, str) and bool(GENERATED.search(description))


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _stale(files: Mapping[Path, str]) -> list[Path]:
    """Generated files beside the rendered ones (same directory and suffix) that are no longer rendered."""
    places = {(path.parent, path.suffix) for path in files}
    return sorted(p for directory, suffix in places if directory.is_dir()
                  for p in directory.glob(f"*{suffix}") if p not in files and is_generated(p))


def sync(files: Mapping[Path, str], *, check: bool, root: Path = ROOT, out=sys.stdout) -> list[str]:
    """Write (or with check=True only compare) `files` under `root`; the problems found, empty when in sync."""
    root = root.resolve()
    files = {(root / p).resolve(): text for p, text in files.items()}
    rel = lambda path: _rel(path, root)
    problems = []
    for path, text in files.items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            problems.append(f"{'missing' if current is None else 'out of date'}: {rel(path)}")
            if current is not None:
                out.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                    f"{rel(path)} (committed)", f"{rel(path)} (rendered)"))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {rel(path)}", file=out)
    for path in _stale(files):
        if check:
            problems.append(f"stale (no longer generated): {rel(path)}")
        else:
            path.unlink()
            print(f"removed {rel(path)} (no longer generated)", file=out)
    return problems


def report(problems: list[str], files: Mapping[Path, str], *, check: bool) -> int:
    """Print what `sync` found; the exit status (1 when anything drifted)."""
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} generated file(s) drifted from their source: run `make generate` and commit.",
              file=sys.stderr)
        return 1
    if check:
        print(f"{len(files)} generated file(s) up to date")
    return 0


def main(render: Callable[[], Mapping[Path, str]], description: str, argv: list[str] | None = None) -> int:
    """The command line every generator has: write, or `--check` and exit 1 when anything drifted."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a generated file is missing, out of date or stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to write to or check (default: this one)")
    args = parser.parse_args(argv)
    files = render()
    return report(sync(files, check=args.check, root=args.root), files, check=args.check)
