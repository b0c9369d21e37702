"""The counting cache backends against a real Redis: every operation counted by result, and the
return values and exceptions exactly those of the backends they extend."""
from __future__ import annotations

import pytest
from django.core.cache.backends.locmem import LocMemCache as DjangoLocMemCache
from django_prometheus.cache.backends.redis import RedisCache as PrometheusRedisCache
from prometheus_client import REGISTRY

from observability.cache import LocMemCache, RedisCache
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.slow


def counts() -> dict[tuple[str, str], float]:
    out = {}
    for family in REGISTRY.collect():
        if family.name == "studio_cache_operations":
            for s in family.samples:
                if s.name.endswith("_total"):
                    out[(s.labels["operation"], s.labels["result"])] = s.value
    return out


def diff(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def redis_params(url: str, ignore: bool = True) -> dict:
    return {"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "IGNORE_EXCEPTIONS": ignore,
                        "SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25}, "KEY_PREFIX": "cachetest"}


def exercise(cache) -> list:
    """Every operation the app could use, in an order that hits every result."""
    cache.clear()
    return [
        cache.get("a"), cache.get("a", "dflt"), cache.set("a", 1), cache.get("a"), cache.add("a", 2),
        cache.add("b", 0), cache.get("b", "dflt"), cache.get_many(["a", "b", "c"]),
        cache.set_many({"c": 3, "d": 4}), cache.has_key("c"), cache.has_key("zz"), cache.touch("c", 60),
        cache.touch("zz", 60), cache.incr("c"), cache.decr("c", 2), cache.get_or_set("e", 5),
        cache.get_or_set("e", 6), cache.get_or_set("f", lambda: 7), cache.delete("a"), cache.delete("a"),
        cache.delete_many(["b", "c", "zz"]), cache.get("c"),
    ]


EXPECTED_COUNTS = {
    ("get", "miss"): 3, ("get", "hit"): 2, ("set", "set"): 1, ("add", "hit"): 1, ("add", "set"): 1,
    ("get_many", "hit"): 2, ("get_many", "miss"): 1, ("set_many", "set"): 2, ("has_key", "hit"): 1,
    ("has_key", "miss"): 1, ("touch", "set"): 1, ("touch", "miss"): 1, ("incr", "set"): 1, ("decr", "set"): 1,
    ("get_or_set", "miss"): 2, ("get_or_set", "hit"): 1, ("delete", "delete"): 2, ("delete_many", "delete"): 3,
}


def test_redis_backend_counts_every_operation_and_changes_no_result(redis_server):
    ours = RedisCache(redis_server.url, redis_params(redis_server.url))
    theirs = PrometheusRedisCache(redis_server.url, redis_params(redis_server.url))
    expected = exercise(theirs)
    before = counts()
    assert exercise(ours) == expected
    assert diff(before, counts()) == EXPECTED_COUNTS
    for op in ("incr", "decr"):  # a missing key: the same ValueError, counted as a miss
        before = counts()
        with pytest.raises(ValueError):
            getattr(ours, op)("missing")
        assert diff(before, counts()) == {(op, "miss"): 1}


def test_locmem_backend_counts_every_operation_and_changes_no_result():
    ours = LocMemCache("counting-test", {})
    theirs = DjangoLocMemCache("plain-test", {})
    expected = exercise(theirs)
    before = counts()
    assert exercise(ours) == expected
    assert diff(before, counts()) == EXPECTED_COUNTS
    ours.set("falsy", 0)
    assert ours.get("falsy", "dflt") == 0  # a cached 0 is a hit, not the default


def outcome(call, *args):
    """The return value, or the type of the exception raised."""
    try:
        return call(*args)
    except Exception as exc:
        return type(exc)


def test_a_dead_redis_is_counted_as_errors_and_answers_as_django_redis_does():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    ours = RedisCache(url, redis_params(url))
    theirs = PrometheusRedisCache(url, redis_params(url))
    calls = [
        ("get", ("k", "dflt"), "dflt"), ("set", ("k", 1), None), ("add", ("k", 1), None), ("delete", ("k",), None),
        ("get_many", (["k", "l"],), {}), ("set_many", ({"k": 1},), None), ("has_key", ("k",), None),
        ("incr", ("k",), None), ("touch", ("k",), None), ("delete_many", (["k"],), None),
        ("get_or_set", ("k", 3), 3),
    ]
    for name, args, answer in calls:
        expected = outcome(getattr(theirs, name), *args)
        before = counts()
        assert outcome(getattr(ours, name), *args) == expected, name
        assert expected == answer or name == "touch", (name, expected)  # django-redis lets touch raise
        n = len(args[0]) if name.endswith("_many") else 1
        assert diff(before, counts()) == {(name, "error"): n}, name
    # Without IGNORE_EXCEPTIONS the same exception reaches the caller, counted.
    strict, plain = RedisCache(url, redis_params(url, ignore=False)), PrometheusRedisCache(url, redis_params(url, False))
    with pytest.raises(Exception) as theirs_exc:
        plain.set("k", 1)
    before = counts()
    with pytest.raises(type(theirs_exc.value)):
        strict.set("k", 1)
    assert diff(before, counts()) == {("set", "error"): 1}


def keyword_and_generator_calls(cache) -> list:
    """*_many calls with a generator of keys and with keyword arguments: counted per key, read once."""
    cache.clear()
    return [
        cache.set_many(data={"g1": 1, "g2": 2}), cache.get_many(k for k in ("g1", "g2", "g3")),
        cache.get_many(keys=iter(["g1", "g9"])), cache.delete_many(keys=(k for k in ("g1", "g2"))),
        cache.get_many(["g1", "g2"]),
    ]


KEYWORD_COUNTS = {("set_many", "set"): 2, ("get_many", "hit"): 3, ("get_many", "miss"): 4,
                  ("delete_many", "delete"): 2}


def test_many_operations_take_generators_and_keywords_as_their_parents_do(redis_server):
    pairs = [(RedisCache(redis_server.url, redis_params(redis_server.url)),
              PrometheusRedisCache(redis_server.url, redis_params(redis_server.url))),
             (LocMemCache("counting-kw", {}), DjangoLocMemCache("plain-kw", {}))]
    for ours, theirs in pairs:
        expected = keyword_and_generator_calls(theirs)
        before = counts()
        assert keyword_and_generator_calls(ours) == expected
        assert diff(before, counts()) == KEYWORD_COUNTS, type(ours)
