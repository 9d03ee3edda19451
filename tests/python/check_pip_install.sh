#!/usr/bin/env bash
# `pip install` of the source tree (pyproject.toml, meson-python) into a folder, then the installed
# package alone: imported from there (not from the build tree), it loads the demo model, encodes,
# generates and carries its stubs. pip builds in its isolated build environment, as `pip install .`
# does, taking the build requirements from the wheelhouse tools/python_env.sh downloaded beside the
# interpreter (no network). Arguments: the source root, the Python interpreter of
# tools/python_env.sh, a work folder.
set -euo pipefail
src=$1 python=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"
wheelhouse=$(dirname "$(dirname "$python")")/wheelhouse
[ -d "$wheelhouse" ] || { echo "no wheelhouse at $wheelhouse (tools/python_env.sh makes it)"; exit 1; }
PIP_NO_INDEX=1 PIP_FIND_LINKS="$wheelhouse" "$python" -m pip install --no-deps --quiet --target "$work/site" "$src" \
  > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
ls "$work/site/t5cc"
PYTHONPATH="$work/site" "$python" - "$src/examples/models/numbers" <<'PY'
import os, sys
import t5cc
assert os.path.dirname(t5cc.__file__).endswith("site/t5cc"), t5cc.__file__
m = t5cc.load(sys.argv[1], threads=1)
states = m.encode(["42", "1999"])
assert states.shape == (2, 6, m.d_model), states.shape
assert m.generate(["42"]) == ["forty-two"]
package = os.path.dirname(t5cc.__file__)
assert {"py.typed", "_core.pyi", "__init__.py"} <= set(os.listdir(package)), os.listdir(package)
print("installed t5cc", t5cc.__version__, "runs:", m, m.generate(["1999"]))
PY
# Only the package is installed: no headers, C++ library or tool go into site-packages.
leftover=$(find "$work/site" -mindepth 1 -maxdepth 1 ! -name 't5cc' ! -name 't5cc-*.dist-info' | head)
[ -z "$leftover" ] || { echo "pip installed more than the package: $leftover"; exit 1; }
echo "pip install: OK"
