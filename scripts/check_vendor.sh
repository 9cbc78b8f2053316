#!/usr/bin/env bash
# Checks that vendor/libssh2-sys is the published libssh2-sys 0.3.4 (the
# files its build compiles, and the licences) plus vendor/libssh2-sys.patch,
# and nothing else. Run by scripts/test.sh; the crate is cached.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.3.4
SHA256=fce5a0b125f6aeac93b304b35f7f1e9f054aad29ddac57091928e41df3ccd233
CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
CRATE=$CACHE/libssh2-sys-$VERSION.crate
mkdir -p "$CACHE"
if [ ! -f "$CRATE" ]; then
  curl -sSfL --retry 3 -o "$CRATE.part" "https://static.crates.io/crates/libssh2-sys/libssh2-sys-$VERSION.crate"
  mv "$CRATE.part" "$CRATE"
fi
echo "$SHA256  $CRATE" | sha256sum -c --quiet

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar xzf "$CRATE" -C "$WORK"
FROM=$WORK/libssh2-sys-$VERSION
TO=$WORK/tree/vendor/libssh2-sys
mkdir -p "$TO/libssh2"
cp "$FROM"/{Cargo.toml,LICENSE-APACHE,LICENSE-MIT,build.rs,lib.rs} "$TO/"
cp -r "$FROM"/libssh2/{COPYING,include,libssh2.pc.in,src} "$TO/libssh2/"
find "$TO/libssh2/src" -type f ! -name '*.c' ! -name '*.h' ! -name '*.h.in' -delete
(cd "$WORK/tree" && git apply "$OLDPWD/vendor/libssh2-sys.patch")
if ! diff -r "$TO" vendor/libssh2-sys; then
  echo "vendor/libssh2-sys is not libssh2-sys $VERSION plus vendor/libssh2-sys.patch (see vendor/README.md)" >&2
  exit 1
fi
echo "vendor/libssh2-sys: libssh2-sys $VERSION plus vendor/libssh2-sys.patch"
