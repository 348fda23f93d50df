"""Checks of Rasa's HTTP API requests before Rasa sees them (pydantic 1.10).

Rasa answers 500 to a ``/model/parse`` body that is not an object with a text, and to
unknown query values. Here every API request is checked first; a bad one gets a 4xx with
``{"error": ...}``:

===========================================  =======================================
route                                        accepted
===========================================  =======================================
``GET /``, ``/version``, ``/status``,        no body
``/domain``
``GET /conversations/<id>/tracker``          ``include_events`` one of ALL, APPLIED,
                                             AFTER_RESTART, NONE; ``until`` a number
``GET /conversations/<id>/story``            ``until`` a number; ``all_sessions`` bool
``POST /model/parse``                        :class:`ParseBody`; ``emulation_mode``
                                             one of wit, luis, dialogflow
anything else under ``/conversations/`` or   403: not used by Wegwijs, switched off
``/model`` (train, test, predict, execute,   (``DELETE /model`` would unload the
trigger_intent, messages, tracker/events,    assistant)
``PUT``/``DELETE /model``)
===========================================  =======================================

A conversation id is at most 128 characters (:data:`integrations.rest.MAX_SENDER_CHARS`).
Authentication stays Rasa's own (``?token=`` or a JWT); these checks run before it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, Optional

from pydantic import BaseModel, Extra, StrictStr, ValidationError, confloat, constr, validator

from integrations.rest import MAX_MESSAGE_CHARS, MAX_SENDER_CHARS

#: Sanic's ``REQUEST_MAX_SIZE`` for the Rasa server, bytes (Sanic answers 413 above it)
RASA_REQUEST_MAX_SIZE = 256 * 1024


class ParseBody(BaseModel):
    """Body of ``POST /model/parse``: ``{"text": "...", "message_id": "..."}``."""

    text: constr(strict=True, min_length=1, max_length=MAX_MESSAGE_CHARS)  # type: ignore[valid-type]
    message_id: Optional[constr(strict=True, max_length=128)] = None  # type: ignore[valid-type]

    class Config:
        extra = Extra.forbid

    @validator("text")
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        v.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
        return v


class TrackerQuery(BaseModel):
    include_events: Optional[Literal["ALL", "APPLIED", "AFTER_RESTART", "NONE"]] = None
    until: Optional[confloat(ge=0, le=1e11)] = None  # type: ignore[valid-type]
    token: Optional[StrictStr] = None

    class Config:
        extra = Extra.forbid


class StoryQuery(BaseModel):
    until: Optional[confloat(ge=0, le=1e11)] = None  # type: ignore[valid-type]
    all_sessions: Optional[Literal["true", "false", "True", "False", "1", "0"]] = None
    token: Optional[StrictStr] = None

    class Config:
        extra = Extra.forbid


class ParseQuery(BaseModel):
    emulation_mode: Optional[Literal["wit", "luis", "dialogflow"]] = None
    token: Optional[StrictStr] = None

    class Config:
        extra = Extra.forbid


class TokenOnlyQuery(BaseModel):
    token: Optional[StrictStr] = None

    class Config:
        extra = Extra.forbid


_CONVERSATION = re.compile(r"^/conversations/(?P<id>.+)/(?P<what>tracker|story)$")
_OPEN = {"/", "/version", "/status", "/domain"}


def _query(request: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, values in request.args.items():
        if len(values) != 1:
            raise ValueError(f"query parameter {key!r} given {len(values)} times")
        out[key] = values[0]
    return out


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


def check_api_request(method: str, path: str, query: dict[str, str], body: bytes) -> Optional[tuple[int, str]]:
    """Why a Rasa API request is unacceptable, or None (also None for paths that are not the API).

    Args:
        method: HTTP method (``GET``...).
        path: the URL path, unquoted.
        query: the query parameters (one value each).
        body: the raw body.

    Returns:
        ``(status, message)``: 400 bad query or body, 404 conversation id too long,
        405 wrong method, 403 a switched-off route, 415 a parse body not JSON object.
    """
    if path.startswith("/webhooks/") or path.startswith("/socket.io"):
        return None
    try:
        if path in _OPEN:
            if method not in ("GET", "HEAD", "OPTIONS"):
                return 405, f"{path} only answers GET"
            TokenOnlyQuery(**query)
            return None
        if path == "/model/parse":
            if method == "OPTIONS":
                return None
            if method != "POST":
                return 405, "/model/parse only answers POST"
            ParseQuery(**query)
            try:
                data = json.loads(body or b"")
            except (ValueError, RecursionError):
                return 400, 'body must be a JSON object like {"text": "..."}'
            if not isinstance(data, dict):
                return 400, 'body must be a JSON object like {"text": "..."}'
            ParseBody(**data)
            return None
        m = _CONVERSATION.match(path)
        if m and method in ("GET", "HEAD", "OPTIONS"):
            if len(m["id"]) > MAX_SENDER_CHARS or "\x00" in m["id"]:
                return 404, f"conversation ids are at most {MAX_SENDER_CHARS} characters"
            (TrackerQuery if m["what"] == "tracker" else StoryQuery)(**query)
            return None
        if m:
            return 405, f"{path.rsplit('/', 1)[-1]} only answers GET"
        if path.startswith("/conversations/") or path == "/model" or path.startswith("/model/"):
            return 403, "this route of Rasa's API is switched off in Wegwijs (docs/security.md)"
    except ValidationError as e:
        return 400, _first_error(e)
    except (ValueError, TypeError) as e:
        return 400, str(e)
    return None
