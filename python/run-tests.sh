#!/bin/sh
# The Python side's tests (npm run test:py): the repo's .venv (made by .ci/run) if there is one, else $PYTHON or
# python3 with torch, transformers, peft, accelerate, safetensors and pytest installed.
set -e
cd "$(dirname "$0")"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x ../.venv/bin/python ]; then PY=../.venv/bin/python; else PY=python3; fi
fi
exec "$PY" -m pytest -q "$@"
