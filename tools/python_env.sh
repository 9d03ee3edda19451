#!/usr/bin/env bash
# Prints the path of a Python interpreter that has tools/requirements-python.txt (what the python
# test suite builds and runs with), creating its virtual environment when missing:
# ${T5CC_PYTHON_ENV:-~/.cache/t5cc/python-env-HASH}, HASH naming the requirements, so a change of
# pins makes a new one and a clean clone reuses the last. Needs python3-venv (tools/install_deps.sh)
# and PyPI. Exits non-zero, saying why on stderr, when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=tools/requirements-python.txt
hash=$(sha256sum "$requirements" | cut -c1-12)
env=${T5CC_PYTHON_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/t5cc/python-env-$hash}
if [ ! -x "$env/bin/python" ] || [ ! -f "$env/.complete" ]; then
  echo "t5cc: creating the Python environment $env (tools/requirements-python.txt)" >&2
  rm -rf "$env"
  mkdir -p "$(dirname "$env")"
  /usr/bin/python3 -m venv "$env" >&2
  "$env/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  touch "$env/.complete"
fi
echo "$env/bin/python"
