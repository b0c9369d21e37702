"""The repository's shape holds (issue 13): everything imports everything by name, modules stay small,
and the spec imports no Django."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600


def tracked_python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).exists()]


def test_no_module_edits_the_import_path():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in tracked_python_files()
                 for i, line in enumerate(p.read_text().splitlines(), 1) if "sys" + ".path" in line]
    assert offenders == [], f"import by name (the project is installed), not by editing the import path: {offenders}"


def test_no_per_file_import_order_exemptions():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ignores = config["tool"]["ruff"]["lint"].get("per-file-ignores", {})
    assert not [f for f, codes in ignores.items() if "E402" in codes]


def test_no_module_is_over_the_size_limit():
    sizes = {p.relative_to(ROOT): len(p.read_text().splitlines()) for p in tracked_python_files()}
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_spec_imports_without_django_from_anywhere(tmp_path):
    code = ("import sys, monitoring_spec, monitoring_spec.contract, monitoring_spec.routing, monitoring_spec.promql; "
            "assert 'django' not in sys.modules, 'the spec imported Django'; print(monitoring_spec.ERROR_SPIKE_MIN_ERRORS)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "10", done.stderr
