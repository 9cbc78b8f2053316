"""Timestamps read in a real time zone, against each file's writer's own reader (issue 24).

`scripts/spark_corpus.py` writes, besides the UTC corpus, one zone corpus per
zone (Asia/Shanghai; America/Los_Angeles, which keeps summer time) into
OUT/zones/<zone>/: the same rows (calendar, LMT and summer-time edges, the
ends of 0001 and 9999) as Hive tables written by Spark in that zone (text;
Parquet INT96, micros, millis, LEGACY; ORC; Parquet and ORC through Hive's
SerDe) and as plain pyarrow files (INT96 in every unit, with and without
the Arrow schema, zone-aware or not; INT64 adjusted to UTC or not; ORC), and
what each table's writer's own reader returns, in that zone:
oracle/<table>.<hour>.json.

Here chama reads each table with `[input] time_zone` set to the zone (text
takes none): `build` (exit 0, nothing rejected, the built files' rows),
`spec try` over the hour's files and `sample --from raw` must each give the
oracle's rows, value for value.

The corpus path comes from CHAMA_TEST_SPARK_CORPUS (scripts/test.sh makes it).
"""
import gzip
import json
import os
import re
import sys
from pathlib import Path

import pytest

from common import ROOT, chama, read_tsv

sys.path.insert(0, str(ROOT / "scripts"))
from spark_corpus import ZONE_TABLES, ZONES  # noqa: E402

CORPUS = os.environ.get("CHAMA_TEST_SPARK_CORPUS")
DATE, HOURS = "20241212", ["20", "21"]
COLUMNS = ["id", "prov", "ts", "d"]

pytestmark = pytest.mark.skipif(
    not (CORPUS and (Path(CORPUS) / "DONE").exists() and (Path(CORPUS) / "zones").is_dir())
    and not os.environ.get("CHAMA_REQUIRE_SPARK_CORPUS"),
    reason="no Spark corpus with zone corpora (CHAMA_TEST_SPARK_CORPUS); scripts/test.sh makes one",
)


def zone_dir(zone):
    return Path(CORPUS) / "zones" / zone.replace("/", "_")


def fmt_of(table):
    return "text" if table == "zt_text" else "orc" if "orc" in table else "parquet"


def hour_files(zone, table, hour):
    """The hour's data files as Hive reads them: recursive, no `_` or `.` names, in path order."""
    base = zone_dir(zone) / "warehouse" / table / "dt=2024-12-12" / f"hour={hour}"
    files = [p for p in base.rglob("*") if p.is_file()
             and not any(part.startswith(("_", ".")) for part in p.relative_to(base).parts)]
    return sorted(files, key=lambda p: p.relative_to(base).parts)


def spec_text(iface, table, zone):
    fmt = fmt_of(table)
    # Text holds wall clocks as text: chama refuses a time_zone for it.
    extra = 'escape = "\\\\"' if fmt == "text" else f'time_zone = "{zone}"'
    # Rejected rows are counted and reported below, not a reason to stop reading the others.
    return f"""name = "{iface}"
[input]
path = "{table}/dt={{date_iso}}/hour={{hour}}"
format = "{fmt}"
{extra}
ready_marker = "_SUCCESS"
max_bad_rows = 1000
columns = ["id", "prov", "ts", "d"]
[transform]
sql = 'SELECT id, prov, ts, d FROM input'
[output]
null = "\\\\N"
file_name = "z_{{date}}_{{seq}}.dat.gz"
verf_name = "z_{{date}}.verf"
"""


def workdir(tmp_path, zone, table):
    """A work directory whose source is the zone corpus's warehouse; returns (dir, iface, spec path)."""
    iface = table.upper()
    (tmp_path / "interfaces").mkdir()
    (tmp_path / "chama.toml").write_text(
        f'work_dir = "var"\n[sources.default]\nkind = "local"\nroot = "{zone_dir(zone) / "warehouse"}"\n'
        '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n')
    spec = tmp_path / "interfaces" / f"{iface}.toml"
    spec.write_text(spec_text(iface, table, zone))
    return tmp_path, iface, spec


def tail(p):
    return " | ".join(p.stderr.decode(errors="replace").strip().splitlines()[-4:])


def built_rows(work, iface, hour, problems):
    """`chama build` of the hour: exit 0, nothing rejected; the rows of its data files."""
    p = chama("build", "--iface", iface, "--period", DATE + hour, cwd=work, check=False)
    if p.returncode != 0:
        problems.append(f"build {hour}: exit {p.returncode}: {tail(p)}")
    hour_dir = work / "var" / "hourly" / iface / DATE / hour
    manifest = hour_dir / "manifest.json"
    if not manifest.exists():
        problems.append(f"build {hour}: no manifest.json")
        return None
    counts = json.loads(manifest.read_text())["counts"]
    if counts["rejected"] != 0:
        problems.append(f"build {hour}: {counts['rejected']} rejected")
        rejects = work / "var" / "rejects" / iface / DATE / f"{hour}.rej.gz"
        if rejects.exists():
            for line in gzip.decompress(rejects.read_bytes()).decode(errors="replace").splitlines():
                f = line.split("\t")
                problems.append(f"build {hour}: rejected {Path(f[0]).name}:{f[1]}: {f[2]}")
    rows = []
    for f in sorted(hour_dir.glob("*.dat.gz")):
        data = gzip.decompress(f.read_bytes()).decode("utf-8")
        assert data == "" or data.endswith("\n"), f"{f}: last line without its end"
        for line in data.splitlines():
            rows.append([None if v == "\\N" else v for v in line.split("|")])
    return rows


