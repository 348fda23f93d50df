#!/usr/bin/env bash
# Install everything Wegwijs needs into .venv and build what is missing or stale:
# the fastText language-ID model, the generated responses, the database schema and
# the Rasa model. Idempotent: a second run only checks. Used by up.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1

find_python310() {
  # Rasa 3.6.21 supports Python 3.8-3.10; we use 3.10.
  local c
  for c in "${WEGWIJS_PYTHON:-}" "$(command -v python3.10 || true)" \
           "$(pyenv root 2>/dev/null)/versions/"3.10*/bin/python \
           /root/.pyenv/versions/3.10*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  if command -v uv >/dev/null && c=$(uv python find 3.10 2>/dev/null); then echo "$c"; return 0; fi
  return 1
}

LOCK_SUM=$(sha256sum requirements/lock-py310.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import rasa, rasa_sdk, fasttext, spacy, alembic' 2>/dev/null \
   || [ "$(cat .venv/.installed 2>/dev/null)" != "$LOCK_SUM" ]; then
  PY=$(find_python310) || {
    echo "ERROR: Python 3.10 not found (Rasa 3.6.21 needs 3.8-3.10)." >&2
    echo "Install one (e.g. 'pyenv install 3.10', 'apt-get install python3.10', or 'uv python install 3.10')" >&2
    echo "or point WEGWIJS_PYTHON at it, then run this again." >&2
    exit 1
  }
  echo "== installing into .venv with $PY"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip >/dev/null
  .venv/bin/python -m pip install -q "$(grep -i "^uv==" requirements/lock-py310.txt)"
  # exactly the locked set (sync also removes what the lock does not list)
  .venv/bin/uv pip sync -q -p .venv/bin/python requirements/lock-py310.txt
  .venv/bin/uv pip install -q -p .venv/bin/python --no-deps -e .
  .venv/bin/uv pip check -p .venv/bin/python
  echo "$LOCK_SUM" > .venv/.installed
fi

# The browser tests (the inbox, the web chat page) drive Debian's Chromium through
# Playwright (never `playwright install`, which downloads a browser); Noto has the Arabic
# and Ethiopic glyphs. Installed only when missing and only as root (apt-get).
if ! command -v chromium >/dev/null || ! dpkg -s fonts-noto-core >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium and fonts-noto-core (browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core >/dev/null
  else
    echo "WARNING: chromium / fonts-noto-core missing (apt-get install chromium fonts-noto-core);" \
         "the browser tests (inbox, web chat) fail in CI without them" >&2
  fi
fi

echo "== building (language-ID model, responses, database, Rasa model: only what is stale)"
.venv/bin/wegwijs build
