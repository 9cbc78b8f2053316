#!/usr/bin/env bash
# Checks what scripts/package.sh made (in dist/, or $1), as a CentOS or Debian
# machine would receive it:
#  - the packaged binary (taken from the tarball): `objdump -T` names no glibc
#    symbol newer than GLIBC_2.17, `ldd` lists only the C library's own parts,
#    `--version` names what is linked in; it runs the README's daily job on the
#    bundled day and pushes the day to the test OpenSSH servers (scripts/sftp.sh,
#    started by the caller: CHAMA_TEST_SFTP_DIR);
#  - the RPM (`rpm -qlp`) and the .deb (`dpkg -c`) hold every file at its path,
#    the binary and the job script executable;
#  - the .deb installs with `dpkg -i`; the installed job (`chama-job daily`, as
#    cron and the systemd timers run it: user chama, /etc/chama/chama.env) runs the
#    bundled day into /var/lib/chama; `dpkg --purge` removes it again.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=$(cd "${1:-dist}" && pwd)
REPO=$PWD
fail() { echo "FAIL: $*" >&2; exit 1; }
T=$(mktemp -d /tmp/chama-package-XXXXXX)
chmod 755 "$T"
installed=
cleanup() {
  [ -n "$installed" ] && dpkg --purge chama >/dev/null 2>&1 && rm -rf /var/lib/chama /var/log/chama
  rm -rf "$T"
}
trap cleanup EXIT
command -v rpm >/dev/null && command -v objdump >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends rpm binutils >/dev/null

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
TARBALL=$DIST/chama-$VERSION-x86_64-linux-gnu.tar.gz
DEB=$DIST/chama_${VERSION}-1_amd64.deb
RPM=$(ls "$DIST"/chama-"$VERSION"-1.*x86_64.rpm)
for f in "$TARBALL" "$DEB" "$RPM"; do [ -s "$f" ] || fail "$f is missing"; done

echo "the packaged binary"
tar -C "$T" -xzf "$TARBALL"
BIN=$T/chama-$VERSION/usr/bin/chama
[ -x "$BIN" ] || fail "no usr/bin/chama in the tarball"
newest=$(objdump -T "$BIN" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -1)
[ "$(printf '%s\nGLIBC_2.17\n' "$newest" | sort -V | tail -1)" = GLIBC_2.17 ] ||
  fail "the binary needs $newest (newer than GLIBC_2.17)"
echo "ok: the newest glibc symbol version is $newest"
libs=$(ldd "$BIN" | awk '{print $1}' | sed 's|.*/||' | sort | tr '\n' ' ')
for lib in $libs; do
  case "$lib" in
    linux-vdso.so.1 | ld-linux-x86-64.so.2 | libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1) ;;
    *) fail "the binary needs $lib (ldd: $libs)" ;;
  esac
done
echo "ok: ldd lists only the C library: $libs"
version=$("$BIN" --version)
for want in "chama $VERSION" "libssh2 1.11" "(chama patch: batched-crypt 1)" "OpenSSL 3." "SQLite 3." "zlib-rs "; do
  grep -qF "$want" <<< "$version" || fail "--version lacks '$want': $version"
done
echo "ok: $(tr '\n' ';' <<< "$version")"

echo "the packaged binary runs the README's daily job on the bundled day"
W=$T/clone && mkdir -p "$W" && cp -r "$REPO/testdata" "$REPO/interfaces" "$W/"
(cd "$W" && "$BIN" run --iface CM001 --period 20241212 > "$T/run.log" 2>&1) || { tail "$T/run.log"; fail "chama run"; }
n=$(ls "$W/outbox/incoming/cm" | wc -l)
[ "$n" -eq 375 ] || fail "$n files in outbox/incoming/cm, not 375"
echo "ok: 375 files delivered to outbox/incoming/cm"

