#!/usr/bin/env bash
# Checks that each vendored crate is the published crate plus its patch, and
# nothing else: vendor/libssh2-sys is libssh2-sys 0.3.4 (the files its build
# compiles, and the licences) plus vendor/libssh2-sys.patch; vendor/orc-rust is
# orc-rust 0.9.0 (Cargo.toml, README.md, src) plus vendor/orc-rust.patch. Run by
# scripts/test.sh; the crates are cached.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
mkdir -p "$CACHE"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# fetch NAME VERSION SHA256: the published crate, unpacked in $WORK; prints its directory.
fetch() {
  local crate=$CACHE/$1-$2.crate
  if [ ! -f "$crate" ]; then
    curl -sSfL --retry 3 -o "$crate.part" "https://static.crates.io/crates/$1/$1-$2.crate"
    mv "$crate.part" "$crate"
  fi
  echo "$3  $crate" | sha256sum -c --quiet
  tar xzf "$crate" -C "$WORK"
  echo "$WORK/$1-$2"
}

# check NAME VERSION: the tree in $WORK/tree/vendor/NAME, patched, against vendor/NAME.
check() {
  (cd "$WORK/tree" && git apply "$OLDPWD/vendor/$1.patch")
  if ! diff -r "$WORK/tree/vendor/$1" "vendor/$1"; then
    echo "vendor/$1 is not $1 $2 plus vendor/$1.patch (see vendor/README.md)" >&2
    exit 1
  fi
  echo "vendor/$1: $1 $2 plus vendor/$1.patch"
}

FROM=$(fetch libssh2-sys 0.3.4 fce5a0b125f6aeac93b304b35f7f1e9f054aad29ddac57091928e41df3ccd233)
TO=$WORK/tree/vendor/libssh2-sys
mkdir -p "$TO/libssh2"
cp "$FROM"/{Cargo.toml,LICENSE-APACHE,LICENSE-MIT,build.rs,lib.rs} "$TO/"
cp -r "$FROM"/libssh2/{COPYING,include,libssh2.pc.in,src} "$TO/libssh2/"
find "$TO/libssh2/src" -type f ! -name '*.c' ! -name '*.h' ! -name '*.h.in' -delete
check libssh2-sys 0.3.4

FROM=$(fetch orc-rust 0.9.0 e54c163f843c4f0fcfca65b9b73ca6f93c37c8e86736d5a1e578c6e843eed0a0)
TO=$WORK/tree/vendor/orc-rust
mkdir -p "$TO"
cp -r "$FROM"/{Cargo.toml,README.md,src} "$TO/"
check orc-rust 0.9.0
