#!/usr/bin/env bash
# Runs the chama_daily DAG in a real Airflow (installed once into a cached venv)
# against the bundled day, delivered to a local outbox: the task must succeed;
# with a broken spec it must fail at once, without a retry; a day without data
# (exit 3) is retried; on the Kerberized cluster of scripts/krb.sh (when it runs), a day
# delivered with a keytab, and a Kerberos failure that fails its task without a retry.
#   scripts/airflow/test.sh [CHAMA_BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
AV=$CACHE/airflow-venv
BIN=${1:-$PWD/target/debug/chama}
if ! "$AV/bin/python" -c 'import airflow' 2>/dev/null; then
  python3 -m venv "$AV"
  "$AV/bin/pip" install -q --disable-pip-version-check apache-airflow
fi
T=$(mktemp -d /tmp/chama-airflow-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/work/interfaces" "$T/dags"
cp interfaces/CM001.toml "$T/work/interfaces/"
cp scripts/airflow/chama_daily.py "$T/dags/"
cat > "$T/work/chama.toml" <<EOC
work_dir = "var"
[sources.default]
kind = "local"
root = "$PWD/testdata/dumps"
[destinations.outbox]
kind = "local"
root = "outbox"
EOC
export AIRFLOW_HOME=$T/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__DAGS_FOLDER=$T/dags
export CHAMA_BIN=$BIN CHAMA_WORKDIR=$T/work CHAMA_CONFIG=$T/work/chama.toml CHAMA_RETRIES=2 CHAMA_RETRY_MINUTES=0
"$AV/bin/airflow" db migrate > "$T/migrate.log" 2>&1 || { tail -20 "$T/migrate.log"; exit 1; }

echo "airflow dags test chama_daily 2024-12-12 (the bundled day)"
if ! "$AV/bin/airflow" dags test chama_daily 2024-12-12 > "$T/ok.log" 2>&1; then
  tail -40 "$T/ok.log"; echo "FAIL: the DAG run failed on the bundled day" >&2; exit 1
fi
n=$(ls "$T/work/outbox/incoming/cm" | wc -l)
[ "$n" -gt 300 ] || { echo "FAIL: only $n files delivered" >&2; exit 1; }
grep -q "'command': 'run'" "$T/ok.log" || {
  tail -20 "$T/ok.log"; echo "FAIL: no JSON summary as the task's return value (XCom)" >&2; exit 1; }
echo "ok: $n files delivered to the outbox"

echo "airflow dags test chama_daily 2024-12-13 with a broken spec"
cp interfaces/CM001.toml "$T/work/interfaces/CM001.good"; echo 'name = "CM001"' > "$T/work/interfaces/CM001.toml"
echo 'this is not toml' >> "$T/work/interfaces/CM001.toml"
if "$AV/bin/airflow" dags test chama_daily 2024-12-13 > "$T/bad.log" 2>&1; then
  tail -40 "$T/bad.log"; echo "FAIL: a broken spec did not fail the DAG run" >&2; exit 1
fi
tries=$(grep -c "exited 2: needs a person" "$T/bad.log" || true)
[ "$tries" -ge 1 ] || { tail -40 "$T/bad.log"; echo "FAIL: the task did not fail with exit 2" >&2; exit 1; }
if grep -qi "up_for_retry\|UP_FOR_RETRY" "$T/bad.log"; then
  tail -40 "$T/bad.log"; echo "FAIL: a spec error was retried" >&2; exit 1
fi
echo "ok: the spec error failed the task once, with no retry"

echo "airflow dags test chama_daily 2024-12-14 (no data: exit 3, retryable)"
mv "$T/work/interfaces/CM001.good" "$T/work/interfaces/CM001.toml"
if "$AV/bin/airflow" dags test chama_daily 2024-12-14 > "$T/late.log" 2>&1; then
  echo "FAIL: a day without data succeeded" >&2; exit 1
fi
tries=$(grep -c "exited 3 (retryable)" "$T/late.log" || true)
[ "$tries" -ge 2 ] && grep -qi "up_for_retry" "$T/late.log" || {
  tail -40 "$T/late.log"; echo "FAIL: exit 3 was not retried ($tries tries)" >&2; exit 1; }
echo "ok: data not there yet (exit 3) was retried: $tries tries"

echo "airflow dags test chama_daily 2024-12-15 with CHAMA_IFACES=CM01 (a typo: exit 2, no retry)"
if CHAMA_IFACES=CM01 "$AV/bin/airflow" dags test chama_daily 2024-12-15 > "$T/typo.log" 2>&1; then
  echo "FAIL: a mistyped interface succeeded" >&2; exit 1
fi
tries=$(grep -c "exited 2: needs a person" "$T/typo.log" || true)
{ [ "$tries" -ge 1 ] && grep -q "no interface \`CM01\`" "$T/typo.log" && ! grep -qi "up_for_retry" "$T/typo.log"; } || {
  tail -40 "$T/typo.log"; echo "FAIL: a mistyped interface was not failed once, without retry" >&2; exit 1; }
[ ! -e "$T/work/var/locks/CM01.20241215.lock" ] || { echo "FAIL: a lock was taken for a mistyped interface" >&2; exit 1; }
echo "ok: the mistyped interface failed its task once, naming the known ones, with no retry"

echo "airflow dags test chama_daily 2024-12-16: a task past its execution_timeout"
# One hour big enough that building it outlasts a 3-second timeout.
mkdir -p "$T/slow/slow/2024121600"
seq 1 4000000 | awk '{print $1 "\001some value of the row " $1}' > "$T/slow/slow/2024121600/part-0"
cp scripts/airflow/SLOW.toml "$T/work/interfaces/"
printf '[sources.slow]\nkind = "local"\nroot = "%s/slow"\n' "$T" >> "$T/work/chama.toml"
if CHAMA_IFACES=SLOW CHAMA_RETRIES=1 CHAMA_TIMEOUT_MINUTES=0.05 \
   "$AV/bin/airflow" dags test chama_daily 2024-12-16 > "$T/timeout.log" 2>&1; then
  echo "FAIL: a task past its timeout succeeded" >&2; exit 1
fi
stops=$(grep -c "stopped with SIGTERM: exited 143" "$T/timeout.log" || true)
{ [ "$stops" -ge 2 ] && grep -qi "up_for_retry" "$T/timeout.log"; } || {
  tail -60 "$T/timeout.log"; echo "FAIL: the timed-out task was not stopped with SIGTERM and retried ($stops stops)" >&2; exit 1; }
left=$(find "$T/work/var" \( -name '*.part' -o -name '*.building-*' -o -name '*.old-*' \) | wc -l)
[ "$left" -eq 0 ] || { find "$T/work/var" -name '*.part' -o -name '*.building-*'; echo "FAIL: $left half-made entries left" >&2; exit 1; }
echo "ok: the task past its timeout was retried; each try stopped chama with SIGTERM (exit 143), nothing left half-made"

# On the Kerberized cluster of scripts/krb.sh, when it runs: the worker's environment
# carries only the realm's krb5.conf; chama gets its ticket from the keytab itself.
if [ -n "${CHAMA_TEST_SECURE_CLI:-}" ]; then
  K=$CHAMA_TEST_KRB_DIR
  dfs() { KRB5CCNAME=$CHAMA_TEST_KRB_ADMIN_CC KRB5_CONFIG=$CHAMA_TEST_KRB5_CONFIG "$CHAMA_TEST_SECURE_CLI" dfs "$@"; }
  root=/chama/airflow-$$
  dfs -mkdir -p "$root" 2>/dev/null
  dfs -put "$PWD/testdata/dumps/cm001" "$root/" 2>/dev/null
  mkdir -p "$T/krb/interfaces"
  cp interfaces/CM001.toml "$T/krb/interfaces/"
  krb_config() { # principal keytab
    cat > "$T/krb/chama.toml" <<EOC
work_dir = "var"
[sources.default]
kind = "hdfs"
namenode = "$CHAMA_TEST_SECURE_URL"
root = "$root"
hadoop_conf_dir = "$CHAMA_TEST_SECURE_CONF"
principal = "$1@EXAMPLE.TEST"
keytab = "$K/keytabs/$2"
[destinations.outbox]
kind = "local"
root = "outbox"
EOC
  }
  echo "airflow dags test chama_daily 2024-12-12 from a Kerberized HDFS, with a keytab"
  krb_config chama chama.keytab
  if ! CHAMA_WORKDIR=$T/krb CHAMA_CONFIG=$T/krb/chama.toml KRB5_CONFIG=$CHAMA_TEST_KRB5_CONFIG KRB5CCNAME=FILE:$T/krb/none \
     "$AV/bin/airflow" dags test chama_daily 2024-12-12 > "$T/krb.log" 2>&1; then
    tail -40 "$T/krb.log"; echo "FAIL: the DAG run failed on the Kerberized cluster" >&2; exit 1
  fi
  n=$(ls "$T/krb/outbox/incoming/cm" | wc -l)
  [ "$n" -gt 300 ] && [ -d "$T/krb/var/krb5cc" ] || { echo "FAIL: $n files delivered from the Kerberized cluster" >&2; exit 1; }
  echo "ok: $n files delivered from the Kerberized cluster, with chama's own ticket"

  echo "airflow dags test chama_daily 2024-12-13: a principal the KDC does not know (exit 2, no retry)"
  krb_config ghost ghost.keytab
  if CHAMA_WORKDIR=$T/krb CHAMA_CONFIG=$T/krb/chama.toml KRB5_CONFIG=$CHAMA_TEST_KRB5_CONFIG \
     "$AV/bin/airflow" dags test chama_daily 2024-12-13 > "$T/ghost.log" 2>&1; then
    echo "FAIL: a principal the KDC does not know succeeded" >&2; exit 1
  fi
  { grep -q "exited 2: needs a person" "$T/ghost.log" && grep -q "does not know ghost@EXAMPLE.TEST" "$T/ghost.log" &&
    ! grep -qi "up_for_retry" "$T/ghost.log"; } || {
    tail -40 "$T/ghost.log"; echo "FAIL: the Kerberos failure was not failed once, without retry" >&2; exit 1; }
  echo "ok: the Kerberos failure failed its task once, saying what to do, with no retry"
  dfs -rm -r -f -skipTrash "$root" >/dev/null 2>&1 || true
fi
