"""Differential test of whole builds: every row chama writes equals DuckDB's
answer to the spec's SQL on the same input, with cleaning, NULL and charset
rules applied; file boundaries, names, sequence numbers and .verf lines exact.
"""
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from common import ROOT, chama

LINES_PER_FILE = 37
DATE, HOUR = "20241212", "05"


def translate_concat(sql):
    """Hive's concat is NULL when any argument is; DuckDB's skips NULLs: use ||."""
    out, i = [], 0
    while True:
        m = re.search(r"\bconcat\(", sql[i:])
        if not m:
            out.append(sql[i:])
            return "".join(out)
        start = i + m.start()
        out.append(sql[i:start])
        j, depth, args, cur, quote = start + len("concat("), 1, [], [], None
        while depth:
            c = sql[j]
            if quote:
                cur.append(c)
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
                cur.append(c)
            elif c == "(":
                depth += 1
                cur.append(c)
            elif c == ")":
                depth -= 1
                if depth:
                    cur.append(c)
            elif c == "," and depth == 1:
                args.append("".join(cur))
                cur = []
            else:
                cur.append(c)
            j += 1
        args.append("".join(cur))
        out.append("(" + " || ".join(translate_concat(a.strip()) for a in args) + ")")
        i = j


def gbk_text(s):
    """The text a GBK consumer reads back: characters GBK lacks became '?'."""
    return "".join(c if _gbk_ok(c) else "?" for c in s)


def _gbk_ok(c):
    try:
        c.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, ROOT / "scripts" / "gen_dumps.py", "--out", tmp / "dumps", "--table", "cm001",
                    "--date", DATE, "--hours", HOUR, "--rows", "4000", "--files", "3", "--gzip", "--broken", "4",
                    "--seed", "11"], check=True)
    spec_text = (ROOT / "interfaces" / "CM001.toml").read_text(encoding="utf-8")
    spec_text = spec_text.replace("lines_per_file = 800000", f"lines_per_file = {LINES_PER_FILE}")
    (tmp / "interfaces").mkdir()
    (tmp / "interfaces" / "CM001.toml").write_text(spec_text, encoding="utf-8")
    (tmp / "chama.toml").write_text('work_dir = "var"\n[sources.default]\nkind = "local"\nroot = "dumps"\n'
                                    '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n')
    chama("build", "--iface", "CM001", "--period", DATE + HOUR, cwd=tmp)
    return tmp, tomllib.loads(spec_text)


def expected_rows(tmp, spec):
    """DuckDB's answer on the text hour, cleaned and charset-mapped, per province, in input order."""
    cols = spec["input"]["columns"]
    hour_dir = tmp / "dumps" / "cm001" / f"dt={DATE[:4]}-{DATE[4:6]}-{DATE[6:]}" / f"hour={HOUR}"
    rows, rejected = [], 0
    for f in sorted(p for p in os.listdir(hour_dir) if not p.startswith(("_", "."))):
        for raw in gzip.open(hour_dir / f).read().split(b"\n")[:-1]:
            try:
                fields = raw.decode("utf-8").split("\x01")
            except UnicodeDecodeError:
                rejected += 1
                continue
            if len(fields) != len(cols):
                rejected += 1
                continue
            rows.append([None if v == "\\N" else v for v in fields])
    con = duckdb.connect()
    table = pa.table({"ord": list(range(len(rows))), **{c: [r[i] for r in rows] for i, c in enumerate(cols)}})
    con.register("input", table)
    return cleaned(con, spec), len(rows) + rejected, rejected


def cleaned(con, spec):
    """Runs the spec's SQL on the relation `input` (ordered by `ord`) and applies
    cleaning, NULL and GBK as a consumer reads them; lines per province."""
    sql = translate_concat(spec["transform"]["sql"]).strip() + "\nORDER BY ord"
    result = con.execute(sql).fetchall()
    names = [d[0] for d in con.description]
    strip = set(spec["clean"]["strip"])
    keep = {k: set(v) for k, v in spec["clean"].get("keep", {}).items()}
    out = spec["output"]
    by_prov = {}
    for r in result:
        vals = []
        for n, v in zip(names, r):
            if v is None:
                vals.append(out["null"])
            else:
                gone = strip - keep.get(n, set())
                vals.append("".join(c for c in str(v) if c not in gone))
        line = gbk_text(out["delimiter"].join(vals))
        by_prov.setdefault(r[names.index("wt_prov")], []).append(line)
    return by_prov


def read_sets(out, provinces):
    """The lines chama wrote, per province, checking names and file boundaries."""
    got = {}
    for prov in provinces:
        files = sorted(out.glob(f"a_10000_{DATE}_CM001_{prov}_00_*.dat.gz"))
        assert files, f"no files for province {prov}"
        lines = []
        for i, f in enumerate(files, start=1):
            assert f.name == f"a_10000_{DATE}_CM001_{prov}_00_{i:04d}.dat.gz", "sequence numbers start at 1, no gaps"
            text = gzip.open(f).read().decode("gb18030")
            assert text.endswith("\n")
            file_lines = text.split("\n")[:-1]
            if i < len(files):
                assert len(file_lines) == LINES_PER_FILE, f"{f.name}: every file but the last is full"
            else:
                assert 0 < len(file_lines) <= LINES_PER_FILE
            lines += file_lines
        got[prov] = lines
    return got


