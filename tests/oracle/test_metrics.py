"""The Prometheus textfile chama writes after every command parses with the
reference parser (prometheus-client), and its numbers match the manifests."""
import json

from prometheus_client.parser import text_string_to_metric_families

from common import ROOT, chama


def test_metrics_file_parses_and_matches_the_manifests(tmp_path):
    (tmp_path / "chama.toml").write_text(
        f'work_dir = "var"\ninterfaces_dir = "{ROOT}/interfaces"\nmetrics_dir = "metrics"\n'
        f'[sources.default]\nkind = "local"\nroot = "{ROOT}/testdata/dumps"\n'
        '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n'
    )
    chama("run", "--iface", "CM001", "--period", "20241212", cwd=tmp_path)
    text = (tmp_path / "metrics" / "chama.prom").read_text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def get(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    day = json.loads((tmp_path / "var/out/CM001/20241212/manifest.json").read_text())
    files = sum(len(s["files"]) for s in day["sets"])
    size = sum(f["bytes"] for s in day["sets"] for f in s["files"])
    d = dict(interface="CM001", period="20241212", kind="day")
    assert get("chama_rows_out", **d) == day["counts"]["rows_out"]
    assert get("chama_rows_in", **d) == day["counts"]["rows_in"]
    assert get("chama_rows_rejected", **d) == day["counts"]["rejected"]
    assert get("chama_files", **d) == files
    assert get("chama_bytes", **d) == size
    hour = json.loads((tmp_path / "var/hourly/CM001/20241212/07/manifest.json").read_text())
    assert get("chama_rows_out", interface="CM001", period="2024121207", kind="hour") == hour["counts"]["rows_out"]
    p = dict(interface="CM001", period="20241212", destination="outbox")
    assert get("chama_push_files", **p) == files + len(day["sets"])  # data files and a .verf per set
    assert get("chama_push_exit_code", **p) == 0
    assert get("chama_push_failovers", **p) == 0
    assert get("chama_run_exit_code", command="run", interface="CM001", period="20241212") == 0
    assert get("chama_run_last_success_timestamp_seconds", command="run", interface="CM001") > 1.7e9
    # Written atomically: no temporary file left beside it.
    assert [p.name for p in (tmp_path / "metrics").iterdir()] == ["chama.prom"]
