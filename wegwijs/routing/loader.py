"""Read and validate every routing file of ``municipalities/routing/``.

``_default.yml`` is the national/default queue (``gemeente: null``); every other file is
one gemeente, named by :func:`~wegwijs.routing.schema.gemeente_slug` of its CBS name
(``'s-Hertogenbosch`` → ``s-hertogenbosch.yml``). Staff keys are unique over all files
(``referrals.assignee_key`` and the inbox log-in rely on it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml
from pydantic import ValidationError

from wegwijs.routing.schema import RoutingFile, StaffMember, gemeente_slug
from wegwijs.settings import REPO_ROOT

ROUTING_DIR = REPO_ROOT / "municipalities" / "routing"
DEFAULT_FILE = "_default.yml"


class RoutingError(ValueError):
    """A routing file is missing, not YAML, or breaks the schema (the message names the file)."""


@dataclass(frozen=True)
class RoutingTable:
    """All routing files: the default queue and one entry per gemeente (by CBS name)."""

    default: RoutingFile
    gemeenten: dict[str, RoutingFile] = field(default_factory=dict)  # CBS name → file

    def for_gemeente(self, name: str | None) -> RoutingFile | None:
        """The routing of gemeente ``name`` (case-insensitive CBS name), or None."""
        if not name:
            return None
        wanted = name.strip().casefold()
        for gemeente, routing in self.gemeenten.items():
            if gemeente.casefold() == wanted:
                return routing
        return None

    def for_queue(self, queue_key: str) -> RoutingFile:
        """The routing file of a ``route_queue`` value (``"Utrecht"`` or ``"default"``).

        Raises:
            KeyError: no such queue (e.g. its file was removed after the referral was routed).
        """
        if queue_key == "default":
            return self.default
        routing = self.for_gemeente(queue_key)
        if routing is None:
            raise KeyError(queue_key)
        return routing

    def staff(self) -> Iterator[tuple[RoutingFile, StaffMember]]:
        """Every staff member with the file they belong to."""
        for routing in (self.default, *self.gemeenten.values()):
            for member in routing.staff:
                yield routing, member


def _read(path: Path) -> RoutingFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RoutingError(f"{path.name}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise RoutingError(f"{path.name}: top level must be a mapping")
    try:
        return RoutingFile(**data)
    except ValidationError as error:
        raise RoutingError(f"{path.name}: {error}") from error


def load_routing(directory: Path | str = ROUTING_DIR) -> RoutingTable:
    """Read ``directory`` (default ``municipalities/routing/``) into a :class:`RoutingTable`.

    Raises:
        RoutingError: ``_default.yml`` is missing; a file is invalid; a file name is not
            the slug of its gemeente; two files name the same gemeente; a staff key is used twice.
    """
    directory = Path(directory)
    default_path = directory / DEFAULT_FILE
    if not default_path.is_file():
        raise RoutingError(f"{default_path}: missing (the national/default queue)")
    default = _read(default_path)
    if default.gemeente is not None:
        raise RoutingError(f"{DEFAULT_FILE}: must have 'gemeente: null'")
    gemeenten: dict[str, RoutingFile] = {}
    for path in sorted(directory.glob("*.yml")):
        if path.name == DEFAULT_FILE:
            continue
        routing = _read(path)
        if routing.gemeente is None:
            raise RoutingError(f"{path.name}: 'gemeente' is required (only {DEFAULT_FILE} has none)")
        if path.stem != gemeente_slug(routing.gemeente):
            raise RoutingError(f"{path.name}: gemeente {routing.gemeente} belongs in {gemeente_slug(routing.gemeente)}.yml")
        if routing.gemeente in gemeenten:
            raise RoutingError(f"{path.name}: gemeente {routing.gemeente} has two routing files")
        gemeenten[routing.gemeente] = routing
    table = RoutingTable(default=default, gemeenten=gemeenten)
    seen: dict[str, str] = {}
    for routing, member in table.staff():
        if member.key in seen:
            raise RoutingError(f"staff key {member.key} is used in {seen[member.key]} and {routing.queue_key}")
        seen[member.key] = routing.queue_key
    return table


@functools.lru_cache(maxsize=4)
def cached_routing(directory: Path | str = ROUTING_DIR) -> RoutingTable:
    """:func:`load_routing`, read once per process and directory (the action server, the worker)."""
    return load_routing(directory)
