"""The client's address, for limits keyed by it (accounts/throttle.py).

X-Forwarded-For is whatever the client wrote unless a proxy we run appended to it, so it is read only when
the connection comes from one of settings.TRUSTED_PROXY_NETWORKS: then the client is the right-most address
that is not itself a trusted proxy (what each proxy appended; anything to its left the client may have
forged).  With no trusted proxies (the default) the address is REMOTE_ADDR, and a forged header changes
nothing.
"""
from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

UNKNOWN = "unknown"  # no usable REMOTE_ADDR (a Unix socket): one shared bucket, rather than none
IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: limit it as one address


def invalid_networks(cidrs) -> list[str]:
    """The entries that are not networks (accounts' system check names them)."""
    bad = []
    for cidr in cidrs:
        try:
            ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            bad.append(str(cidr))
    return bad


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    # An entry that is not a network trusts nothing (the system check reports it): never a 500, never a wider trust.
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip() and not invalid_networks([c]))


def _parse(value: str):
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address, networks) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_ip(request):
    """The client's ipaddress object, or None when there is no usable address."""
    remote = _parse(str(request.META.get("REMOTE_ADDR", "")))
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXY_NETWORKS", ()) or ()))
    if remote is None or not networks or not _trusted(remote, networks):
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))[:2048].split(",")
    for hop in reversed(forwarded):
        address = _parse(hop)
        if address is None:  # garbage where a proxy should have written an address: stop believing the header
            return remote
        if not _trusted(address, networks):
            return address
    return remote


def client_key(request) -> str:
    """The client's address as a limit's key: IPv6 by its /64, UNKNOWN when there is none."""
    address = client_ip(request)
    if address is None:
        return UNKNOWN
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address) + f"/{IPV6_PREFIX}"
    return str(address)