if [ -n "${CHAMA_TEST_SFTP_DIR:-}" ]; then
  echo "the packaged binary pushes the day to the test OpenSSH servers (2222, 2223)"
  S=$CHAMA_TEST_SFTP_DIR
  root=package-$$
  cat > "$W/sftp.toml" <<EOC
work_dir = "var"
interfaces_dir = "sftp-interfaces"
[sources.default]
kind = "local"
root = "testdata/dumps"
[destinations.exchange]
kind = "sftp"
hosts = ["sftp://sftptest@127.0.0.1:2222", "sftp://sftptest@127.0.0.1:2223"]
root = "$root"
identity_file = "$S/client_ed25519"
known_hosts = "$S/known_hosts"
EOC
  mkdir -p "$W/sftp-interfaces"
  sed 's/^destinations = \["outbox"\]/destinations = ["exchange"]/' "$W/interfaces/CM001.toml" > "$W/sftp-interfaces/CM001.toml"
  (cd "$W" && "$BIN" --config sftp.toml push --iface CM001 --period 20241212 --json > "$T/push.log" 2>&1) ||
    { tail "$T/push.log"; fail "chama push"; }
  pushed=$(ls "$S/upload/$root/incoming/cm" | wc -l)
  [ "$pushed" -eq 375 ] || fail "$pushed files on the SFTP server, not 375"
  cmp -s <(cd "$W/outbox/incoming/cm" && md5sum *) <(cd "$S/upload/$root/incoming/cm" && md5sum *) ||
    fail "the pushed files differ from the delivered ones"
  rm -rf "${S:?}/upload/$root"
  echo "ok: 375 files pushed over SFTP, the same bytes"
else
  echo "skipped: the SFTP push (start scripts/sftp.sh and set CHAMA_TEST_SFTP_DIR)"
fi

echo "the RPM and the .deb hold every file at its path"
expect() { # PATH MODE
  cat <<EOF
/usr/bin/chama rwxr-xr-x
/usr/libexec/chama/chama-job rwxr-xr-x
/usr/share/man/man1/chama.1.gz rw-r--r--
/usr/share/bash-completion/completions/chama rw-r--r--
/usr/share/zsh/site-functions/_chama rw-r--r--
/usr/share/fish/vendor_completions.d/chama.fish rw-r--r--
/etc/chama/chama.toml rw-r-----
/etc/chama/chama.env rw-r-----
/etc/chama/interfaces/CM001.toml rw-r--r--
/etc/cron.d/chama rw-r--r--
/usr/lib/systemd/system/chama@.service rw-r--r--
/usr/lib/systemd/system/chama-hourly.timer rw-r--r--
/usr/lib/systemd/system/chama-daily.timer rw-r--r--
/usr/lib/systemd/system/chama-status.timer rw-r--r--
/usr/lib/systemd/system/chama-clean.timer rw-r--r--
/usr/share/chama/airflow/chama_daily.py rw-r--r--
/usr/share/chama/prometheus/chama.yml rw-r--r--
/usr/share/chama/prometheus/chama.test.yml rw-r--r--
/usr/share/chama/prometheus/alertmanager.yml rw-r--r--
/usr/share/chama/grafana/chama.json rw-r--r--
/usr/share/chama/interfaces/CM001.toml rw-r--r--
/usr/share/chama/interfaces/51006.toml rw-r--r--
/usr/share/chama/testdata/dumps/cm001/dt=2024-12-12/hour=00/part-00000.gz rw-r--r--
/usr/share/chama/testdata/dumps/cm001/dt=2024-12-12/hour=23/_SUCCESS rw-r--r--
/usr/share/doc/chama/README.md rw-r--r--
EOF
}
dpkg -c "$DEB" | awk '{sub(/^\./, "", $6); print $6, substr($1, 2)}' > "$T/deb.txt"
rpm -qp --queryformat '[%{FILENAMES} %{FILEMODES:perms}\n]' "$RPM" 2>/dev/null | sed 's/ -/ /' > "$T/rpm.txt"
for kind in deb rpm; do
  while read -r path mode; do
    got=$(awk -v p="$path" '$1 == p {print $2}' "$T/$kind.txt")
    [ "$got" = "$mode" ] || fail "$kind: $path is ${got:-missing}, not $mode"
  done < <(expect)
  echo "ok: the $kind holds the $(expect | wc -l) files checked, modes included ($(wc -l < "$T/$kind.txt") entries in all)"
