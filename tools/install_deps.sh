#!/usr/bin/env bash
# Installs the Debian 12 packages t5cc builds and tests with, when missing (apt-get, as root or
# through sudo). The CUDA toolkit is not a Debian package here: when nvcc is on PATH (or in
# /usr/local/cuda/bin) the CUDA backend is built, otherwise it is left out.
set -euo pipefail

packages=(g++ meson ninja-build pkg-config libeigen3-dev nlohmann-json3-dev libsentencepiece-dev libboost-test-dev libcli11-dev libdnnl-dev clang libclang-rt-14-dev python3-dev python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "t5cc: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo > /dev/null; then
  sudo=(sudo)
else
  echo "t5cc: missing packages (${missing[*]}) and no root rights or sudo to install them" >&2
  exit 1
fi
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
