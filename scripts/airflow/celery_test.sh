#!/usr/bin/env bash
# The chama_daily DAG on Airflow's Celery executor, spread over "machines" as the
# team runs it: PostgreSQL and Redis (Debian's packages), an Airflow API server,
# scheduler and DAG processor, and one Celery worker per queue (node01, node02),
# each with its own chama work directory and its own host name, standing in for
# two machines. Three interfaces on two queues (CM001 and CM003 on node01, SLOW on
# node02): each runs on its own queue's worker, checked from Airflow's task
# instances (queue, hostname) and from each work directory's ledger, and the day
# is delivered. In the middle of SLOW's task its machine is lost (the worker, its
# task runner and chama all SIGKILLed): the scheduler sees the task's heartbeat
# stop, retries it, and a new worker of node02 with an empty work directory
# rebuilds the day from the source and delivers it.
#   scripts/airflow/celery_test.sh [CHAMA_BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
AV=$CACHE/airflow-venv
BIN=${1:-$PWD/target/debug/chama}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ ! -x "$PG_BIN/initdb" ] || ! command -v redis-server >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
    postgresql redis-server >/dev/null
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
if ! "$AV/bin/python" -c 'import airflow.providers.celery.executors.celery_executor, redis, psycopg2, asyncpg' 2>/dev/null; then
  [ -x "$AV/bin/python" ] || python3 -m venv "$AV"
  "$AV/bin/pip" install -q --disable-pip-version-check apache-airflow apache-airflow-providers-celery 'celery[redis]>=5.5,<5.7' psycopg2-binary asyncpg
fi

T=$(mktemp -d /tmp/chama-celery-XXXXXX)
chmod 755 "$T"
PGPORT=15432 REDISPORT=16379 APIPORT=18080
declare -A PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -- -"$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 -- -"$p" 2>/dev/null || true; done
  [ -f "$T/redis.pid" ] && kill "$(cat "$T/redis.pid")" 2>/dev/null || true
  [ -d "$T/pg" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1 || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log "$T"/pg/postgres.log; do echo "--- $f"; tail -15 "$f"; done >&2; exit 1; }
sql() { psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d airflow -At -c "$1"; }

echo "PostgreSQL on $PGPORT, Redis on $REDISPORT"
mkdir "$T/pg" && chown postgres "$T/pg"
runuser -u postgres -- "$PG_BIN/initdb" -D "$T/pg" -A trust -U postgres > "$T/initdb.log" 2>&1 || fail "initdb"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg" -l "$T/pg/postgres.log" -w \
  -o "-p $PGPORT -k $T/pg -c listen_addresses=127.0.0.1" start > /dev/null || fail "postgres did not start"
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc 'CREATE DATABASE airflow' || fail "createdb"
redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$T/redis.pid" --dir "$T" --logfile "$T/redis.log" || fail "redis did not start"

# The interfaces, deployed alike to every machine: three on two queues.
mkdir -p "$T/interfaces" "$T/dags" "$T/py" "$T/slow"
sed '/^\[delivery\]/a queue = "node01"' interfaces/CM001.toml > "$T/interfaces/CM001.toml"
sed '/^\[delivery\]/a queue = "node01"' interfaces/CM003.toml > "$T/interfaces/CM003.toml"
sed '/^\[delivery\]/a queue = "node02"' scripts/airflow/SLOW.toml > "$T/interfaces/SLOW.toml"
# A day big enough (24 x 600,000 rows) that its task is still running when its machine is lost.
for h in $(seq -w 0 23); do
  mkdir -p "$T/slow/slow/20241212$h"
  seq 1 600000 | awk -v h="$h" '{print h $1 "\001row " $1 " of hour " h}' > "$T/slow/slow/20241212$h/part-0"
done
cp scripts/airflow/chama_daily.py "$T/dags/"
# Each machine's task instances carry its name (Airflow's hostname_callable).
printf 'import os\n\ndef name():\n    return os.environ["CHAMA_MACHINE"]\n' > "$T/py/chama_machine.py"
machine() {
  mkdir -p "$T/$1"
  cat > "$T/$1/chama.toml" <<EOC
work_dir = "var"
interfaces_dir = "$T/interfaces"
[sources.default]
kind = "local"
root = "$PWD/testdata/dumps"
[sources.slow]
kind = "local"
root = "$T/slow"
[destinations.outbox]
kind = "local"
root = "outbox"
EOC
}

export AIRFLOW_HOME=$T/airflow PYTHONPATH=$T/py CHAMA_MACHINE=control
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/airflow
export AIRFLOW__CELERY__BROKER_URL=redis://127.0.0.1:$REDISPORT/0
export AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/airflow
export AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__DAGS_FOLDER=$T/dags
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__HOSTNAME_CALLABLE=chama_machine.name
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$APIPORT/execution/
export AIRFLOW__API_AUTH__JWT_SECRET=chama-celery-test-only
export AIRFLOW__API__SECRET_KEY=chama-celery-test-only
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=20
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL=5
export CHAMA_BIN=$BIN CHAMA_INTERFACES=$T/interfaces CHAMA_SCHEDULE=none CHAMA_RETRIES=2 CHAMA_RETRY_MINUTES=0
export CHAMA_WORKDIR=$T

echo "airflow db migrate"
"$AV/bin/airflow" db migrate > "$T/migrate.log" 2>&1 || fail "airflow db migrate"

