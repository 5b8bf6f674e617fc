#!/usr/bin/env bash
# Quickstart, command 1: set everything up and run the main job (a short demonstration on bundled data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/fedcrypto demo "$@"