def test_build_rows_equal_duckdb_with_cleaning_and_gbk(built):
    tmp, spec = built
    want, rows_in, rejected = expected_rows(tmp, spec)
    out = tmp / "var" / "hourly" / "CM001" / DATE / HOUR
    got = read_sets(out, want)
    assert sorted(p.name.split("_")[4] for p in out.glob("*.verf")) == sorted(want)
    for prov in want:
        assert got[prov] == want[prov], f"province {prov} differs"
    m = __import__("json").loads((out / "manifest.json").read_text())
    assert m["counts"]["rows_in"] == rows_in
    assert m["counts"]["rejected"] == rejected == 4
    assert m["counts"]["rows_out"] == sum(len(v) for v in want.values())


def test_verf_lines_match_the_files(built):
    tmp, spec = built
    out = tmp / "var" / "hourly" / "CM001" / DATE / HOUR
    verfs = sorted(out.glob("*.verf"))
    assert verfs
    for v in verfs:
        raw = v.read_bytes()
        assert raw.endswith(b"\r\n")
        lines = raw.split(b"\r\n")[:-1]
        prov = v.name.split("_")[4]
        files = sorted(out.glob(f"a_10000_{DATE}_CM001_{prov}_00_*.dat.gz"))
        assert len(lines) == len(files)
        for line, f in zip(lines, files):
            line = line.decode("ascii")
            assert len(line) == 48 + 20 + 20 + 8 + 14 + 32
            name, size, count = line[:48].rstrip(), int(line[48:68]), int(line[68:88])
            date, ftime, md5 = line[88:96], line[96:110], line[110:]
            assert name == f.name
            assert size == f.stat().st_size
            assert count == gzip.open(f).read().count(b"\n")
            assert date == DATE and ftime.isdigit()
            assert md5 == hashlib.md5(f.read_bytes()).hexdigest()


def test_gzip_and_zcat_accept_every_file(built):
    tmp, _ = built
    files = [str(p) for p in (tmp / "var" / "hourly" / "CM001" / DATE / HOUR).glob("*.gz")]
    assert subprocess.run(["gzip", "-t", *files]).returncode == 0
    z = subprocess.run(["zcat", *files], capture_output=True, check=True)
    assert z.stdout.count(b"\n") > 0


def test_parquet_build_equals_duckdb_and_the_text_build(tmp_path):
    """The same generated rows as Parquet (a timestamp and an int64 column among
    strings): chama's files equal DuckDB's answer and, byte for byte, the text build."""
    for fmt in ("text", "parquet"):
        subprocess.run([sys.executable, ROOT / "scripts" / "gen_dumps.py", "--out", tmp_path / "dumps", "--table",
                        f"cm001{fmt}", "--date", DATE, "--hours", HOUR, "--rows", "3000", "--files", "2",
                        "--format", fmt, "--seed", "5"], check=True)
    spec_text = (ROOT / "interfaces" / "CM001.toml").read_text(encoding="utf-8")
    spec_text = spec_text.replace("lines_per_file = 800000", f"lines_per_file = {LINES_PER_FILE}")
    text_spec = spec_text.replace('path = "cm001/', 'path = "cm001text/')
    # Parquet: no columns in the spec, they come from the file's schema.
    pq_spec = re.sub(r'(?s)format = "text".*?columns = \[.*?\]\n', 'format = "parquet"\n', spec_text)
    pq_spec = pq_spec.replace('path = "cm001/', 'path = "cm001parquet/').replace('name = "CM001"', 'name = "CM001P"')
    (tmp_path / "interfaces").mkdir()
    (tmp_path / "interfaces" / "CM001.toml").write_text(text_spec, encoding="utf-8")
    (tmp_path / "interfaces" / "CM001P.toml").write_text(pq_spec, encoding="utf-8")
    (tmp_path / "chama.toml").write_text('work_dir = "var"\n[sources.default]\nkind = "local"\nroot = "dumps"\n'
                                         '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n')
    chama("spec", "check", cwd=tmp_path)
    chama("build", "--iface", "CM001", "--period", DATE + HOUR, cwd=tmp_path)
    chama("build", "--iface", "CM001P", "--period", DATE + HOUR, cwd=tmp_path)
    text_out = tmp_path / "var" / "hourly" / "CM001" / DATE / HOUR
    pq_out = tmp_path / "var" / "hourly" / "CM001P" / DATE / HOUR
    text_files = sorted(p.name for p in text_out.glob("*.dat.gz"))
    assert text_files == sorted(p.name for p in pq_out.glob("*.dat.gz"))
    for name in text_files:
        assert (text_out / name).read_bytes() == (pq_out / name).read_bytes(), name

    spec = tomllib.loads(pq_spec)
    files = sorted(str(p) for p in (tmp_path / "dumps" / "cm001parquet").rglob("*.parquet"))
    con = duckdb.connect()
    con.execute(f"""CREATE VIEW input AS
        SELECT * REPLACE (strftime(daytime, '%Y-%m-%d %H:%M:%S') AS daytime, CAST(click_time AS VARCHAR) AS click_time),
               row_number() OVER (ORDER BY filename, file_row_number) AS ord
        FROM read_parquet({files}, filename = true, file_row_number = true)""")
    want = cleaned(con, spec)
    got = read_sets(pq_out, want)
    for prov in want:
        assert got[prov] == want[prov], f"province {prov} differs"
