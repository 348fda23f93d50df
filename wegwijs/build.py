"""``wegwijs build``: build what is missing or stale, in order.

Steps (one registry, :data:`STEPS`): the fastText language-ID model, the generated
domain responses, the database schema (Alembic), the Rasa model. Each step is
skipped when its inputs did not change; ``--force`` rebuilds everything.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from wegwijs.content.loader import REPO_ROOT

MODELS_DIR = REPO_ROOT / "models"
RASA_MODEL = MODELS_DIR / "wegwijs.tar.gz"
RASA_FINGERPRINT = MODELS_DIR / "wegwijs.inputs.sha256"

def training_data_paths() -> list[str]:
    """Rasa training data: the NLU folders of the *supported* languages, and the rules.

    A language folder that is being written but not yet registered in
    ``languages/registry.yml`` is not trained on (the LID model may still learn it).
    """
    from wegwijs.content.loader import load_registry

    return [f"nlu_data/{c}" for c in load_registry().supported] + ["bot/rules.yml"]


def rasa_inputs() -> list[str]:
    """Everything the Rasa model is trained from (for the staleness hash)."""
    # municipalities/routing/ (who gets a referral) is read at run time, not trained on
    return ["config.yml", "bot", "languages", "municipalities/gemeenten", "wegwijs/intake", "models/lid/lid.bin", *training_data_paths()]


def rasa_env() -> dict[str, str]:
    """Environment for Rasa subprocesses: no telemetry, repo root on PYTHONPATH."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def rasa_bin() -> str:
    """Path of the ``rasa`` executable next to this interpreter."""
    return str(Path(sys.executable).with_name("rasa"))


def _files(paths: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = REPO_ROOT / p
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend(
                f for f in sorted(path.rglob("*"))
                if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".yml", ".yaml", ".py", ".bin")
            )
    return out


def inputs_hash(paths: Iterable[str] | None = None) -> str:
    """sha256 over the names and contents of the Rasa model's input files."""
    h = hashlib.sha256()
    for f in _files(rasa_inputs() if paths is None else paths):
        h.update(str(f.relative_to(REPO_ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def rasa_model_is_fresh() -> bool:
    """True when ``models/wegwijs.tar.gz`` was trained from the current inputs."""
    return (
        RASA_MODEL.is_file()
        and RASA_FINGERPRINT.is_file()
        and RASA_FINGERPRINT.read_text().strip() == inputs_hash()
    )


def train_rasa(force: bool = False) -> bool:
    """Train the Rasa model unless it is fresh.

    Returns:
        True when a model was trained, False when the existing one was kept.

    Raises:
        subprocess.CalledProcessError: ``rasa train`` failed.
    """
    if not force and rasa_model_is_fresh():
        print("rasa model: up to date")
        return False
    digest = inputs_hash()
    MODELS_DIR.mkdir(exist_ok=True)
    cmd = [
        rasa_bin(), "train", "--config", "config.yml", "--domain", "bot",
        "--data", *training_data_paths(),
        "--out", str(MODELS_DIR), "--fixed-model-name", "wegwijs",
    ]
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=REPO_ROOT, env=rasa_env(), check=True)
    print(f"rasa model: trained in {time.monotonic() - t0:.0f} s → {RASA_MODEL}")
    RASA_FINGERPRINT.write_text(digest + "\n")
    return True


def validate() -> int:
    """``rasa data validate`` on the domain, the supported languages' data and the config.

    Returns:
        The exit code of ``rasa data validate`` (0 when valid).
    """
    cmd = [rasa_bin(), "data", "validate", "--domain", "bot", "--data", *training_data_paths(), "--config", "config.yml"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=rasa_env(), capture_output=True, text=True)
    noise = ("is not used in any story or rule", "Deprecat", "declare_namespace", "pkg_resources", "tensorflow")
    for line in (proc.stdout + proc.stderr).splitlines():
        if ("rasa.validator" in line or "Warning" in line or "rror" in line) and not any(n in line for n in noise):
            print(line)
    print("rasa data validate:", "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})")
    return proc.returncode


def _lid(force: bool) -> None:
    from wegwijs.lid import train as lid_train

    lid_train.build(force=force)


def _content(force: bool) -> None:
    from wegwijs.content.compile import build

    build()
    print("responses: bot/generated/responses.yml up to date")


def _database(force: bool) -> None:
    from wegwijs.db.migrate import upgrade
    from wegwijs.settings import Settings

    upgrade(Settings.from_env().database_url)
    print("database: schema at head")


@dataclass(frozen=True)
class Step:
    """One build step: a name and a function taking ``force``."""

    name: str
    run: Callable[[bool], None]


STEPS: tuple[Step, ...] = (
    Step("lid", _lid),
    Step("content", _content),
    Step("database", _database),
    Step("rasa", lambda force: train_rasa(force) and None),
)


def build(force: bool = False, only: list[str] | None = None) -> None:
    """Run the build steps in order (``only``: a subset by name)."""
    for step in STEPS:
        if only and step.name not in only:
            continue
        step.run(force)
