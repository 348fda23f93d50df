"""Durable spool of referrals that could not be stored (the database was down).

When the action server cannot store a referral (a :class:`sqlalchemy.exc.SQLAlchemyError`),
:func:`write` keeps what the parent said in one file of the spool folder
(``settings.spool_dir``, ``WEGWIJS_SPOOL_DIR``, default ``<repo>/var/spool``), and the
outbox worker (:func:`wegwijs.outbox.worker.run`) stores it with :func:`drain` as soon as
the database answers again.

Files:

- the folder is created with mode 0700, each file is 0600: they hold personal data;
- a file is written under a temporary name (``.<id>.tmp``), flushed to disk and then
  renamed (``os.replace``) to ``<kind>-<UTC time>-<id>.json`` (``id``: 12 characters of
  the reference alphabet), so a reader never sees half a file;
- a file holds ``{"version": 1, "id", "kind": "normal"|"urgent", "urgent_reason",
  "join": [references], "spooled_at", "referral": ReferralIn}``; ``join`` lists the
  referrals it belongs to, in the order they are tried (the conversation's urgent
  referral, the referral held while the contact questions were open);
- :func:`drain` stores urgent files first, then the others, oldest first. A file is deleted
  only after its referral committed; stored again after a crash between the commit and
  the delete, it is found (same conversation, ``created_at`` = ``spooled_at``) and not
  stored twice. A file that cannot be read is moved to ``bad/`` (kept for an operator);
- logs name the file's id, kind and the stored reference only, never what the parent said.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from wegwijs.referrals.service import REFERENCE_ALPHABET, ReferralIn

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import sessionmaker

    from wegwijs.referrals.summary import DutchNames
    from wegwijs.routing import RoutingTable

logger = logging.getLogger(__name__)

VERSION = 1
KINDS = ("urgent", "normal")  # the order a drain stores them in
BAD_DIR = "bad"
LOCK_FILE = ".lock"
TMP_SUFFIX = ".tmp"
#: a temporary file this old was left by a writer that stopped mid-write: moved to bad/
STALE_TMP_SECONDS = 3600
#: characters of a spool file's id: the reference alphabet (hardly any digits, so the log
#: redaction's "8 digits or more is a phone number" never hides an id)
ID_LENGTH = 12


class InvalidSpoolFile(ValueError):
    """A spool file that cannot be read as a referral (moved to ``bad/``)."""


@dataclass(frozen=True)
class Spooled:
    """One spool file, read and validated."""

    path: Path
    id: str
    kind: str
    urgent_reason: Optional[str]
    join: tuple[str, ...]
    spooled_at: datetime
    referral: ReferralIn


@dataclass
class DrainResult:
    """What one :func:`drain` did: files ``stored`` (referrals committed, files deleted),
    moved to ``bad``, ``waiting`` afterwards (``urgent_waiting`` of them urgent), files in
    ``bad/`` afterwards (``in_bad``), and whether it stopped because the database was down
    (``database_down``)."""

    stored: list[str] = field(default_factory=list)  # references, in the order stored
    bad: int = 0
    waiting: int = 0
    urgent_waiting: int = 0
    in_bad: int = 0
    database_down: bool = False


def new_id() -> str:
    """A fresh spool file id, e.g. ``K7QXMAT3PC9D``."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(ID_LENGTH))


def file_id(path: Path) -> str:
    """The id in a spool file's name (what logs show), else the name."""
    name = Path(path).name
    stem = name[:-len(".json")] if name.endswith(".json") else name
    last = stem.rsplit("-", 1)[-1].strip(".")
    return last if len(last) == ID_LENGTH and set(last) <= set(REFERENCE_ALPHABET) else name


def _ensure_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is cut by the umask


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write(
    spool_dir: Path, data: ReferralIn, *, join: Sequence[str] = (), now: datetime | None = None,
) -> Path:
    """Write ``data`` to the spool atomically; return the file's path.

    ``join``: references of stored referrals it belongs to (tried in order when it is
    drained; a new referral is stored when none of them exists any more).

    Raises:
        OSError: the folder or file cannot be written.
    """
    spool_dir = Path(spool_dir)
    _ensure_dir(spool_dir)
    spooled_at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    spool_id = new_id()
    kind = "urgent" if data.urgency == "urgent" else "normal"
    record = {
        "version": VERSION,
        "id": spool_id,
        "kind": kind,
        "urgent_reason": data.urgency_reason if kind == "urgent" else None,
        "join": [str(r) for r in join if r],
        "spooled_at": spooled_at.isoformat(),
        "referral": json.loads(data.json()),
    }
    body = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
    final = spool_dir / f"{kind}-{spooled_at.strftime('%Y%m%dT%H%M%S%fZ')}-{spool_id}.json"
    tmp = spool_dir / f".{spool_id}{TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(spool_dir)
    return final


