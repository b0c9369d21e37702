"""What the cache instrumentation (app/observability/cache.py) costs per operation.

    .venv/bin/python -m benchmarks.cache_instrumentation                      # local memory
    .venv/bin/python -m benchmarks.cache_instrumentation --redis redis://127.0.0.1:6379/15

Three backends side by side: the bare parent (Django's LocMemCache, or django-prometheus' RedisCache),
the table-driven counting backend (observability.cache) and the hand-written one it replaced (read
from git at HAND_WRITTEN_COMMIT; left out when git cannot show it).  Rounds are interleaved (each
round times every backend on every operation, in a shuffled order), and each figure is the median
over the rounds of the time per call; the overhead is that minus the bare backend's.  Issue 13 keeps
the table-driven version unless it costs more than 2 us per operation more than the hand-written one.
No process-wide state is changed beyond the counters; nothing is asserted: the figures are printed.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HAND_WRITTEN_COMMIT = "73dd0c8"  # the last commit with the twelve hand-written wrappers
LIMIT_US = 2.0


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("LOG_CONSOLE_LEVEL", "CRITICAL")
    import django

    django.setup()


def hand_written_module() -> types.ModuleType | None:
    try:
        source = subprocess.run(["git", "show", f"{HAND_WRITTEN_COMMIT}:app/observability/cache.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    module = types.ModuleType("observability.cache_hand_written")
    exec(compile(source, "cache_hand_written.py", "exec"), module.__dict__)
    return module


def backends(redis_url: str | None) -> dict[str, object]:
    from observability import cache as table_driven

    old = hand_written_module()
    if redis_url:
        from django_prometheus.cache.backends.redis import RedisCache as Bare

        params = {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "IGNORE_EXCEPTIONS": True},
                  "KEY_PREFIX": f"cachebench{os.getpid()}"}
        make = lambda cls: cls(redis_url, params)
        ours, theirs = table_driven.RedisCache, old.RedisCache if old else None
    else:
        from django.core.cache.backends.locmem import LocMemCache as Bare

        make = lambda cls: cls(f"cachebench-{cls.__module__}", {})
        ours, theirs = table_driven.LocMemCache, old.LocMemCache if old else None
    out = {"bare": make(Bare), "table-driven": make(ours)}
    if theirs is not None:
        out["hand-written"] = make(theirs)
    return out


OPERATIONS = {  # name -> a call that can repeat forever with the same result
    "get (hit)": lambda c: c.get("bench:present"),
    "get (miss)": lambda c: c.get("bench:absent"),
    "set": lambda c: c.set("bench:set", 1, 300),
    "get_many (3 keys)": lambda c: c.get_many(["bench:present", "bench:absent", "bench:counter"]),
    "set_many (2 keys)": lambda c: c.set_many({"bench:m1": 1, "bench:m2": 2}, 300),
    "has_key": lambda c: c.has_key("bench:present"),
    "add (present)": lambda c: c.add("bench:present", 2, 300),
    "touch": lambda c: c.touch("bench:present", 300),
    "incr": lambda c: c.incr("bench:counter"),
    "decr": lambda c: c.decr("bench:counter"),
    "delete": lambda c: c.delete("bench:gone"),
    "delete_many (2 keys)": lambda c: c.delete_many(["bench:gone", "bench:gone2"]),
    "get_or_set (hit)": lambda c: c.get_or_set("bench:present", 3, 300),
}


def time_call(call, cache, calls: int) -> float:
    """Microseconds per call, over `calls` calls."""
    started = time.perf_counter_ns()
    for _ in range(calls):
        call(cache)
    return (time.perf_counter_ns() - started) / calls / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", metavar="URL", help="measure on this Redis instead of local memory")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--calls", type=int, default=None, help="calls per operation per round (default: "
                        "2000 on local memory, 200 on Redis)")
    args = parser.parse_args()
    calls = args.calls or (200 if args.redis else 2000)
    setup_django()
    caches = backends(args.redis)
    for cache in caches.values():
        cache.set("bench:present", 1, 300)
        cache.set("bench:counter", 10**9, 300)
        for call in OPERATIONS.values():  # warm up
            time_call(call, cache, 50)
    samples: dict[tuple[str, str], list[float]] = {(b, o): [] for b in caches for o in OPERATIONS}
    rng = random.Random(13)
    for _ in range(args.rounds):
        order = [(b, o) for b in caches for o in OPERATIONS]
        rng.shuffle(order)
        for backend, operation in order:
            samples[backend, operation].append(time_call(OPERATIONS[operation], caches[backend], calls))
    median = {key: statistics.median(values) for key, values in samples.items()}

    where = f"Redis at {args.redis}" if args.redis else "local memory"
    print(f"Cache instrumentation, {where}: median of {args.rounds} interleaved rounds x {calls} calls, us per call")
    instrumented = [b for b in ("hand-written", "table-driven") if b in caches]
    header = f"{'operation':<22}{'bare':>9}{'(IQR)':>8}" + "".join(f"{b + ' +':>16}" for b in instrumented)
    if len(instrumented) == 2:
        header += f"{'table - hand':>14}"
    print(header)
    worst = noise = 0.0
    for operation in OPERATIONS:
        bare = median["bare", operation]
        quartiles = statistics.quantiles(samples["bare", operation], n=4)
        noise = max(noise, quartiles[2] - quartiles[0])
        row = f"{operation:<22}{bare:>9.2f}{quartiles[2] - quartiles[0]:>8.2f}"
        row += "".join(f"{median[b, operation] - bare:>16.2f}" for b in instrumented)
        if len(instrumented) == 2:
            extra = median["table-driven", operation] - median["hand-written", operation]
            worst = max(worst, extra)
            row += f"{extra:>14.2f}"
        print(row)
    print("(+: overhead over the bare backend; table - hand: what the table-driven wrapper costs more; IQR: the\n"
          " spread of the bare backend's rounds, the noise any difference smaller than it is lost in)")
    if len(instrumented) == 2 and noise > LIMIT_US:
        print(f"worst extra cost of the table-driven wrapper: {worst:.2f} us per operation, not decidable here: the "
              f"rounds spread by up to {noise:.1f} us (the network), more than the {LIMIT_US:.0f} us limit; the local-"
              "memory run measures the same wrapper without it")
    elif len(instrumented) == 2:
        verdict = "within" if worst <= LIMIT_US else "OVER"
        print(f"worst extra cost of the table-driven wrapper: {worst:.2f} us per operation ({verdict} the "
              f"{LIMIT_US:.0f} us limit)")
    else:
        print(f"(the hand-written backend was not compared: `git show {HAND_WRITTEN_COMMIT}` failed)")
    for cache in caches.values():
        cache.delete_many(["bench:present", "bench:counter", "bench:set", "bench:m1", "bench:m2"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
