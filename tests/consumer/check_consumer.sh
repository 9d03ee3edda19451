#!/usr/bin/env bash
# Builds tests/consumer against t5cc twice: as a Meson subproject, and from an installed prefix via
# pkg-config. Argument: the t5cc source root.
set -euo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. As a subproject.
cp -r "$src/tests/consumer" "$work/sub"
mkdir -p "$work/sub/subprojects"
ln -s "$src" "$work/sub/subprojects/t5cc"
meson setup "$work/sub/build" "$work/sub" > "$work/sub.log" 2>&1 || { cat "$work/sub.log"; exit 1; }
ninja -C "$work/sub/build" > /dev/null
[ "$("$work/sub/build/consumer" "$src/tests/data/umt5")" = "$(printf "umt5\nstates 2 5 32, 2 rows")" ]
echo "subproject: OK"

# 2. Installed, found through pkg-config.
meson setup "$work/t5cc-build" "$src" --prefix="$work/prefix" -Dtests=false -Dexamples=false -Dcuda=disabled \
  > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
meson install -C "$work/t5cc-build" > /dev/null
pc_dir=$(dirname "$(find "$work/prefix" -name t5cc.pc | head -n 1)")
cp -r "$src/tests/consumer" "$work/pc"
PKG_CONFIG_PATH="$pc_dir" meson setup "$work/pc/build" "$work/pc" -Duse_pkgconfig=true > "$work/pc.log" 2>&1 ||
  { cat "$work/pc.log"; exit 1; }
ninja -C "$work/pc/build" > /dev/null
[ "$("$work/pc/build/consumer" "$src/tests/data/v1_0_tied")" = "$(printf "v1_0\nstates 2 5 32, 2 rows")" ]
[ ! -e "$work/prefix/include/t5/meson.build" ]
echo "pkg-config: OK"
