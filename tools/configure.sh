#!/usr/bin/env bash
# configure.sh BUILD_DIR [meson options...]: sets up (or reconfigures) a Meson build directory.
# The CUDA backend is required when nvcc is found, so a broken CUDA compile fails loudly instead of
# being skipped; without nvcc it is disabled.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
args=("$@")
case " $* " in
  *" -Dcuda="*) ;;
  *) if command -v nvcc > /dev/null; then args+=(-Dcuda=enabled); else args+=(-Dcuda=disabled); fi ;;
esac
# T5CC_PYTHON (tools/python_env.sh prints one): the interpreter the Python module is built for,
# handed to meson as its python binary; without it, meson's own interpreter.
if [ -n "${T5CC_PYTHON:-}" ]; then
  mkdir -p "$dir"
  printf "[binaries]\npython = '%s'\n" "$T5CC_PYTHON" > "$dir/t5cc-python.ini"
  args+=(--native-file "$dir/t5cc-python.ini")
fi
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "${args[@]}"
else
  meson setup "$dir" "${args[@]}"
fi
