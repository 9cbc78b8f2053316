#!/usr/bin/env bash
# Real OpenSSH SFTP servers on 127.0.0.1 for the tests (recipe: ../shared/recipes/sftp_servers.sh):
# 2222-2224 allow everything (one cipher family each); 2225-2228 are locked-down drop boxes
# (`internal-sftp -P`): 2225 refuses rename and remove, 2226 stat, 2227 listing, 2228 all four;
# 2231 takes only 2 connections at a time before login (`MaxStartups 2:100:2`), as busy
# collectors do.
# Two other SFTP implementations serve the same directory to the same user and keys: 2229 is
# Green End's gesftpserver behind an sshd, 2230 ProFTPD's mod_sftp (its own SSH and SFTP code);
# 2233 is gesftpserver with few files open at once; 2234 runs OpenSSH's external sftp-server
# through the user's login shell, nologin, which prints a line where SFTP should start.
#   scripts/sftp.sh start   -> prints `export ...` lines (directory, ports)
#   scripts/sftp.sh stop    -> stops what start started
# All servers share one upload directory, as an exchange platform's hosts share one storage.
# Each port has $T/start-PORT.sh so that tests can kill, freeze and restart a host; the
# listener's pid is in $T/sshd_PORT.bgpid, ProFTPD's too (tests/cli/push.rs reads that name).
# A slow host: scripts/sftp.sh slow LISTEN TARGET BYTES_PER_SEC [DELAY_MS [STATS_FILE]] puts a
# rate-limiting (and delaying) proxy (scripts/slowproxy.py) in front of a server; start makes
# one, 2232 -> 2222 at 1 MiB/s.
# Needs root (sshd, proftpd, a test user).
set -euo pipefail
T=${CHAMA_SFTP_RUN:-/tmp/chama-sftp}
PORTS=${CHAMA_SFTP_PORTS:-"2222 2223 2224 2225 2226 2227 2228 2231"}
# The other implementations' ports (empty: not started).
GESFTP_PORT=${CHAMA_SFTP_GESFTP_PORT-2229}
# gesftpserver again, with few files open at once (ulimit -n 12) and no limits@openssh.com
# to say so: a server whose handle limit a client finds out by its refusals.
FEWFILES_PORT=${CHAMA_SFTP_FEWFILES_PORT-2233}
# OpenSSH's external sftp-server as the subsystem, which sshd runs through the user's shell:
# for it, sftptest's shell is nologin, which prints its refusal where SFTP should start.
NOLOGIN_PORT=${CHAMA_SFTP_NOLOGIN_PORT-2234}
PROFTPD_PORT=${CHAMA_SFTP_PROFTPD_PORT-2230}
GESFTP=/usr/libexec/gesftpserver
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

