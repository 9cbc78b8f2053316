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
# from crates.io) are installed once into $CHAMA_TEST_CACHE (default ~/.cache/chama-test).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
OUT=${1:-dist}
TRIPLE=x86_64-unknown-linux-gnu
GLIBC=2.17
VENV=$CACHE/zig-venv
TOOLS=$CACHE/tools
step() { printf '\n== %s\n' "$*"; }

step "tools: ziglang, cargo-zigbuild (PyPI, in $VENV); cargo-deb, cargo-generate-rpm (crates.io, in $TOOLS)"
if ! "$VENV/bin/cargo-zigbuild" --version >/dev/null 2>&1 || ! "$VENV/bin/python" -m ziglang version >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'ziglang==0.15.*' 'cargo-zigbuild==0.24.*' ||
    "$VENV/bin/pip" install -q --disable-pip-version-check ziglang cargo-zigbuild
fi
for tool in cargo-deb cargo-generate-rpm; do
  [ -x "$TOOLS/bin/$tool" ] || cargo install --quiet --locked --root "$TOOLS" "$tool"
done
export PATH=$VENV/bin:$TOOLS/bin:$PATH

step "cargo zigbuild --release --target $TRIPLE.$GLIBC --features vendored-openssl"
cargo zigbuild --quiet --release --locked --features vendored-openssl --target "$TRIPLE.$GLIBC"
BIN=target/$TRIPLE/release/chama
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
cargo generate-rpm --target "$TRIPLE" --output "$OUT/"
# The tarball holds what the .deb installs, at the same paths, and the script that
# makes the user and directories: unpack it and copy usr/ and etc/ onto /.
tree=target/package/chama-$VERSION
dpkg-deb -x "$OUT/chama_${VERSION}-1_amd64.deb" "$tree"
cp packaging/maintainer/postinst "$tree/postinst"
tar -C target/package -czf "$OUT/chama-$VERSION-x86_64-linux-gnu.tar.gz" --owner=0 --group=0 "chama-$VERSION"
ls -l "$OUT"
