#!/usr/bin/env bash
# Install (if needed), build (if stale) and start Wegwijs on embedded defaults:
#   - action server (rasa-sdk)      http://127.0.0.1:${WEGWIJS_ACTION_PORT:-5055}
#   - Rasa server + HTTP API        http://127.0.0.1:${WEGWIJS_PORT:-5005}
#     channels: REST (/webhooks/rest/webhook), socket.io, web chat page (/webhooks/webchat/chat)
# Storage: SQLite files in var/ (set WEGWIJS_DATABASE_URL / WEGWIJS_TRACKER_DB_URL for PostgreSQL).
# Stop with Ctrl-C (both servers are stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/wegwijs serve "$@"
