#!/usr/bin/env bash
# The alerting rules (packaging/prometheus/chama.yml): `promtool check rules`, then
# `promtool test rules` on their firing and quiet cases, then each rule's condition taken
# away in turn (its expr replaced by one that never fires): its tests must then fail, so
# that no rule passes its tests by accident. Then the Alertmanager example
# (alertmanager.yml): `amtool check-config`, and each rule routed by its severity to the
# phone or chat receiver. Installs Debian's `prometheus`, `prometheus-alertmanager` and
# `prometheus-node-exporter` (for scripts/alarms_test.py too) where they are missing.
set -euo pipefail
cd "$(dirname "$0")/../packaging/prometheus"
command -v promtool >/dev/null && command -v amtool >/dev/null && command -v prometheus-node-exporter >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
    prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null
# Debian starts the packaged daemons on install where it can: only the tests' own run.
systemctl disable --now prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null 2>&1 || true
# Every chama metric a rule or a dashboard query names is one chama writes (src/metrics.rs).
queries=$(python3 -c 'import json, sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p.get("targets", []):
        print(t["expr"])' ../grafana/chama.json)
[ -n "$queries" ] || { echo "check_rules: no queries in the dashboard" >&2; exit 1; }
for where in chama.yml dashboard; do
  text=$([ "$where" = chama.yml ] && cat chama.yml || echo "$queries")
  for m in $(echo "$text" | grep -o 'chama_[a-z_]*' | grep -v '^chama_$' | sort -u); do
    grep -q "\"$m\"" ../../src/metrics.rs || { echo "check_rules: $where names $m, which chama does not write" >&2; exit 1; }
  done
done
echo "ok: every chama metric named by the rules and the dashboard's $(echo "$queries" | wc -l) queries is one chama writes"
promtool check rules chama.yml
promtool test rules chama.test.yml
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cp chama.test.yml "$T/"
for alert in $(sed -n 's/^ *- alert: //p' chama.yml); do
  # (An expr written as a block, `expr: |`, loses its lines below too.)
  awk -v a="$alert" '
    block && match($0, /^ */) && RLENGTH <= block { block = 0 }
    block { next }
    $0 ~ "- alert: " a "$" { mine = 1 }
    mine && $1 == "expr:" {
      if ($2 == "|") { match($0, /^ */); block = RLENGTH }
      sub(/expr:.*/, "expr: vector(1) > 2"); mine = 0
    }
    { print }' chama.yml > "$T/chama.yml"
  promtool check rules "$T/chama.yml" > "$T/out" 2>&1 || { cat "$T/out" >&2; echo "check_rules: $alert taken away, the rules do not parse" >&2; exit 1; }
  if promtool test rules "$T/chama.test.yml" > "$T/out" 2>&1; then
    echo "check_rules: $alert's tests pass without its condition" >&2; exit 1
  fi
  echo "ok: without its condition, $alert's tests fail"
done
amtool check-config alertmanager.yml
# The README's example too.
python3 -c 'import sys; s = open(sys.argv[1]).read(); i = s.index("```yaml\nroute:"); print(s[i + 8:s.index("```", i + 7)])' \
  ../../README.md > "$T/readme-am.yml"
amtool check-config "$T/readme-am.yml" >/dev/null || { echo "check_rules: the README's Alertmanager example does not load" >&2; exit 1; }
echo "ok: the README's Alertmanager example loads"
awk '/- alert: /{a=$3} /severity: /{print a, $2}' chama.yml | while read -r alert severity; do
  want=$([ "$severity" = critical ] && echo phone || echo chat)
  amtool config routes test --config.file=alertmanager.yml --verify.receivers="$want" \
    alertname="$alert" severity="$severity" interface=CM001 >/dev/null 2>&1 ||
    { echo "check_rules: $alert ($severity) is not routed to $want" >&2; exit 1; }
  echo "ok: $alert ($severity) goes to $want"
done
