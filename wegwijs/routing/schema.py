"""Schema of ``municipalities/routing/<gemeente-slug>.yml``: who gets a gemeente's referrals.

A municipality edits its routing file (content as data); these pydantic (1.10) models
validate it when it is loaded (:func:`wegwijs.routing.loader.load_routing`). Unknown keys
are rejected everywhere. Checked against the project's own data, never copies of it:

* language codes: ``supported`` and ``in_progress`` of ``languages/registry.yml``
  (:func:`wegwijs.content.loader.load_registry`);
* gemeente names: the CBS names in ``municipalities/gemeenten/<province>.yml``.

Secrets (SMTP password, webhook key) are never in the file: only the *name* of the
environment variable that holds them (``password_env: WEGWIJS_SMTP_UTRECHT_PASSWORD``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Dict, List, Literal, Optional

import yaml
from pydantic import AnyHttpUrl, BaseModel, Field, conint, constr, root_validator, validator

from wegwijs.settings import REPO_ROOT

GEMEENTEN_DIR = REPO_ROOT / "municipalities" / "gemeenten"

#: Weekday keys of ``working_hours`` (Monday first).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: ``"09:00-17:00"``: 24-hour clock, start before end.
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_ENV_NAME = r"^[A-Z][A-Z0-9_]*$"
_STAFF_KEY = r"^[a-z0-9][a-z0-9-]{1,99}$"


def gemeente_slug(name: str) -> str:
    """File-name slug of a CBS gemeente name: ``'s-Hertogenbosch`` → ``s-hertogenbosch``,
    ``Súdwest-Fryslân`` → ``sudwest-fryslan``, ``Bergen (NH.)`` → ``bergen-nh``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower().replace("'", "")).strip("-")
    return slug


@functools.lru_cache(maxsize=4)
def cbs_gemeenten(directory: Path = GEMEENTEN_DIR) -> frozenset[str]:
    """The official CBS gemeente names of ``municipalities/gemeenten/*.yml`` (``name:`` keys)."""
    names: set[str] = set()
    for path in sorted(Path(directory).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names.update(str(entry["name"]) for entry in data.get("gemeenten") or [] if isinstance(entry, dict))
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def project_languages() -> frozenset[str]:
    """Language codes of the project: ``supported`` + ``in_progress`` in ``languages/registry.yml``."""
    from wegwijs.content.loader import load_registry

    registry = load_registry()
    return frozenset(registry.supported) | frozenset(registry.in_progress)


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


class _Strict(BaseModel):
    class Config:
        extra = "forbid"
        allow_mutation = False


class EmailSettings(_Strict):
    """How notification e-mails of this gemeente are sent (SMTP, :mod:`wegwijs.outbox.email`)."""

    to: List[str] = Field(default_factory=list)  # fixed extra recipients (Cc) of every notification
    from_: str = Field(alias="from")
    smtp_host: constr(strip_whitespace=True, min_length=1)  # type: ignore[valid-type]
    smtp_port: conint(ge=1, le=65535) = 587  # type: ignore[valid-type]
    username_env: Optional[constr(regex=_ENV_NAME)] = None  # type: ignore[valid-type]
    password_env: Optional[constr(regex=_ENV_NAME)] = None  # type: ignore[valid-type]
    starttls: bool = True

    _addresses = validator("to", each_item=True, allow_reuse=True)(_email)
    _sender = validator("from_", allow_reuse=True)(_email)


class WebhookSettings(_Strict):
    """A webhook that gets every new referral as JSON, signed with HMAC-SHA256 (docs/routing.md)."""

    url: AnyHttpUrl
    secret_env: constr(regex=_ENV_NAME)  # type: ignore[valid-type]


class Notifications(_Strict):
    """E-mail and/or webhook; at least one (a referral must reach a person)."""

    email: Optional[EmailSettings] = None
    webhook: Optional[WebhookSettings] = None

    @root_validator(skip_on_failure=True)
    def _at_least_one(cls, values: dict) -> dict:  # noqa: N805
        if values.get("email") is None and values.get("webhook") is None:
            raise ValueError("notifications need 'email' and/or 'webhook'")
        return values


class Queue(_Strict):
    """The team mailbox a referral goes to when no person fits (and in Cc otherwise)."""

    name: constr(strip_whitespace=True, min_length=1)  # type: ignore[valid-type]
    email: str

    _address = validator("email", allow_reuse=True)(_email)


class StaffMember(_Strict):
    """A klantmanager or sleutelpersoon who can take referrals.

    ``key`` is stable: ``referrals.assignee_key`` holds it and the inbox logs the
    sleutelpersoon in by it. ``first_name`` may be told to the parent (unless
    ``show_first_name`` is false); no other detail of the person ever is.
    """

    key: constr(regex=_STAFF_KEY)  # type: ignore[valid-type]
    first_name: constr(strip_whitespace=True, min_length=1, max_length=40)  # type: ignore[valid-type]
    role: Literal["klantmanager", "sleutelpersoon"]
    gender: Literal["woman", "man"]
    languages: List[str] = Field(min_items=1)
    email: Optional[str] = None
    working_hours: Dict[str, str] = Field(default_factory=dict)
    show_first_name: bool = True
    active: bool = True

    @validator("languages", each_item=True)
    def _known_language(cls, value: str) -> str:  # noqa: N805
        known = project_languages()
        if value not in known:
            raise ValueError(f"unknown language code {value!r} (languages/registry.yml has {sorted(known)})")
        return value

    @validator("email")
    def _staff_email(cls, value: str | None) -> str | None:  # noqa: N805
        return None if value is None else _email(value)

    @validator("working_hours")
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:  # noqa: N805
        for day, hours in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"working_hours: {day!r} is not one of {', '.join(WEEKDAYS)}")
            match = _HOURS.match(str(hours))
            if not match:
                raise ValueError(f"working_hours.{day}: {hours!r} is not like \"09:00-17:00\"")
            start, end = match.group(1, 2), match.group(3, 4)
            if start >= end:
                raise ValueError(f"working_hours.{day}: {hours!r} ends before it starts")
        return value


class RoutingFile(_Strict):
    """One ``municipalities/routing/<slug>.yml``; ``gemeente: null`` only in ``_default.yml``."""

    gemeente: Optional[str]
    queue: Queue
    response_days: conint(ge=1, le=30)  # type: ignore[valid-type]  # working days (mon-fri)
    retention_days: conint(ge=1, le=3650)  # type: ignore[valid-type]
    notifications: Notifications
    staff: List[StaffMember] = Field(default_factory=list)

    @validator("gemeente")
    def _cbs_name(cls, value: str | None) -> str | None:  # noqa: N805
        if value is not None and value not in cbs_gemeenten():
            raise ValueError(f"{value!r} is not a CBS gemeente name (municipalities/gemeenten/)")
        return value

    @validator("staff")
    def _unique_keys(cls, value: list[StaffMember]) -> list[StaffMember]:  # noqa: N805
        keys = [member.key for member in value]
        doubles = sorted({key for key in keys if keys.count(key) > 1})
        if doubles:
            raise ValueError(f"staff keys used twice: {doubles}")
        return value

    @property
    def queue_key(self) -> str:
        """The value of ``referrals.route_queue``: the gemeente's CBS name, or ``"default"``."""
        return self.gemeente or "default"
