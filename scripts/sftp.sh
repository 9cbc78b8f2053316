#!/usr/bin/env bash
# Real OpenSSH SFTP servers on 127.0.0.1 for the tests (recipe: ../shared/recipes/sftp_servers.sh):
# 2222-2224 allow everything (one cipher family each); 2225-2228 are locked-down drop boxes
# (`internal-sftp -P`): 2225 refuses rename and remove, 2226 stat, 2227 listing, 2228 all four.
#   scripts/sftp.sh start   -> prints `export ...` lines (directory, ports)
#   scripts/sftp.sh stop    -> stops what start started
# All servers share one upload directory, as an exchange platform's hosts share one storage.
# Each port has $T/start-PORT.sh so that tests can kill, freeze and restart a host.
# A slow host: scripts/sftp.sh slow LISTEN TARGET BYTES_PER_SEC [DELAY_MS [STATS_FILE]] puts a
# rate-limiting (and delaying) proxy (scripts/slowproxy.py) in front of a server; start makes
# one, 2232 -> 2222 at 1 MiB/s.
# Needs root (sshd, a test user).
set -euo pipefail
T=${CHAMA_SFTP_RUN:-/tmp/chama-sftp}
PORTS=${CHAMA_SFTP_PORTS:-"2222 2223 2224 2225 2226 2227 2228"}
HERE=$(cd "$(dirname "$0")" && pwd)

slow() {
  local listen=$1 target=$2 rate=$3 delay=${4:-0} stats=${5:-}
  [ -f "$T/slow_$listen.pid" ] && kill "$(cat "$T/slow_$listen.pid")" 2>/dev/null || true
  python3 "$HERE/slowproxy.py" "$listen" "$target" "$rate" "$delay" $stats > "$T/slow_$listen.log" 2>&1 < /dev/null &
  echo $! > "$T/slow_$listen.pid"
  grep -q "^\[127.0.0.1\]:$listen " "$T/known_hosts" ||
    echo "[127.0.0.1]:$listen $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/known_hosts"
  for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$listen) 2>/dev/null && return 0; sleep 0.05; done
  echo "slow proxy on $listen did not start" >&2; return 1
}

stop() {
  for f in "$T"/slow_*.pid; do
    [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; }
  done
  for f in "$T"/sshd_*.bgpid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    kill -CONT "$p" 2>/dev/null || true
    pkill -CONT -P "$p" 2>/dev/null || true
    pkill -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
    rm -f "$f"
  done
  return 0
}

start() {
  command -v /usr/sbin/sshd >/dev/null && command -v sshpass >/dev/null && command -v sftp >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
      openssh-server openssh-client sshpass >/dev/null
  stop
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  rm -rf "$T/upload"; mkdir -p "$T/upload"
  id sftptest >/dev/null 2>&1 || useradd -M -d "$T/upload" -s /usr/sbin/nologin sftptest
  usermod -d "$T/upload" sftptest >/dev/null 2>&1 || true
  echo 'sftptest:testpass' | chpasswd
  chown sftptest: "$T/upload"
  [ -f "$T/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
  [ -f "$T/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/client_ed25519"
  # A second host key: what a host that changed its key (or an impostor) presents.
  [ -f "$T/other_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/other_ed25519"
  chmod 600 "$T"/*_ed25519
  cp "$T/client_ed25519.pub" "$T/authorized_keys"
  : > "$T/known_hosts"
  # One cipher family per server, so that the tests cover each of libssh2's paths
  # (see vendor/README.md): 2222 offers all (chama picks AES-GCM).
  ciphers() {
    case $1 in
      2223) echo "Ciphers aes256-ctr"; echo "MACs hmac-sha2-256-etm@openssh.com" ;;
      2224) echo "Ciphers chacha20-poly1305@openssh.com" ;;
    esac
  }
  # What each drop box refuses, as sites lock down inbound SFTP.
  subsystem() {
    local refuse
    case $1 in
      2225) refuse="rename,posix-rename,hardlink,remove" ;;
      2226) refuse="stat,lstat,fstat" ;;
      2227) refuse="opendir,readdir" ;;
      2228) refuse="rename,posix-rename,hardlink,remove,stat,lstat,fstat,opendir,readdir" ;;
    esac
    echo "Subsystem sftp internal-sftp${refuse:+ -P $refuse}"
  }
  for P in $PORTS; do
    cat > "$T/sshd_$P.conf" <<EOC
Port $P
ListenAddress 127.0.0.1
HostKey $T/host_ed25519
PidFile $T/sshd_$P.pid
AuthorizedKeysFile $T/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
MaxStartups 200
MaxSessions 200
$(subsystem "$P")
LogLevel VERBOSE
$(ciphers "$P")
EOC
    cat > "$T/start-$P.sh" <<EOS
#!/bin/sh
/usr/sbin/sshd -D -e -f $T/sshd_$P.conf >> $T/sshd_$P.log 2>&1 < /dev/null &
echo \$! > $T/sshd_$P.bgpid
for i in \$(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$P) 2>/dev/null && exit 0; sleep 0.05; done
echo "sshd on $P did not start" >&2; exit 1
EOS
    sed -i '1s|.*|#!/bin/bash|' "$T/start-$P.sh"
    chmod +x "$T/start-$P.sh"
    "$T/start-$P.sh"
    echo "[127.0.0.1]:$P $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/known_hosts"
  done
  slow 2232 2222 1048576
  echo "export CHAMA_TEST_SFTP_DIR=$T"
  echo "export CHAMA_TEST_SFTP_PORTS=\"$PORTS\""
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  slow) shift; slow "$@" ;;
  *) echo "usage: scripts/sftp.sh start|stop|slow LISTEN TARGET BYTES_PER_SEC" >&2; exit 2 ;;
esac
