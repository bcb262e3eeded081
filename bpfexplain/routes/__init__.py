"""Attach routes: one module per way a program gets attached to something.

:data:`ROUTES` is the registry every stage asks: the tracker for the handlers of
each syscall and bpf command, the story for a route's sentence and terms, the
picture for how an attachment's holder looks, and :mod:`bpfexplain.traced` for the
syscalls ``run`` must trace.  A new route is a new module here plus one line in
:data:`ROUTES`; ``tests/test_routes_consistency.py`` checks that every part of it is
wired (traced, prefiltered, decoded in deep mode, explained in the glossary).
"""

from __future__ import annotations

from collections.abc import Iterable

from bpfexplain.routes import (
    link_create,
    netlink_tc,
    netlink_xdp,
    perf_event,
    prog_attach,
    raw_tracepoint,
    socket_filter,
)
from bpfexplain.routes.base import Holder, HolderKind, Route

__all__ = ["ROUTES", "Holder", "HolderKind", "Route", "attach_calls", "by_name", "for_via"]

ROUTES: tuple[Route, ...] = (
    perf_event.ROUTE,
    link_create.ROUTE,
    raw_tracepoint.ROUTE,
    prog_attach.ROUTE,
    socket_filter.ROUTE,
    netlink_xdp.ROUTE,
    netlink_tc.ROUTE,
)
"""Every attach route, in the order the story introduces their terms."""

_BY_VIA: dict[str, Route] = {via: route for route in ROUTES for via in route.vias}
_BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}


def for_via(via: str) -> Route:
    """The route that makes attachments with this ``via``."""
    return _BY_VIA[via]


def by_name(name: str) -> Route:
    """The route called ``name`` (actions of a route carry it in ``detail["route"]``)."""
    return _BY_NAME[name]


def attach_calls(routes: Iterable[Route] = ROUTES) -> frozenset[str]:
    """Every call whose failure belongs among the attach steps."""
    return frozenset(name for route in routes for name in route.attach_calls)
