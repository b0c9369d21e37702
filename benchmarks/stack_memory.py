"""Memory of the running stack (docs/benchmarks.md): figures, not tests.

    .venv/bin/python benchmarks/stack_memory.py            # after `make up` and, for the issue's figure, `make loadtest`

Prints, for every gunicorn server the stack runs (pid files under STACK_RUN_DIR/pids), each worker's resident set
(VmRSS) and proportional set (Pss: a forked worker shares the master's pages, so RSS counts them once per worker,
Pss splits them), the master's too; then Prometheus' head series (in total and per scrape job) and its resident
memory, from Prometheus itself and from /proc.  `--json FILE` writes the same figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_kb(pid: int, field: str, name: str = "status") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def rss_mib(pid: int) -> float | None:
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024


def memory(pid: int) -> dict:
    return {"pid": pid, "rss_mib": round(rss_mib(pid) or 0, 1),
            "pss_mib": round((_status_kb(pid, "Pss", "smaps_rollup") or 0) / 1024, 1)}


def gunicorn_masters(run_dir: Path) -> dict[str, int]:
    """The stack's app services: the supervisor's pid file holds the command's process group, gunicorn's master."""
    masters = {}
    for pid_file in sorted((run_dir / "pids").glob("app*.pid")):
        pid = int(pid_file.read_text())
        if Path(f"/proc/{pid}").exists():
            masters[pid_file.stem] = pid
    return masters


def prometheus_query(url: str, expr: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=10) as r:
        return json.load(r)["data"]["result"]


def main(argv=None) -> int:
    from config import env  # reads .env, as make up does
    from tests.fixtures.servers import child_pids  # run from the repository root (python -m), as the others

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=os.environ.get("STACK_RUN_DIR", str(ROOT / "var" / "stack")))
    parser.add_argument("--prometheus", default=f"http://127.0.0.1:{env.get('PROMETHEUS_PORT', '9090')}")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)

    figures: dict = {"servers": {}, "prometheus": {}}
    for name, master in gunicorn_masters(Path(args.run_dir)).items():
        workers = [memory(pid) for pid in sorted(child_pids(master))]
        figures["servers"][name] = {"master": memory(master), "workers": workers}
        print(f"{name}: master pid {master} RSS {figures['servers'][name]['master']['rss_mib']} MiB")
        for w in workers:
            print(f"  worker pid {w['pid']}: RSS {w['rss_mib']} MiB, PSS {w['pss_mib']} MiB")
        if workers:
            print(f"  mean per worker: RSS {sum(w['rss_mib'] for w in workers) / len(workers):.1f} MiB, "
                  f"PSS {sum(w['pss_mib'] for w in workers) / len(workers):.1f} MiB")
    if not figures["servers"]:
        print(f"no gunicorn found from {args.run_dir}/pids (is the stack up?)", file=sys.stderr)

    try:
        head = prometheus_query(args.prometheus, "prometheus_tsdb_head_series")
        per_job = prometheus_query(args.prometheus, 'count by (job) ({__name__=~".+"})')
        rss = prometheus_query(args.prometheus, 'process_resident_memory_bytes{job="prometheus"}')
    except OSError as exc:
        print(f"Prometheus at {args.prometheus} does not answer: {exc}", file=sys.stderr)
        return 1
    prom = figures["prometheus"]
    prom["head_series"] = int(float(head[0]["value"][1])) if head else None
    prom["series_per_job"] = {r["metric"].get("job", ""): int(float(r["value"][1])) for r in per_job}
    prom["rss_mib"] = round(float(rss[0]["value"][1]) / 2**20, 1) if rss else None
    print(f"prometheus: head series {prom['head_series']}, RSS {prom['rss_mib']} MiB")
    for job, n in sorted(prom["series_per_job"].items()):
        print(f"  {job}: {n} series scraped now")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