def tried_rows(work, spec, files, hour, problems):
    args = ["spec", "try", spec]
    for f in files:
        args += ["--input", f]
    p = chama(*args, cwd=work, check=False)
    for line in p.stderr.decode(errors="replace").splitlines():
        count = re.search(r"(\d+) rejected", line)
        if ": rejected: " in line or (count and count.group(1) != "0"):
            problems.append(f"spec try {hour}: {line}")
    return tsv_rows(p, f"spec try {hour}", problems)


def sampled_rows(work, iface, hour, problems):
    p = chama("sample", "--iface", iface, "--period", DATE + hour, "--from", "raw", "--limit", "100000",
              "--format", "tsv", cwd=work, check=False)
    return tsv_rows(p, f"sample {hour}", problems)


def tsv_rows(p, how, problems):
    """The rows a command printed as TSV under the columns' header; its exit code a problem unless 0."""
    if p.returncode != 0:
        problems.append(f"{how}: exit {p.returncode}: {tail(p)}")
    if not p.stdout:
        return None
    header, rows = read_tsv(p.stdout)
    if header != COLUMNS:
        problems.append(f"{how}: header {header}")
    return rows


def differences(table, how, oracle, rows):
    """(table, id, column, oracle, chama) for every value that differs, and where."""
    want = {r[0]: r for r in oracle}
    got = {}
    for r in rows:
        got.setdefault(r[0], r)
    out = []
    for i in sorted(set(want) | set(got), key=lambda x: (len(x or ""), x or "")):
        w, g = want.get(i), got.get(i)
        if g is None:
            out.append(((table, i, "(row)", "present", "missing"), how))
        elif w is None:
            out.append(((table, i, "(row)", "absent", repr(g)), how))
        else:
            for c, a, b in zip(COLUMNS, w, g):
                if a != b:
                    out.append(((table, i, c, a, b), how))
    if len(rows) != len(got):
        out.append(((table, "*", "(rows)", len(oracle), len(rows)), how))
    return out


def report(zone, table, problems, diffs):
    where = {}
    for key, how in diffs:
        where.setdefault(key, []).append(how)
    lines = [f"{zone} {table}: {len(problems)} problem(s), {len(where)} differing value(s)"]
    lines += [f"  {p}" for p in problems]
    lines += ["  (table, id, column, oracle, chama) [where]"]
    lines += [f"  {key!r} [{', '.join(hows)}]" for key, hows in where.items()]
    return "\n".join(lines)


@pytest.mark.parametrize("zone,table", [(z, t) for z in ZONES for t in ZONE_TABLES],
                         ids=[f"{z.replace('/', '_')}-{t}" for z in ZONES for t in ZONE_TABLES])
def test_zone_table_agrees_with_its_writer(tmp_path, zone, table):
    work, iface, spec = workdir(tmp_path, zone, table)
    problems, diffs = [], []
    for hour in HOURS:
        oracle = json.loads((zone_dir(zone) / "oracle" / f"{table}.{hour}.json").read_text())
        assert oracle["columns"] == COLUMNS
        files = hour_files(zone, table, hour)
        assert files, f"{table} {hour}: no data files"
        for how, rows in [
            (f"build {hour}", built_rows(work, iface, hour, problems)),
            (f"spec try {hour}", tried_rows(work, spec, files, hour, problems)),
            (f"sample {hour}", sampled_rows(work, iface, hour, problems)),
        ]:
            if rows is not None:
                diffs += differences(table, how, oracle["rows"], rows)
    assert not problems and not diffs, report(zone, table, problems, diffs)


@pytest.mark.parametrize("zone", ZONES)
def test_zone_corpus_is_complete(zone):
    """Every table of the zone corpus has its files, its markers and its oracle for both hours."""
    for table in ZONE_TABLES:
        for hour in HOURS:
            base = zone_dir(zone) / "warehouse" / table / "dt=2024-12-12" / f"hour={hour}"
            assert (base / "_SUCCESS").exists(), base
            assert hour_files(zone, table, hour), base
            oracle = json.loads((zone_dir(zone) / "oracle" / f"{table}.{hour}.json").read_text())
            assert len(oracle["rows"]) >= 20, (table, hour)
            assert all(isinstance(v, str) or v is None for r in oracle["rows"] for v in r), (table, hour)
