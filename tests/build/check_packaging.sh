#!/usr/bin/env bash
# Builds tests/build/consumer against t5cc twice: as a Meson subproject, and through pkg-config from
# a prefix that the build directory under test installs into. Arguments: the t5cc source root and
# its build directory. The subproject build is unoptimised (buildtype plain): it checks that the
# packaging works, not how fast the result runs.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. As a subproject (compiles libt5cc again, CPU only, no tests, tools or benchmarks).
cp -r "$src/tests/build/consumer" "$work/sub"
mkdir -p "$work/sub/subprojects"
ln -s "$src" "$work/sub/subprojects/t5cc"
meson setup "$work/sub/build" "$work/sub" --buildtype=plain > "$work/sub.log" 2>&1 || { cat "$work/sub.log"; exit 1; }
ninja -C "$work/sub/build" > "$work/sub-ninja.log" 2>&1 || { cat "$work/sub-ninja.log"; exit 1; }
[ "$("$work/sub/build/consumer" "$src/tests/data/umt5")" = "$(printf "umt5\nstates 2 5 32, 2 rows")" ]
echo "subproject: OK"

# 2. Installed from the build under test (nothing is recompiled), found through pkg-config.
DESTDIR="$work/root" meson install -C "$build" --no-rebuild --quiet > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
pc=$(find "$work/root" -name t5cc.pc | head -n 1)
lib_dir=$(dirname "$(find "$work/root" -name 'libt5cc.so' | head -n 1)")
sed -i "s|^prefix=|prefix=$work/root|" "$pc"  # the prefix as installed under DESTDIR
[ ! -e "$(find "$work/root" -path '*include/t5' -type d)/meson.build" ]  # no build files among the headers
cp -r "$src/tests/build/consumer" "$work/pc"
PKG_CONFIG_PATH=$(dirname "$pc") meson setup "$work/pc/build" "$work/pc" -Duse_pkgconfig=true \
  > "$work/pc.log" 2>&1 || { cat "$work/pc.log"; exit 1; }
ninja -C "$work/pc/build" > "$work/pc-ninja.log" 2>&1 || { cat "$work/pc-ninja.log"; exit 1; }
[ "$(LD_LIBRARY_PATH="$lib_dir" "$work/pc/build/consumer" "$src/tests/data/v1_0_tied")" = "$(printf "v1_0\nstates 2 5 32, 2 rows")" ]
echo "pkg-config: OK"
