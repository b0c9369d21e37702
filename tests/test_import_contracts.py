"""The import contracts of pyproject.toml ([tool.importlinter], `make lint`): they hold, and each one
breaks when the import it forbids comes back (injected into a copy of app/, never into app/ itself).
An import inside a function counts: that is how the cycles these contracts removed were hidden."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.fixtures.servers import APP_DIR, PROJECT_DIR

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = PROJECT_DIR / "pyproject.toml"
CONTRACTS = [c["name"] for c in tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]]


def lint_imports(app_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), str(CONFIG), "--no-cache", "--no-logo"], cwd=app_dir,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(app_dir), "PATH": ""})


def status(out: subprocess.CompletedProcess) -> dict[str, str]:
    """{contract name: KEPT | BROKEN} from lint-imports' report (names wrap across lines there)."""
    text = " ".join(out.stdout.split())
    return {name: "KEPT" if f"{name} KEPT" in text else "BROKEN" if f"{name} BROKEN" in text else "?"
            for name in CONTRACTS}


def test_the_contracts_hold():
    out = lint_imports(APP_DIR)
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(status(out).values()) == {"KEPT"}, out.stdout


INJECTED = {  # module -> (what is added to it, the contract that must break)
    "observability/celery_metrics.py": ("def _app():\n    from config.celery import app\n\n    return app\n",
                                        "observability does not import config"),
    "observability/metrics.py": ("def _labels():\n    from observability import errors\n\n    return errors\n",
                                 "observability in layers"),
    "courses/services.py": ("def _enqueue():\n    from courses import tasks\n\n    return tasks\n",
                            "courses.services never enqueues"),
    "forum/models.py": ("def _add():\n    from forum import services\n\n    return services\n",
                        "no import cycle inside any of the project's packages"),
    "core/api.py": ("def _drill():\n    from drills import views\n\n    return views\n",
                    "nothing but the URLconf and settings knows the drills app"),
}


@pytest.mark.parametrize("module", sorted(INJECTED))
def test_a_forbidden_import_breaks_its_contract(tmp_path, module):
    copy = tmp_path / "app"
    shutil.copytree(APP_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*_cache"))
    code, contract = INJECTED[module]
    with open(copy / module, "a") as f:
        f.write("\n\n" + code)
    out = lint_imports(copy)
    assert out.returncode != 0, out.stdout
    (name,) = [n for n in CONTRACTS if n.startswith(contract)]
    assert status(out)[name] == "BROKEN", out.stdout