def read(path: Path) -> Spooled:
    """Read and validate one spool file.

    Raises:
        InvalidSpoolFile: not JSON, not this format, or not a valid :class:`ReferralIn`
            (the message names the problem, never a value).
        OSError: the file cannot be read.
    """
    try:
        record = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidSpoolFile("not JSON") from None
    if not isinstance(record, dict) or record.get("version") != VERSION:
        raise InvalidSpoolFile("not a spool file of version 1")
    kind, join, spool_id = record.get("kind"), record.get("join", []), record.get("id")
    if kind not in KINDS:
        raise InvalidSpoolFile("unknown kind")
    if not isinstance(spool_id, str) or not spool_id:
        raise InvalidSpoolFile("no id")
    if not isinstance(join, list) or not all(isinstance(r, str) and r for r in join):
        raise InvalidSpoolFile("join is not a list of references")
    try:
        spooled_at = datetime.fromisoformat(str(record.get("spooled_at")))
    except ValueError:
        raise InvalidSpoolFile("spooled_at is not a time") from None
    if spooled_at.tzinfo is None:
        raise InvalidSpoolFile("spooled_at has no time zone")
    if not isinstance(record.get("referral"), dict):
        raise InvalidSpoolFile("no referral")
    try:
        referral = ReferralIn.parse_raw(json.dumps(record["referral"]))
    except ValueError as error:  # pydantic.ValidationError; its text may quote values: not kept
        fields = sorted({str(e.get("loc", ("?",))[0]) for e in getattr(error, "errors", lambda: [])()})
        raise InvalidSpoolFile(f"invalid referral fields: {', '.join(fields) or '?'}") from None
    if (referral.urgency == "urgent") != (kind == "urgent"):
        raise InvalidSpoolFile("kind and urgency differ")
    return Spooled(Path(path), spool_id, kind, record.get("urgent_reason"), tuple(join),
                   spooled_at.astimezone(timezone.utc), referral)


def pending_files(spool_dir: Path) -> list[Path]:
    """The spool's finished files (no temporary ones, nothing in ``bad/``), by name."""
    spool_dir = Path(spool_dir)
    if not spool_dir.is_dir():
        return []
    return sorted(p for p in spool_dir.iterdir()
                  if p.suffix == ".json" and not p.name.startswith(".") and p.is_file())


def count(spool_dir: Path) -> dict[str, int]:
    """``{"waiting", "urgent", "bad"}``: files waiting (urgent ones by their name) and in ``bad/``."""
    files = pending_files(spool_dir)
    bad = Path(spool_dir) / BAD_DIR
    return {
        "waiting": len(files),
        "urgent": sum(1 for p in files if p.name.startswith("urgent-")),
        "bad": sum(1 for p in bad.iterdir() if p.is_file()) if bad.is_dir() else 0,
    }


def _move_to_bad(path: Path, spool_dir: Path, reason: str) -> None:
    bad = spool_dir / BAD_DIR
    _ensure_dir(bad)
    os.replace(path, bad / path.name)
    _fsync_dir(spool_dir)
    logger.error("referrals.spool.bad file=%s reason=%s (moved to %s/)", file_id(path), reason, BAD_DIR)


