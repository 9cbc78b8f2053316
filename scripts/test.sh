#!/usr/bin/env bash
# Installs what the tests need and runs them all: a real HDFS (and a Kerberized one with its KDC),
# OpenSSH and other SFTP servers, lint, Rust unit
# and CLI tests, the DuckDB and Spark differential tests, Airflow (standalone and Celery
# with PostgreSQL and Redis), then the packages (built and installed). Safe to run on a fresh
# machine (it installs Java's jersey jars, Python tools and Hadoop's jars, cached
# in $CHAMA_TEST_CACHE, default ~/.cache/chama-test).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${CHAMA_TEST_CACHE:-$HOME/.cache/chama-test}
VENV=$CACHE/venv
mkdir -p "$CACHE"

START=$(date +%s)
step() { printf '\n== [%s, %d min in] %s\n' "$(date +%H:%M:%S)" $((($(date +%s) - START) / 60)) "$*"; }

step "Python tools (duckdb, pyarrow, pytest, prometheus-client, pyspark, zstandard) in $VENV"
if ! "$VENV/bin/python" -c 'import duckdb, pyarrow, pytest, prometheus_client, pyspark, zstandard' 2>/dev/null; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" 2>/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install -q --disable-pip-version-check duckdb pyarrow pytest prometheus-client pyspark zstandard
fi

step "the real-writer corpus: Hive tables written by Spark (scripts/spark_corpus.py, cached)"
# Made again only when what makes it changes: the script, the row generator, the shipped specs.
CORPUS_KEY=$(cat scripts/spark_corpus.py scripts/gen_dumps.py interfaces/*.toml | sha256sum | cut -c1-16)
export CHAMA_TEST_SPARK_CORPUS=$CACHE/spark-corpus-$CORPUS_KEY
if [ ! -f "$CHAMA_TEST_SPARK_CORPUS/DONE" ]; then
  command -v java >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends openjdk-17-jre-headless >/dev/null
  rm -rf "$CACHE"/spark-corpus-*
  "$VENV/bin/python" scripts/spark_corpus.py "$CHAMA_TEST_SPARK_CORPUS" > "$CACHE/spark-corpus.log" 2>&1 || {
    tail -40 "$CACHE/spark-corpus.log" >&2
    exit 1
  }
fi
export CHAMA_REQUIRE_SPARK_CORPUS=1
echo "corpus: $CHAMA_TEST_SPARK_CORPUS"

step "HDFS 2.7.3 on 127.0.0.1:19000 (scripts/hdfs.sh)"
eval "$(scripts/hdfs.sh start)"
trap 'scripts/hdfs.sh stop; scripts/sftp.sh stop' EXIT
export CHAMA_REQUIRE_HDFS=1
echo "up: $CHAMA_TEST_HDFS_URL, client $CHAMA_TEST_HDFS_CLI"

step "a Kerberized HDFS 2.7.3 on 127.0.0.1:19100 with an MIT KDC on 19188 (scripts/krb.sh)"
eval "$(scripts/krb.sh start)"
trap 'scripts/hdfs.sh stop; scripts/krb.sh stop; scripts/sftp.sh stop' EXIT
export CHAMA_REQUIRE_KRB=1
echo "up: $CHAMA_TEST_SECURE_URL, realm EXAMPLE.TEST, client $CHAMA_TEST_SECURE_CLI"

step "SFTP servers on 127.0.0.1 (scripts/sftp.sh): OpenSSH open and locked down, gesftpserver, ProFTPD mod_sftp"
eval "$(scripts/sftp.sh start)"
export CHAMA_REQUIRE_SFTP=1
echo "up: ports $CHAMA_TEST_SFTP_PORTS, upload directory $CHAMA_TEST_SFTP_DIR/upload"

step "vendor/libssh2-sys and vendor/orc-rust are the published crates plus their patches"
scripts/check_vendor.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "no import circle among src/ files but the SQL expression tree (scripts/import_cycles.py)"
python3 scripts/import_cycles.py

step "cargo test"
# Judged by cargo's exit status; the filter only quiets empty test binaries.
set +e
cargo test --quiet 2>&1 | tee "$CACHE/cargo-test.log" | grep -vE '^(running 0 tests|test result: ok. 0 passed.*)$'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "cargo test failed (exit $status)" >&2
  exit "$status"
fi

step "Python tests: DuckDB and Spark SQL differential tests, the metrics file through prometheus-client"
CHAMA_BIN="$PWD/target/debug/chama" "$VENV/bin/python" -m pytest tests/oracle -q -p no:cacheprovider

step "alerting rules: promtool check and test, each rule's condition taken away in turn (scripts/check_rules.sh)"
scripts/check_rules.sh

step "alarms end to end: node_exporter, Prometheus and Alertmanager to a webhook (scripts/alarms_test.py)"
python3 scripts/alarms_test.py "$PWD/target/debug/chama"

step "Airflow: the chama_daily DAG in a real Airflow (scripts/airflow/test.sh)"
scripts/airflow/test.sh "$PWD/target/debug/chama"

step "Airflow's Celery executor: two machines, a queue each, one lost mid-task (scripts/airflow/celery_test.sh)"
scripts/airflow/celery_test.sh "$PWD/target/debug/chama"

step "packages: the portable binary, tarball, RPM, .deb (scripts/package.sh, cached by source state)"
scripts/package.sh dist

step "the packages on this machine: glibc 2.17, ldd, daily job, push, rpm -qlp, dpkg -c, dpkg -i (scripts/test_package.sh)"
scripts/test_package.sh dist

step "all passed"