done
rpm -qp --requires "$RPM" 2>/dev/null | grep -q '^glibc >= 2.17' || fail "the RPM does not require glibc >= 2.17"
rpm -qp --scripts "$RPM" 2>/dev/null | grep -q 'useradd --system' || fail "the RPM does not create the user chama"
rpm -qp --configfiles "$RPM" 2>/dev/null | grep -qx /etc/chama/chama.toml || fail "the RPM's chama.toml is no config file"

echo "dpkg -i, then the installed daily job on the bundled day"
! dpkg -s chama >/dev/null 2>&1 || fail "chama is already installed on this machine"
installed=1
dpkg -i "$DEB" > "$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -i"; }
id chama >/dev/null || fail "no user chama after dpkg -i"
[ "$(stat -c %U /var/lib/chama)" = chama ] || fail "/var/lib/chama is not chama's"
command -v chama | grep -qx /usr/bin/chama || fail "chama is not /usr/bin/chama on PATH"
runuser -u chama -- /usr/libexec/chama/chama-job daily 20241212 > "$T/job.log" 2>&1 ||
  { tail "$T/job.log"; fail "chama-job daily as the user chama"; }
tail -1 "$T/job.log" | grep -q '"code":0' || fail "no JSON summary with code 0: $(tail -1 "$T/job.log")"
n=$(ls /var/lib/chama/outbox/incoming/cm | wc -l)
[ "$n" -eq 375 ] || fail "$n files in /var/lib/chama/outbox/incoming/cm, not 375"
[ -f /var/lib/chama/ledger.sqlite ] || fail "no ledger in /var/lib/chama"
man -w chama >/dev/null 2>&1 || [ -f /usr/share/man/man1/chama.1.gz ] || fail "no man page"
echo "ok: installed; chama-job daily ran the bundled day as chama into /var/lib/chama ($n files)"
# An operator types chama without CHAMA_CONFIG, from anywhere: the installed
# configuration is found, as the user chama and as root (who is warned about
# making root's files in chama's directory).
for who in chama root; do
  (cd / && runuser -u "$who" -- env -u CHAMA_CONFIG chama status > "$T/status.out" 2> "$T/status.err") ||
    { cat "$T/status.err"; fail "chama status as $who"; }
  grep -q '^CM001  *20241212  24/24  yes' "$T/status.out" || { cat "$T/status.out" "$T/status.err"; fail "chama status as $who: no CM001 20241212"; }
  grep -q 'configuration /etc/chama/chama.toml, work directory /var/lib/chama' "$T/status.err" ||
    { cat "$T/status.err"; fail "chama status as $who does not say which configuration it read"; }
  (cd / && runuser -u "$who" -- env -u CHAMA_CONFIG chama rerun --iface CM001 --period 20241212 --no-push \
    > "$T/rerun.out" 2> "$T/rerun.err") || { tail "$T/rerun.err"; fail "chama rerun as $who"; }
done
grep -q 'working as root in /var/lib/chama, which chama owns' "$T/rerun.err" ||
  { tail "$T/rerun.err"; fail "root's rerun in chama's directory is not warned about"; }
echo "ok: chama status and chama rerun typed by an operator (chama, root) use /etc/chama/chama.toml"
dpkg --purge chama > "$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "dpkg --purge"; }
installed=
rm -rf /var/lib/chama /var/log/chama
[ ! -e /usr/bin/chama ] && [ ! -e /etc/chama/chama.toml ] || fail "dpkg --purge left files"
echo "ok: dpkg --purge removed it"