@contextlib.contextmanager
def _drain_lock(spool_dir: Path) -> Iterator[bool]:
    """One drain at a time per spool (``wegwijs serve``'s worker and a ``wegwijs worker``):
    yields False when another process drains it now."""
    import fcntl

    fd = os.open(spool_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def discard_conversation(spool_dir: Path, conversation_id: str, *, wait_seconds: float = 30.0) -> int:
    """Delete the spool files (also those in ``bad/`` that still name it) of one
    conversation: "delete my data" must not be undone by a later drain. Waits for a
    running drain (at most ``wait_seconds``), so a referral it is storing is in the
    database when this returns. Returns how many files were deleted."""
    import fcntl

    spool_dir = Path(spool_dir)
    if not spool_dir.is_dir():
        return 0
    fd = os.open(spool_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        locked = False
        while not locked:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break  # delete what is there anyway
                time.sleep(0.1)
        bad = spool_dir / BAD_DIR
        candidates = pending_files(spool_dir) + (sorted(p for p in bad.iterdir() if p.is_file()) if bad.is_dir() else [])
        deleted = 0
        for path in candidates:
            try:
                record = json.loads(path.read_bytes().decode("utf-8"))
                owner = record["referral"]["conversation_id"]
            except Exception:  # unreadable: not known to be this parent's
                continue
            if isinstance(owner, str) and owner.strip() == conversation_id.strip():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    deleted += 1
        if deleted:
            _fsync_dir(spool_dir)
        if locked:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return deleted
    finally:
        os.close(fd)


def _already_stored(session_factory: sessionmaker, item: Spooled) -> Optional[str]:
    """The reference of the referral stored from ``item`` before (a drain that stopped
    between the commit and the delete), or None."""
    import sqlalchemy as sa

    from wegwijs.db.models import Referral

    with session_factory.begin() as session:
        return session.execute(
            sa.select(Referral.reference).where(
                Referral.conversation_id == item.referral.conversation_id,
                Referral.created_at == item.spooled_at,
            ).limit(1)
        ).scalar_one_or_none()


def store(
    session_factory: sessionmaker, item: Spooled, *, routing: RoutingTable | None = None,
    names: DutchNames | None = None,
) -> str:
    """Store one spooled referral the way the action would have; return its reference.

    Urgent: added to the first referral of ``join`` that still exists
    (:func:`service.add_urgent_signal`), else stored new. Normal: its contact wishes join
    that referral, held notifications are released (:func:`service.update_contact`), else
    stored new. A new referral gets ``created_at`` = ``spooled_at`` (when the parent asked);
    its notifications are due at once.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is still unreachable or refused it.
    """
    from wegwijs.referrals import service

    found = _already_stored(session_factory, item)
    if found:
        return found
    for reference in item.join:
        if item.kind == "urgent":
            out = service.add_urgent_signal(session_factory, reference, item.referral, routing=routing)
        else:
            out = service.update_contact(session_factory, reference, item.referral, names=names,
                                         routing=routing, release=True)
        if out is not None:
            return out.reference
    # created when the parent asked; its notifications due now (not at that earlier time), so
    # the urgent ones, stored first, are also sent first
    wait = datetime.now(timezone.utc) - item.spooled_at
    out = service.create_referral(session_factory, item.referral, names=names, now=item.spooled_at, routing=routing,
                                  notify_after=wait if wait > timedelta(0) else None)
    return out.reference


def drain(
    spool_dir: Path, session_factory: sessionmaker, *, routing: RoutingTable | None = None,
    names: DutchNames | None = None, clock: Any = time.time,
) -> DrainResult:
    """Store every spool file (urgent first, then oldest first) and delete it once stored.

    A file that cannot be read goes to ``bad/``. The first database error stops the
    drain (the files stay; the next one tries again); another error on one file is
    logged and that file is kept for the next drain.
    """
    spool_dir = Path(spool_dir)
    result = DrainResult()
    if not spool_dir.is_dir():
        return result
    with _drain_lock(spool_dir) as mine:
        if mine:
            _drain_locked(spool_dir, session_factory, routing, names, clock, result)
    left = count(spool_dir)
    result.waiting, result.urgent_waiting, result.in_bad = left["waiting"], left["urgent"], left["bad"]
    return result


def _drain_locked(spool_dir: Path, session_factory: Any, routing: Any, names: Any, clock: Any,
                  result: DrainResult) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    for tmp in spool_dir.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if clock() - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                _move_to_bad(tmp, spool_dir, "unfinished write")
                result.bad += 1
    items: list[Spooled] = []
    for path in pending_files(spool_dir):
        try:
            items.append(read(path))
        except InvalidSpoolFile as error:
            _move_to_bad(path, spool_dir, str(error))
            result.bad += 1
        except OSError as error:
            logger.warning("referrals.spool.unreadable file=%s error=%s", file_id(path), type(error).__name__)
    items.sort(key=lambda i: (KINDS.index(i.kind), i.spooled_at, i.path.name))
    if items and names is None:
        from wegwijs import bootstrap

        names = bootstrap.get_dutch_names()
    for item in items:
        try:
            reference = store(session_factory, item, routing=routing, names=names)
        except SQLAlchemyError as error:
            result.database_down = True
            logger.info("referrals.spool.database_down file=%s error=%s: kept for the next drain",
                        item.id, type(error).__name__)
            return
        except Exception as error:  # kept for the next drain; the others go on
            logger.error("referrals.spool.store_failed file=%s kind=%s error=%s", item.id, item.kind,
                         type(error).__name__)
            continue
        result.stored.append(reference)
        logger.info("referrals.spool.stored file=%s kind=%s reference=%s", item.id, item.kind, reference)
        try:
            os.unlink(item.path)
        except OSError as error:  # the next drain finds the referral stored and deletes the file then
            logger.error("referrals.spool.delete_failed file=%s error=%s", item.id, type(error).__name__)
            continue
        _fsync_dir(spool_dir)
