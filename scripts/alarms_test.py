#!/usr/bin/env python3
"""End to end, with real servers: chama writes its metrics file, node_exporter's
textfile collector serves it, Prometheus (1 s scrape and evaluation) runs the shipped
rules (packaging/prometheus/chama.yml), Alertmanager (1 s grouping) sends to a webhook
receiver of this script's own, which records every payload. Scenarios, each asserting
what arrives at the webhook:

- a healthy bundled day: nothing fires;
- a push to a destination that cannot take it (exit 5): ChamaPushFailed arrives with its
  labels and summary; the same push once the destination is fixed resolves it;
- a whole day built with about half of last month's rows (the bundled dumps copied to
  yesterday and to the same day last month, yesterday's hours with one part of two):
  ChamaLowVolume;
- the work directory on a small filesystem of its own (a 64 MiB tmpfs) filled up after
  a build: ChamaWorkDiskLow arrives from node_exporter's live filesystem metrics, chama
  not running; the space freed, it resolves;
- chama killed with SIGKILL in the middle of building the next hour (today's 00), and
  never run again (the spec's alarm_silence 45 s): ChamaNoRun arrives, the metrics file
  untouched since; and that hour, not built a minute after it ended: ChamaHourNotBuilt;
- that day never pushed, its deadline set a minute or two from now: ChamaDayNotPushed
  arrives once the deadline passes, though chama wrote nothing since.

Usage: scripts/alarms_test.py CHAMA_BIN   (Debian's prometheus, prometheus-alertmanager,
prometheus-node-exporter; scripts/check_rules.sh installs the first two).
"""

import datetime
import gzip
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RULES = os.path.join(ROOT, "packaging", "prometheus", "chama.yml")
DASHBOARD = os.path.join(ROOT, "packaging", "grafana", "chama.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook: every payload kept, in order."""

    got = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.got.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_):
        pass


def alerts(status=None, name=None):
    """Every alert the webhook got (with its payload's status), narrowed."""
    out = []
    for p in Hook.got:
        for a in p["alerts"]:
            if (status is None or a["status"] == status) and (name is None or a["labels"]["alertname"] == name):
                out.append(a)
    return out


def wait_for(what, check, seconds):
    t = time.time()
    while time.time() - t < seconds:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    sys.exit(f"alarms_test: no {what} within {seconds} s; the webhook got: {json.dumps(Hook.got)[:3000]}")


def up(url, seconds=30):
    t = time.time()
    while time.time() - t < seconds:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"alarms_test: {url} did not come up")


def dashboard_queries(prom_port):
    """Every query of the Grafana dashboard, its variables set to every interface, runs on
    the real Prometheus; one whose metrics are all scraped returns series."""

    def query(expr):
        url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)["data"]["result"]
        except urllib.error.HTTPError as e:
            sys.exit(f"alarms_test: the dashboard's query {expr!r} fails: {e.read().decode()[:500]}")

    with open(DASHBOARD) as f:
        exprs = [t["expr"] for p in json.load(f)["panels"] for t in p.get("targets", [])]
    empty = []
    for e in exprs:
        e = e.replace("$interface", ".*")
        names = set(re.findall(r"\b(ALERTS|(?:chama|node)_[a-z_]+)", e))
        scraped = all(query(f'count({{__name__="{n}"}})') for n in names)
        if scraped and not query(e) and "> 0" not in e:
            empty.append(e)
    assert not empty, f"dashboard queries with nothing though their metrics are scraped: {empty}"
    print(f"ok: the dashboard's {len(exprs)} queries run on Prometheus; those whose metrics are scraped have data")


