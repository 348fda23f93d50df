"""Routing of warme overdrachten to the klantmanager or sleutelpersoon who fits (issue 9).

* :mod:`wegwijs.routing.schema`: the YAML schema of ``municipalities/routing/<slug>.yml``;
* :mod:`wegwijs.routing.loader`: reads and validates every routing file;
* :mod:`wegwijs.routing.rules`: :func:`route`, a pure function from a referral to a Route.

See ``docs/routing.md``.
"""

from wegwijs.routing.loader import ROUTING_DIR, RoutingError, RoutingTable, cached_routing, load_routing
from wegwijs.routing.rules import ContactDescription, Route, route

__all__ = [
    "ROUTING_DIR", "RoutingError", "RoutingTable", "cached_routing", "load_routing",
    "ContactDescription", "Route", "route",
]
