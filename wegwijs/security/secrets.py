"""The servers' shared secrets: from the environment, else generated once into a file.

=========================  =====================================================
``WEGWIJS_API_TOKEN``      token of Rasa's HTTP API (``?token=...``; Rasa's
                           ``--auth-token``). Channel webhooks need none.
``WEGWIJS_ACTION_TOKEN``   token Rasa sends to the action server (``?token=...``,
                           Rasa's ``EndpointConfig.token``).
``WEGWIJS_LOG_KEY``        key of the sender-id hash in logs (HMAC-SHA256).
``WEGWIJS_JWT_SECRET``     optional: also accept JWTs signed with it (Rasa's
                           ``--jwt-secret``; never generated).
``WEGWIJS_SECRETS_FILE``   where generated secrets are kept. Default
                           ``$XDG_CONFIG_HOME/wegwijs/secrets.json`` (that is
                           ``~/.config/wegwijs/secrets.json``): outside the
                           repository, so never committed; mode 0600.
=========================  =====================================================

A variable that is set wins over the file; a secret that is in neither is generated
(``secrets.token_urlsafe(32)``, 256 bits) and written to the file on first start.
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

#: environment variable -> key in the secrets file
_GENERATED = {
    "WEGWIJS_API_TOKEN": "api_token",
    "WEGWIJS_ACTION_TOKEN": "action_token",
    "WEGWIJS_LOG_KEY": "log_key",
}


def secrets_file(environ: Mapping[str, str] | None = None) -> Path:
    """Path of the generated-secrets file (see the module docstring)."""
    env = os.environ if environ is None else environ
    explicit = env.get("WEGWIJS_SECRETS_FILE", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "wegwijs" / "secrets.json"


@dataclass(frozen=True)
class Secrets:
    """The secrets the servers share (``repr`` never shows them)."""

    api_token: str
    action_token: str
    log_key: str
    jwt_secret: Optional[str] = None
    path: Optional[Path] = None

    def __repr__(self) -> str:
        return f"Secrets(path={self.path}, values hidden)"

    def as_env(self) -> dict[str, str]:
        """The variables that hand these secrets to a child process."""
        env = {
            "WEGWIJS_API_TOKEN": self.api_token,
            "WEGWIJS_ACTION_TOKEN": self.action_token,
            "WEGWIJS_LOG_KEY": self.log_key,
        }
        if self.jwt_secret:
            env["WEGWIJS_JWT_SECRET"] = self.jwt_secret
        return env


def load_secrets(environ: Mapping[str, str] | None = None) -> Secrets:
    """The secrets from ``environ`` (default ``os.environ``), generating missing ones.

    Raises:
        OSError: the secrets file cannot be read or written.
        ValueError: the secrets file is not a JSON object.
    """
    env = os.environ if environ is None else environ
    values = {key: env.get(var, "").strip() for var, key in _GENERATED.items()}
    path = secrets_file(env)
    if all(values.values()):
        stored: dict[str, str] = {}
    else:
        stored = {}
        if path.is_file():
            stored = json.loads(path.read_text(encoding="utf-8") or "{}")
            if not isinstance(stored, dict):
                raise ValueError(f"{path}: not a JSON object")
        missing = [k for k, v in values.items() if not v and not stored.get(k)]
        if missing:
            for key in missing:
                stored[key] = _secrets.token_urlsafe(32)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(stored, f, indent=1)
            os.chmod(path, 0o600)
        for key in values:
            values[key] = values[key] or str(stored[key])
    return Secrets(
        api_token=values["api_token"],
        action_token=values["action_token"],
        log_key=values["log_key"],
        jwt_secret=env.get("WEGWIJS_JWT_SECRET", "").strip() or None,
        path=path,
    )