# A process group each, so that a machine can be lost whole.
start() {
  local name=$1
  shift
  setsid "$@" > "$T/$name.log" 2>&1 < /dev/null &
  PIDS[$name]=$!
  disown "$!"
}
worker() { # worker NAME QUEUE: a machine with its own work directory
  machine "$1"
  start "$1" env CHAMA_MACHINE="$1" CHAMA_WORKDIR="$T/$1" CHAMA_CONFIG="$T/$1/chama.toml" CHAMA_QUEUE="$2" \
    "$AV/bin/airflow" celery worker --queues "$2" --concurrency 2 --celery-hostname "$1@%h" --skip-serve-logs
}
start api "$AV/bin/airflow" api-server --port "$APIPORT" --workers 1
start scheduler "$AV/bin/airflow" scheduler --skip-serve-logs
start dag-processor "$AV/bin/airflow" dag-processor
worker m1 node01
worker m2 node02

echo "waiting for the DAG to be parsed"
for _ in $(seq 1 120); do
  [ "$(sql "SELECT count(*) FROM dag WHERE dag_id = 'chama_daily'" 2>/dev/null)" = 1 ] && break
  sleep 2
done
[ "$(sql "SELECT count(*) FROM dag WHERE dag_id = 'chama_daily'")" = 1 ] || fail "the DAG was not parsed"

echo "airflow dags trigger chama_daily for 2024-12-12"
"$AV/bin/airflow" dags trigger chama_daily --run-id day12 --logical-date 2024-12-12T00:00:00+00:00 \
  > "$T/trigger.log" 2>&1 || fail "trigger"

echo "waiting for SLOW to be running on m2, then losing m2 (SIGKILL of the worker, its task runner and chama)"
for _ in $(seq 1 300); do
  built=$(ls "$T/m2/var/hourly/SLOW/20241212" 2>/dev/null | grep -c '^[0-9][0-9]$' || true)
  [ "$built" -ge 1 ] && break
  sleep 0.5
done
[ "${built:-0}" -ge 1 ] || fail "SLOW's task did not start building on m2"
state=$(sql "SELECT state FROM task_instance WHERE run_id = 'day12' AND task_id = 'run_SLOW'")
[ "$state" = running ] || fail "run_SLOW is $state, not running, when m2 is lost"
# Every process of the machine: the worker and all below it (Celery's pool, Airflow's
# task supervisor and runner, chama), frozen together, then killed: nothing of it
# gets to report anything, as when a machine's power goes.
tree() {
  local all=$1 next=$1
  while [ -n "$next" ]; do
    next=$(ps -eo pid=,ppid= | awk -v p=" $next " 'index(p, " " $2 " ") {print $1}' | tr '\n' ' ')
    all="$all $next"
  done
  echo $all
}
m2_pids=$(tree "${PIDS[m2]}")
pgrep -x chama >/dev/null || fail "no chama running when m2 is lost"
kill -STOP $m2_pids 2>/dev/null || true
kill -9 $m2_pids 2>/dev/null || true
unset 'PIDS[m2]'
sleep 1
for p in $m2_pids; do # gone, or a zombie that nobody reaps
  state=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1 || true)
  state=${state:-gone}
  case "$state" in gone | Z) ;; *) fail "process $p of m2 survived ($state)" ;; esac
done
[ ! -e "$T/m2/outbox/slow" ] || fail "SLOW was already delivered by m2 when m2 was lost: the day is too small"
echo "m2 lost after $built hours of SLOW; a new machine for node02 (m3, empty work directory)"
worker m3 node02

echo "waiting for the DAG run (the lost task is found by its missing heartbeat after 20 s)"
for _ in $(seq 1 240); do
  run_state=$(sql "SELECT state FROM dag_run WHERE run_id = 'day12'")
  case "$run_state" in success | failed) break ;; esac
  sleep 2
done
sql "SELECT task_id, queue, hostname, state, try_number FROM task_instance WHERE run_id = 'day12' ORDER BY task_id" |
  tee "$T/tasks.txt"
[ "$run_state" = success ] || fail "the DAG run ended $run_state"

ti() { grep "^run_$1|" "$T/tasks.txt" || true; }
[ "$(ti CM001)" = "run_CM001|node01|m1|success|1" ] || fail "CM001: $(ti CM001)"
[ "$(ti CM003)" = "run_CM003|node01|m1|success|1" ] || fail "CM003: $(ti CM003)"
[ "$(ti SLOW)" = "run_SLOW|node02|m3|success|2" ] || fail "SLOW (retried on m3): $(ti SLOW)"

ledger() { # the interfaces a machine's ledger has `run` records of, with their exit codes
  "$AV/bin/python" - "$T/$1/var/ledger.sqlite" <<'EOP'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT iface, group_concat(coalesce(code, 'none')) FROM runs WHERE command = 'run' GROUP BY iface ORDER BY iface")
print(" ".join(f"{i}:{c}" for i, c in rows))
EOP
}
[ "$(ledger m1)" = "CM001:0 CM003:0" ] || fail "m1's ledger: $(ledger m1)"
[ "$(ledger m3)" = "SLOW:0" ] || fail "m3's ledger: $(ledger m3)"
# m2's chama was killed mid-run: its run is recorded as started, never finished.
[ "$(ledger m2)" = "SLOW:none" ] || fail "m2's ledger: $(ledger m2)"
echo "ledgers: m1 $(ledger m1); m2 $(ledger m2) (lost mid-run); m3 $(ledger m3)"

for d in "m1/outbox/incoming/cm" "m3/outbox/slow"; do
  verfs=$(ls "$T/$d" | grep -c '\.verf$' || true)
  [ "$verfs" -ge 1 ] || fail "nothing delivered in $d"
done
[ ! -e "$T/m1/var/hourly/SLOW" ] && [ ! -e "$T/m3/var/hourly/CM001" ] || fail "an interface was built on another queue's machine"
echo "ok: CM001 and CM003 ran on node01's m1, SLOW on node02 (retried on m3 after m2 was lost); every day delivered"
