"""Texts a channel sends itself, before Rasa: ``languages/<lang>/channel.yml``.

Keys (both required, non-empty; ``rate_limited`` must contain ``{seconds}``):
``rate_limited`` (the parent sent too many messages, :mod:`wegwijs.security.ratelimit`)
and ``too_long`` (a message over the channel's length limit). Read by the channel at
request time, so editing them needs no Rasa retrain. Unreviewed machine-written texts
(see each language's ``meta.yml``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, Extra, constr, validator

from wegwijs.settings import REPO_ROOT

LANGUAGES_DIR = REPO_ROOT / "languages"
#: used when the conversation language is unknown: both, Dutch first
FALLBACK = ("nl", "en")


class ChannelTexts(BaseModel):
    """Schema of ``channel.yml``."""

    rate_limited: constr(strip_whitespace=True, min_length=10)  # type: ignore[valid-type]
    too_long: constr(strip_whitespace=True, min_length=10)  # type: ignore[valid-type]

    class Config:
        extra = Extra.forbid

    @validator("rate_limited")
    def _has_seconds(cls, v: str) -> str:
        if "{seconds}" not in v:
            raise ValueError("must contain {seconds}")
        return v


@functools.lru_cache(maxsize=None)
def load(code: str, languages_dir: Path = LANGUAGES_DIR) -> ChannelTexts:
    """The validated texts of one language.

    Raises:
        FileNotFoundError: no ``channel.yml`` for ``code``.
        pydantic.ValidationError: a key is missing, empty or unknown.
    """
    data = yaml.safe_load((Path(languages_dir) / code / "channel.yml").read_text(encoding="utf-8")) or {}
    return ChannelTexts(**data)


def text(key: str, language: Optional[str], **values: object) -> str:
    """``key`` (``rate_limited`` | ``too_long``) in ``language``, else Dutch and English."""
    codes = (language,) if language and (LANGUAGES_DIR / language / "channel.yml").is_file() else FALLBACK
    return "\n\n".join(getattr(load(c), key).format(**values) for c in codes)
