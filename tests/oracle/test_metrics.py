"""The Prometheus textfile chama writes after every command parses with the
reference parser (prometheus-client), and its numbers match the manifests."""
import datetime
import json
import os
import shutil

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



def test_metrics_hold_what_the_alarms_compare(tmp_path):
    """The series the rules hold against time(): the last success per interface and its
    allowed silence, the hour after the newest built and when it is late, and the work
    directory's free space beside what a day needs there."""
    dumps = tmp_path / "dumps" / "cm001"
    shutil.copytree(f"{ROOT}/testdata/dumps/cm001/dt=2024-12-12", dumps / "dt=2024-12-12")
    # An hour built three hours ago, as the hourly job would (local time, as chama reads it).
    built = datetime.datetime.now() - datetime.timedelta(hours=3)
    shutil.copytree(f"{ROOT}/testdata/dumps/cm001/dt=2024-12-12/hour=07",
                    dumps / f"dt={built:%Y-%m-%d}" / f"hour={built:%H}")
    spec = open(f"{ROOT}/interfaces/CM001.toml").read()
    (tmp_path / "interfaces").mkdir()
    (tmp_path / "interfaces" / "CM001.toml").write_text(
        spec.replace("[delivery]\n", '[delivery]\nalarm_hour_late = "90m"\n'))
    (tmp_path / "chama.toml").write_text(
        'work_dir = "var"\ninterfaces_dir = "interfaces"\nmetrics_dir = "metrics"\n'
        f'[sources.default]\nkind = "local"\nroot = "{tmp_path}/dumps"\n'
        '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n'
    )
    chama("run", "--iface", "CM001", "--period", "20241212", cwd=tmp_path)
    chama("build", "--iface", "CM001", "--period", f"{built:%Y%m%d%H}", cwd=tmp_path)
    samples = {}
    for family in text_string_to_metric_families((tmp_path / "metrics" / "chama.prom").read_text()):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value

    def one(name):
        (labels, value), = samples[name].items()
        return dict(labels), value

    labels, last = one("chama_interface_last_success_timestamp_seconds")
    assert labels == {"interface": "CM001"}
    assert last == max(samples["chama_run_last_success_timestamp_seconds"].values())
    assert one("chama_alarm_silence_seconds") == ({"interface": "CM001"}, 26 * 3600)
    # The hour after the one built is late 90 minutes after it ends.
    labels, due = one("chama_hour_due_timestamp_seconds")
    nxt = built.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    assert labels == {"interface": "CM001", "period": f"{nxt:%Y%m%d%H}"}
    assert due == (nxt + datetime.timedelta(hours=1)).timestamp() + 90 * 60
    # Free space as statvfs tells it, a day's need at least the sets on disk.
    var = os.path.realpath(tmp_path / "var")
    labels, free = one("chama_work_free_bytes")
    assert labels == {"dir": var}
    st = os.statvfs(var)
    assert abs(free - st.f_bavail * st.f_frsize) < 64 << 20
    assert one("chama_work_size_bytes")[1] == st.f_blocks * st.f_frsize
    sets = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(var, "out")) for f in fs
               if f.endswith(".gz"))
    assert one("chama_work_min_free_bytes")[1] >= max(2 * sets, st.f_blocks * st.f_frsize // 20)
    labels, _ = one("chama_work_filesystem_info")
    assert labels["dir"] == var and var.startswith(labels["mountpoint"])


def test_an_hourly_interface_has_each_hour_against_the_same_hour_the_day_before(tmp_path):
    """An hourly interface's hour 07 with one of its two parts, against the whole hour 07
    of the day before: the ratio of their rows, as the manifests count them."""
    bundled = f"{ROOT}/testdata/dumps/cm001/dt=2024-12-12/hour=07"
    for day, parts in [("2024-12-11", None), ("2024-12-12", ["part-00001.gz"])]:
        shutil.copytree(bundled, tmp_path / "dumps" / "cm001" / f"dt={day}" / "hour=07",
                        ignore=lambda _, names, skip=parts: skip or [])
    spec = open(f"{ROOT}/interfaces/CM001.toml").read().replace('cadence = "daily"', 'cadence = "hourly"')
    (tmp_path / "interfaces").mkdir()
    (tmp_path / "interfaces" / "CM001.toml").write_text(spec)
    (tmp_path / "chama.toml").write_text(
        'work_dir = "var"\ninterfaces_dir = "interfaces"\nmetrics_dir = "metrics"\n'
        f'[sources.default]\nkind = "local"\nroot = "{tmp_path}/dumps"\n'
        '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n'
    )
    for period in ["2024121107", "2024121207"]:
        chama("build", "--iface", "CM001", "--period", period, cwd=tmp_path)
    rows = {p: json.loads((tmp_path / f"var/hourly/CM001/{p[:8]}/07/manifest.json").read_text())["counts"]["rows_out"]
            for p in ["20241211", "20241212"]}
    assert 0 < rows["20241212"] < rows["20241211"]
    samples = {}
    for family in text_string_to_metric_families((tmp_path / "metrics" / "chama.prom").read_text()):
        for s in family.samples:
            if s.name == "chama_hour_rows_ratio":
                samples[tuple(sorted(s.labels.items()))] = s.value
    key = (("against", "day_before"), ("interface", "CM001"), ("period", "2024121207"))
    assert samples == {key: rows["20241212"] / rows["20241211"]}
