#!/usr/bin/env bash
# Builds the portable chama and its packages into dist/ (or $1):
#   chama-<version>-x86_64-linux-gnu.tar.gz   the files below at their paths, plus postinst
#   chama_<version>-1_amd64.deb               cargo-deb
#   chama-<version>-1.x86_64.rpm              cargo-generate-rpm
# The binary runs on x86_64 Linux with glibc 2.17 or newer (CentOS 7 on): it is
# linked by zig against glibc 2.17's symbols (cargo zigbuild), with OpenSSL
# compiled from source and SQLite, libssh2 (the project's patched copy) and zlib-rs
# linked in; it needs nothing on the host but the C library.
# The tools (ziglang and cargo-zigbuild from PyPI, cargo-deb and cargo-generate-rpm
# from crates.io) are installed once into $CHAMA_TEST_CACHE (default ~/.cache/chama-test);
# the cross build keeps its own target directory there ($CHAMA_TEST_CACHE/package-target),
# and the packages of each state of the sources are kept in $CHAMA_TEST_CACHE/dist-<key>,
# so that packaging sources already packaged only copies them (CHAMA_PACKAGE_FRESH=1
# builds anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
OUT=${1:-dist}
TRIPLE=x86_64-unknown-linux-gnu
GLIBC=2.17
VENV=$CACHE/zig-venv
TOOLS=$CACHE/tools
step() { printf '\n== %s\n' "$*"; }

# Everything that goes into a package.
KEY=$(find Cargo.toml Cargo.lock build.rs src vendor packaging interfaces testdata/dumps README.md \
  scripts/package.sh scripts/airflow/chama_daily.py -type f -print0 | sort -z | xargs -0 sha256sum |
  sha256sum | cut -c1-16)
KEPT=$CACHE/dist-$KEY
if [ -f "$KEPT/DONE" ] && [ -z "${CHAMA_PACKAGE_FRESH:-}" ]; then
  mkdir -p "$OUT"
  cp "$KEPT"/chama* "$OUT/"
  echo "packages of these sources (key $KEY) from $KEPT:"
  ls -l "$OUT"
  exit 0
fi

step "tools: ziglang, cargo-zigbuild (PyPI, in $VENV); cargo-deb, cargo-generate-rpm (crates.io, in $TOOLS)"
if ! "$VENV/bin/cargo-zigbuild" --version >/dev/null 2>&1 || ! "$VENV/bin/python" -m ziglang version >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  # The versions this was tested with.
  "$VENV/bin/pip" install -q --disable-pip-version-check 'ziglang==0.17.1' 'cargo-zigbuild==0.24.1'
fi
for tool in cargo-deb@3.8.0 cargo-generate-rpm@0.21.1; do
  [ -x "$TOOLS/bin/${tool%@*}" ] || cargo install --quiet --locked --root "$TOOLS" "$tool"
done
export PATH=$VENV/bin:$TOOLS/bin:$PATH
export CARGO_TARGET_DIR=${CHAMA_PACKAGE_TARGET:-$CACHE/package-target}

step "cargo zigbuild --release --target $TRIPLE.$GLIBC --features vendored-openssl"
cargo zigbuild --quiet --release --locked --features vendored-openssl --target "$TRIPLE.$GLIBC"
BIN=$CARGO_TARGET_DIR/$TRIPLE/release/chama
strip "$BIN"
"$BIN" --version

step "man page and completions (target/package/)"
rm -rf target/package && mkdir -p target/package/completions
"$BIN" man | gzip -9n > target/package/chama.1.gz
"$BIN" completions bash > target/package/completions/chama.bash
"$BIN" completions zsh > target/package/completions/_chama
"$BIN" completions fish > target/package/completions/chama.fish

step "packages in $OUT/"
mkdir -p "$OUT"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
rm -f "$OUT"/chama[-_]"$VERSION"*
cargo deb --quiet --no-build --no-strip --target "$TRIPLE" --output "$OUT/"
cargo generate-rpm --target "$TRIPLE" --output "$OUT/chama-$VERSION-1.x86_64.rpm"
# The tarball holds what the .deb installs, at the same paths, and the script that
# makes the user and directories: unpack it and copy usr/ and etc/ onto /.
tree=target/package/chama-$VERSION
dpkg-deb -x "$OUT/chama_${VERSION}-1_amd64.deb" "$tree"
cp packaging/maintainer/postinst "$tree/postinst"
tar -C target/package -czf "$OUT/chama-$VERSION-x86_64-linux-gnu.tar.gz" --owner=0 --group=0 "chama-$VERSION"
ls -l "$OUT"
rm -rf "$CACHE"/dist-*
mkdir -p "$KEPT"
cp "$OUT"/chama[-_]"$VERSION"* "$KEPT/"
touch "$KEPT/DONE"