def kill_mid_build(chama, w, dumps, d):
    """Starts a build of day `d`'s hour 00 (an input big enough to take a while) and kills
    it with SIGKILL as soon as its hidden set directory is there. Returns that directory."""
    hour = os.path.join(dumps, f"dt={d.isoformat()}", "hour=00")
    os.makedirs(hour)
    bundled = os.path.join(ROOT, "testdata", "dumps", "cm001", "dt=2024-12-12", "hour=07")
    parts = [f for f in sorted(os.listdir(bundled)) if f.endswith(".gz")]
    lines = b"".join(gzip.open(os.path.join(bundled, f)).read() for f in parts)
    with gzip.open(os.path.join(hour, "part-00000.gz"), "wb", compresslevel=1) as f:
        for _ in range(max(1, 40_000_000 // len(lines))):
            f.write(lines)
    open(os.path.join(hour, "_SUCCESS"), "w").close()
    day = os.path.join(w, "var2", "hourly", "CM001", f"{d:%Y%m%d}")
    err = open(os.path.join(w, "killed.err"), "w+")
    p = subprocess.Popen([chama, "build", "--iface", "CM001", "--period", f"{d:%Y%m%d}00"], cwd=w,
                         stdout=subprocess.DEVNULL, stderr=err,
                         env={k: v for k, v in os.environ.items() if not k.startswith("CHAMA_")})
    t = time.time()
    while time.time() - t < 30:
        hidden = [e for e in os.listdir(day) if e.startswith(".00.building-")] if os.path.isdir(day) else []
        if hidden:
            p.kill()
            p.wait()
            return os.path.join(day, hidden[0])
        if p.poll() is not None:
            err.seek(0)
            sys.exit(f"alarms_test: the build of hour 00 ended (exit {p.returncode}) before it could be killed: "
                     f"{err.read()[-2000:]}")
        time.sleep(0.005)
    p.kill()
    sys.exit("alarms_test: the build of hour 00 never started its set")


def disk_scenario(t, chama_run, metrics, ne_port):
    """A work directory alone on a 64 MiB tmpfs: a build, then the filesystem filled
    (chama not running): ChamaWorkDiskLow from node_exporter's live free space; freed, it
    resolves."""
    small = os.path.join(t, "small")
    os.makedirs(small)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", small], capture_output=True).returncode:
        print("skipped: the free-space scenario (cannot mount a tmpfs here)")
        return
    try:
        code, err = chama_run("--config", write_config(t, "small.toml", f"{small}/var", metrics),
                              "build", "--iface", "CM001", "--period", "2024121207")
        assert code == 0, err
        filler = os.path.join(small, "filler")
        st = os.statvfs(small)
        with open(filler, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - (1 << 20)))
        started = time.time()
        a = wait_for("ChamaWorkDiskLow alert", lambda: alerts("firing", "ChamaWorkDiskLow"), 60)[0]
        labels = a["labels"]
        assert (labels["dir"], labels["mountpoint"], labels["fstype"]) == (f"{small}/var", small, "tmpfs"), labels
        assert "less than a day needs" in a["annotations"]["summary"], a["annotations"]
        print(f"ok: the full disk's alert arrived in {time.time() - started:.1f} s, chama idle: "
              f"{a['annotations']['summary']}")
        os.remove(filler)
        started = time.time()
        wait_for("resolution of ChamaWorkDiskLow", lambda: alerts("resolved", "ChamaWorkDiskLow"), 60)
        print(f"ok: the space freed, it resolved in {time.time() - started:.1f} s, chama idle")
    finally:
        subprocess.run(["umount", "-l", small])


def write_config(t, name, work_dir, metrics):
    path = os.path.join(t, name)
    with open(path, "w") as f:
        f.write(f'work_dir = "{work_dir}"\ninterfaces_dir = "{ROOT}/interfaces"\nmetrics_dir = "{metrics}"\n'
                f'[sources.default]\nkind = "local"\nroot = "{ROOT}/testdata/dumps"\n'
                f'[destinations.outbox]\nkind = "local"\nroot = "outbox"\n')
    return path


def main():
    chama = os.path.abspath(sys.argv[1])
    for tool in ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter"]:
        if not shutil.which(tool):
            sys.exit(f"alarms_test: {tool} is not installed (Debian's package of that name)")
    t = tempfile.mkdtemp(prefix="chama-alarms-")
    procs = []
    try:
        hook_port, am_port, ne_port, prom_port = (free_port() for _ in range(4))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        metrics = os.path.join(t, "metrics")
        os.makedirs(metrics)
        with open(os.path.join(t, "am.yml"), "w") as f:
            f.write(
                f"""route:
  receiver: hook
  group_by: [alertname, interface, destination]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{hook_port}/
        send_resolved: true
"""
            )
        with open(os.path.join(t, "prom.yml"), "w") as f:
            f.write(
                f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{am_port}"]
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{ne_port}"]
"""
            )
        log = open(os.path.join(t, "servers.log"), "w")
        for cmd in [
            ["prometheus-alertmanager", f"--config.file={t}/am.yml", f"--storage.path={t}/am",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ne_port}",
             "--collector.disable-defaults", "--collector.textfile", "--collector.filesystem",
             f"--collector.textfile.directory={metrics}"],
            ["prometheus", f"--config.file={t}/prom.yml", f"--storage.tsdb.path={t}/prom",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
        ]:
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=log))
        up(f"http://127.0.0.1:{am_port}/-/ready")
        up(f"http://127.0.0.1:{ne_port}/metrics")
        up(f"http://127.0.0.1:{prom_port}/-/ready")

        # A work directory on the bundled day, its metrics in node_exporter's directory.
        w = os.path.join(t, "work")
        os.makedirs(w)
        blocked = os.path.join(t, "blocked")
        with open(blocked, "w") as f:
            f.write("a file where the destination's directory should be\n")

        def config(root):
            with open(os.path.join(w, "chama.toml"), "w") as f:
                f.write(
                    f'work_dir = "var"\ninterfaces_dir = "{ROOT}/interfaces"\nmetrics_dir = "{metrics}"\n'
                    f'[sources.default]\nkind = "local"\nroot = "{ROOT}/testdata/dumps"\n'
                    f'[destinations.outbox]\nkind = "local"\nroot = "outbox"\n'
                    f'[destinations.exchange]\nkind = "local"\nroot = "{root}"\n'
                )

        def chama_run(*args):
            r = subprocess.run([chama, *args], cwd=w, capture_output=True, text=True,
                               env={k: v for k, v in os.environ.items() if not k.startswith("CHAMA_")})
            return r.returncode, r.stderr

        config(os.path.join(t, "exchange"))
        code, err = chama_run("run", "--iface", "CM001", "--period", "20241212")
        assert code == 0, err
        # A healthy day: some evaluations later, nothing has fired.
        time.sleep(8)
        firing = alerts("firing")
        st = os.statvfs(w)
        if st.f_bavail < st.f_blocks / 20:  # this machine's disk is nearly full: that alert is right
            firing = [a for a in firing if a["labels"]["alertname"] != "ChamaWorkDiskLow"]
        assert not firing, f"a healthy day fired: {json.dumps(firing)[:2000]}"
        print("ok: a healthy bundled day: nothing fired in 8 s of 1 s evaluations")
        dashboard_queries(prom_port)

        # A destination that cannot take the day (its directory is a file): exit 5.
        config(os.path.join(blocked, "sub"))
        code, err = chama_run("push", "--iface", "CM001", "--period", "20241212", "--dest", "exchange")
        assert code == 5, (code, err)
        started = time.time()
        a = wait_for("ChamaPushFailed alert", lambda: alerts("firing", "ChamaPushFailed"), 60)[0]
        labels = a["labels"]
        assert labels["severity"] == "critical", labels
        assert (labels["interface"], labels["period"], labels["destination"]) == ("CM001", "20241212", "exchange"), labels
        assert a["annotations"]["summary"] == "CM001 20241212 not delivered to exchange (exit 5)", a["annotations"]
        print(f"ok: the failed push's alert arrived in {time.time() - started:.1f} s: {a['annotations']['summary']}")

        # The destination fixed, the same push: the alert resolves.
        config(os.path.join(t, "exchange"))
        code, err = chama_run("push", "--iface", "CM001", "--period", "20241212", "--dest", "exchange")
        assert code == 0, (code, err)
        started = time.time()
        wait_for("resolution of ChamaPushFailed", lambda: alerts("resolved", "ChamaPushFailed"), 60)
        print(f"ok: the good push resolved it in {time.time() - started:.1f} s")

        disk_scenario(t, chama_run, metrics, ne_port)

        # Yesterday (D) and the same day last month (M), from the bundled dumps: M whole,
        # D with half its rows; D's push due a minute or two from now.
        now = datetime.datetime.now()
        d = (now - datetime.timedelta(days=1)).date()
        # The same day last month, as `chama report` takes it (the month's last day at most).
        end_of_last_month = d.replace(day=1) - datetime.timedelta(days=1)
        m = end_of_last_month.replace(day=min(d.day, end_of_last_month.day))
        due = (now + datetime.timedelta(minutes=2)).replace(second=0, microsecond=0)
        if due.date() != now.date():
            print("skipped: the deadline and volume scenarios (too close to midnight)")
            return
        dumps = os.path.join(t, "dumps", "cm001")
        bundled = os.path.join(ROOT, "testdata", "dumps", "cm001", "dt=2024-12-12")
        # M whole; D's 24 hours with their first part only (about half the rows).
        for day, half in [(m, False), (d, True)]:
            for h in range(24):
                shutil.copytree(os.path.join(bundled, f"hour={h:02}"),
                                os.path.join(dumps, f"dt={day.isoformat()}", f"hour={h:02}"),
                                ignore=lambda _, names: [n for n in names if half and n == "part-00001.gz"])
        ifaces = os.path.join(t, "interfaces")
        os.makedirs(ifaces)
        with open(os.path.join(ROOT, "interfaces", "CM001.toml")) as f:
            spec = f.read()
        spec = spec.replace("[delivery]\n",
                            f'[delivery]\ndeadline = "{due:%H:%M}"\nalarm_ratio = 0.6\nalarm_silence = "45s"\n'
                            'alarm_hour_late = "1m"\n')
        with open(os.path.join(ifaces, "CM001.toml"), "w") as f:
            f.write(spec)
        with open(os.path.join(w, "chama.toml"), "w") as f:
            f.write(
                f'work_dir = "var2"\ninterfaces_dir = "{ifaces}"\nmetrics_dir = "{metrics}"\n'
                f'[sources.default]\nkind = "local"\nroot = "{t}/dumps"\n'
                f'[destinations.outbox]\nkind = "local"\nroot = "outbox"\n'
            )
        for day in [m, d]:
            code, err = chama_run("build", "--iface", "CM001", "--period", f"{day:%Y%m%d}")
            assert code == 0, err
        last_success = time.time()
        killed = kill_mid_build(chama, w, dumps, now.date())
        prom_mtime = os.path.getmtime(os.path.join(metrics, "chama.prom"))
        started = time.time()
        a = wait_for("ChamaLowVolume alert", lambda: alerts("firing", "ChamaLowVolume"), 60)[0]
        assert (a["labels"]["interface"], a["labels"]["period"]) == ("CM001", f"{d:%Y%m%d}"), a["labels"]
        assert a["annotations"]["summary"].startswith(f"CM001 {d:%Y%m%d}: rows at "), a["annotations"]
        print(f"ok: the short day's volume alert arrived in {time.time() - started:.1f} s: {a['annotations']['summary']}")
        # Today's hour 00, the one after D's last, never built (it was killed): late a minute
        # after its end (the spec's alarm_hour_late).
        if now.hour >= 1 and now.minute >= 2 or now.hour >= 2:
            a = wait_for("ChamaHourNotBuilt alert", lambda: alerts("firing", "ChamaHourNotBuilt"), 60)[0]
            assert (a["labels"]["interface"], a["labels"]["period"]) == ("CM001", f"{now:%Y%m%d}00"), a["labels"]
            print(f"ok: the hour not built: {a['annotations']['summary']}")
        else:
            print("skipped: the late hour (today's hour 00 is not late yet)")
        # The dead man's switch: nothing from chama since it was killed; 45 s after its last success.
        assert not alerts("firing", "ChamaNoRun"), "the dead man's alert came while chama was fine"
        a = wait_for("ChamaNoRun alert", lambda: alerts("firing", "ChamaNoRun"), 120)[0]
        after = time.time() - last_success
        assert a["labels"]["interface"] == "CM001" and a["labels"]["severity"] == "critical", a["labels"]
        assert a["annotations"]["summary"].startswith("no successful run of CM001 for "), a["annotations"]
        assert after >= 45, after
        assert os.path.getmtime(os.path.join(metrics, "chama.prom")) == prom_mtime, "chama wrote metrics after its death"
        assert os.path.isdir(killed), "the killed build's hidden directory is gone: was it really killed mid-build?"
        print(f"ok: chama killed mid-build (its {os.path.basename(killed)} left), silent since: "
              f"the dead man's alert {after:.0f} s after the last success: {a['annotations']['summary']}")
        # (Last month's day, built and never pushed either, is long overdue: its own alert.)
        of_d = lambda: [a for a in alerts("firing", "ChamaDayNotPushed") if a["labels"]["period"] == f"{d:%Y%m%d}"]
        assert not of_d(), "the deadline alert came before the deadline"
        wait_for("ChamaDayNotPushed alert", of_d, (due - datetime.datetime.now()).total_seconds() + 60)
        late = (datetime.datetime.now() - due).total_seconds()
        a = of_d()[0]
        assert a["annotations"]["summary"] == f"CM001 {d:%Y%m%d} not delivered by its deadline", a["annotations"]
        print(f"ok: the deadline alert arrived {late:.0f} s after the deadline {due:%H:%M}, chama silent since")
        server.shutdown()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