# starter PORT LOG COMMAND...: writes $T/start-PORT.sh, which runs COMMAND (a server in the
# foreground) in the background, logging to LOG, and waits for the port; runs it. Every server
# presents $T/host_ed25519 (ProFTPD 1.3.8 takes OpenSSH's ed25519 key file as it is), so
# known_hosts gets that key for the port.
starter() {
  local port=$1 log=$2; shift 2
  cat > "$T/start-$port.sh" <<EOS
#!/bin/bash
$* >> $log 2>&1 < /dev/null &
echo \$! > $T/sshd_$port.bgpid
for i in \$(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && exit 0; sleep 0.05; done
echo "${1##*/} on $port did not start" >&2; exit 1
EOS
  chmod +x "$T/start-$port.sh"
  "$T/start-$port.sh"
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >> "$T/known_hosts"
}

# ProFTPD with mod_sftp alone: our config file, not /etc/proftpd; in the foreground (-n) so that
# its pid is the listener's, logging to stderr ($T/proftpd_PORT.log) and mod_sftp's SFTPLog.
proftpd_start() {
  local P=$1
  cat > "$T/proftpd_$P.conf" <<EOC
ServerType standalone
ServerName "chama test"
Port $P
DefaultAddress 127.0.0.1
# 127.0.0.1 only, IPv4 only.
SocketBindTight on
UseIPv6 off
# Starts as root, listens as proftpd; a session runs as the user who logged in.
User proftpd
Group nogroup
PidFile $T/proftpd_$P.pid
ScoreboardFile $T/proftpd_$P.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
MaxInstances 200
# Users from /etc/passwd (no PAM); sftptest's shell is in no /etc/shells.
AuthOrder mod_auth_unix.c
RequireValidShell off
# No DefaultRoot: no chroot, as on the other servers the paths are absolute ($T/upload/...).
# Without AllowOverwrite, opening an existing file for writing (truncating, or resuming
# without truncating) is "Permission denied". Renames do not depend on it: posix-rename
# replaces the target, a plain RENAME onto an existing name always fails.
AllowOverwrite on
ModulePath /usr/lib/proftpd
LoadModule mod_sftp.c
SFTPEngine on
SFTPLog $T/proftpd_$P.sftp.log
SFTPHostKey $T/host_ed25519
SFTPAuthorizedUserKeys file:$T/authorized_keys.rfc4716
SFTPAuthMethods publickey
EOC
  starter "$P" "$T/proftpd_$P.log" /usr/sbin/proftpd -n -c "$T/proftpd_$P.conf"
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
  if { [ -n "$GESFTP_PORT" ] && [ ! -x "$GESFTP" ]; } ||
     { [ -n "$PROFTPD_PORT" ] && [ ! -f /usr/lib/proftpd/mod_sftp.so ]; }; then
    # Debian's packages (bookworm: ProFTPD 1.3.8); mod_sftp is in proftpd-mod-crypto.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
      gesftpserver proftpd-core proftpd-mod-crypto >/dev/null
    # Where services start on install (not in containers), the package's own FTP daemon now
    # listens on port 21: only ours should run.
    systemctl disable --now proftpd >/dev/null 2>&1 || true
  fi
  stop
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  rm -rf "$T/upload"; mkdir -p "$T/upload"
  # sftptest's login shell. sshd runs an external Subsystem (gesftpserver) as `SHELL -c COMMAND`
  # (internal-sftp needs no shell), and there is no sshd option to bypass the shell
  # (ForceCommand goes through it too): nologin would print "This account is currently not
  # available." into the SFTP stream. So the shell runs gesftpserver and nothing else; any other
  # command or login still gets nologin's refusal.
  cat > "$T/sftptest-shell" <<EOS
#!/bin/sh
[ "\$#" = 2 ] && [ "\$1" = -c ] && [ "\$2" = $GESFTP ] && exec $GESFTP
[ "\$#" = 2 ] && [ "\$1" = -c ] && [ "\$2" = $T/gesftp-few-files ] && exec $T/gesftp-few-files
exec /usr/sbin/nologin "\$@"
EOS
  chmod 0755 "$T/sftptest-shell"
  printf '#!/bin/sh\nulimit -n 12\nexec %s\n' "$GESFTP" > "$T/gesftp-few-files"
  chmod 0755 "$T/gesftp-few-files"
  id sftptest >/dev/null 2>&1 || useradd -M -d "$T/upload" -s "$T/sftptest-shell" sftptest
  usermod -d "$T/upload" sftptest >/dev/null 2>&1 || true
  # Not with -d: usermod refuses -d while sftptest has processes, and a missing shell would
  # lock sftptest out of every sshd (sshd refuses a user whose shell does not exist).
  [ "$(getent passwd sftptest | cut -d: -f7)" = "$T/sftptest-shell" ] || usermod -s "$T/sftptest-shell" sftptest
  echo 'sftptest:testpass' | chpasswd
  chown sftptest: "$T/upload"
  [ -f "$T/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
  [ -f "$T/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/client_ed25519"
  # A second host key: what a host that changed its key (or an impostor) presents.
  [ -f "$T/other_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/other_ed25519"
  chmod 600 "$T"/*_ed25519
  cp "$T/client_ed25519.pub" "$T/authorized_keys"
  # ProFTPD reads only RFC 4716 keys ("---- BEGIN SSH2 PUBLIC KEY ----"), not authorized_keys lines.
  ssh-keygen -e -f "$T/client_ed25519.pub" > "$T/authorized_keys.rfc4716"
  : > "$T/known_hosts"
  # One cipher family per server, so that the tests cover each of libssh2's paths
  # (see vendor/README.md): 2222 offers all (chama picks AES-GCM).
  ciphers() {
    case $1 in
      2223) echo "Ciphers aes256-ctr"; echo "MACs hmac-sha2-256-etm@openssh.com" ;;
      2224) echo "Ciphers chacha20-poly1305@openssh.com" ;;
    esac
  }
  # sshd drops connections beyond this many not yet logged in (the first value given counts).
  startups() {
    case $1 in
      2231) echo "MaxStartups 2:100:2" ;;
      *) echo "MaxStartups 200" ;;
    esac
  }
  # What each drop box refuses, as sites lock down inbound SFTP.
  subsystem() {
    local refuse
    [ "$1" = "$GESFTP_PORT" ] && { echo "Subsystem sftp $GESFTP"; return; }
    [ "$1" = "$FEWFILES_PORT" ] && { echo "Subsystem sftp $T/gesftp-few-files"; return; }
    [ "$1" = "$NOLOGIN_PORT" ] && { echo "Subsystem sftp /usr/lib/openssh/sftp-server"; return; }
    case $1 in
      2225) refuse="rename,posix-rename,hardlink,remove" ;;
      2226) refuse="stat,lstat,fstat" ;;
      2227) refuse="opendir,readdir" ;;
      2228) refuse="rename,posix-rename,hardlink,remove,stat,lstat,fstat,opendir,readdir" ;;
    esac
    echo "Subsystem sftp internal-sftp${refuse:+ -P $refuse}"
  }
  for P in $PORTS $GESFTP_PORT $FEWFILES_PORT $NOLOGIN_PORT; do
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
$(startups "$P")
MaxSessions 200
$(subsystem "$P")
LogLevel VERBOSE
$(ciphers "$P")
EOC
    starter "$P" "$T/sshd_$P.log" /usr/sbin/sshd -D -e -f "$T/sshd_$P.conf"
  done
  [ -z "$PROFTPD_PORT" ] || proftpd_start "$PROFTPD_PORT"
  slow 2232 2222 1048576
  echo "export CHAMA_TEST_SFTP_DIR=$T"
  echo "export CHAMA_TEST_SFTP_PORTS=\"$(echo $PORTS $GESFTP_PORT $PROFTPD_PORT $FEWFILES_PORT $NOLOGIN_PORT)\""
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  slow) shift; slow "$@" ;;
  *) echo "usage: scripts/sftp.sh start|stop|slow LISTEN TARGET BYTES_PER_SEC" >&2; exit 2 ;;
esac
