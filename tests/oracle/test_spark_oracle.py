"""Spark SQL as a second oracle, on files Spark itself wrote.

`scripts/spark_corpus.py` writes the same rows into Hive tables as text,
Parquet and ORC, and records what Spark SQL answers: each shipped spec's
[transform] sql run verbatim over its table, and the edge rows cast to
strings. Here chama reads the same files (`spec try`: after the transform
and [clean], before charset encoding) and every row and value must agree.

The corpus path comes from CHAMA_TEST_SPARK_CORPUS (scripts/test.sh makes it).
"""
import json
import os
import tomllib
from pathlib import Path

import pytest

from common import ROOT, chama, read_tsv

CORPUS = os.environ.get("CHAMA_TEST_SPARK_CORPUS")
HOURS = ["20", "21"]
SPECS = sorted((ROOT / "interfaces").glob("*.toml"))

pytestmark = pytest.mark.skipif(
    not (CORPUS and (Path(CORPUS) / "DONE").exists()) and not os.environ.get("CHAMA_REQUIRE_SPARK_CORPUS"),
    reason="no Spark corpus (CHAMA_TEST_SPARK_CORPUS); scripts/test.sh makes one",
)


def hour_files(table, hour):
    """The hour's data files as Hive reads them: recursive, no `_` or `.` names, in path order."""
    base = Path(CORPUS) / "warehouse" / table / "dt=2024-12-12" / f"hour={hour}"
    files = [p for p in base.rglob("*") if p.is_file()
             and not any(part.startswith(("_", ".")) for part in p.relative_to(base).parts)]
    return sorted(files, key=lambda p: p.relative_to(base).parts)


def adapted(spec_text, fmt):
    """The spec reading the corpus's table in `fmt` (its text tables escape with a backslash)."""
    if fmt == "text":
        return spec_text.replace('format = "text"', 'format = "text"\nescape = "\\\\"', 1)
    return spec_text.replace('format = "text"', f'format = "{fmt}"', 1)


def spec_try(tmp_path, spec_path, fmt, files):
    work = tmp_path / fmt
    (work / "interfaces").mkdir(parents=True, exist_ok=True)
    (work / "chama.toml").write_text(
        'work_dir = "var"\n[sources.default]\nkind = "local"\nroot = "."\n'
        '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n')
    target = work / "interfaces" / spec_path.name
    target.write_text(adapted(spec_path.read_text(), fmt))
    args = ["spec", "try", str(target)]
    for f in files:
        args += ["--input", str(f)]
    return read_tsv(chama(*args, cwd=work).stdout)


def cleaned(spec, columns, rows):
    """Spark's rows with the spec's [clean] applied (chama strips characters after the transform)."""
    clean = spec.get("clean", {})
    strip = set(clean.get("strip", []))
    keep = clean.get("keep", {})
    out = []
    for row in rows:
        new = []
        for c, v in zip(columns, row):
            if v is not None:
                drop = strip - set(keep.get(c, []))
                v = "".join(ch for ch in v if ch not in drop)
            new.append(v)
        out.append(new)
    return out


@pytest.mark.parametrize("fmt", ["text", "parquet", "orc"])
@pytest.mark.parametrize("spec_path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_spec_agrees_with_spark_sql(tmp_path, spec_path, fmt):
    spec = tomllib.loads(spec_path.read_text())
    table = "t51006" if "mc_ev" in spec["input"]["columns"] else "t51007"
    for hour in HOURS:
        answer = json.loads((Path(CORPUS) / "spark" / f"{spec['name']}.{fmt}.{hour}.json").read_text())
        header, rows = spec_try(tmp_path, spec_path, fmt, hour_files(f"{table}_{fmt}", hour))
        assert header == answer["columns"]
        want = cleaned(spec, header, answer["rows"])
        assert len(rows) == len(want) and len(rows) > 100, (len(rows), len(want))
        key = lambda r: ["\0" if v is None else v for v in r]  # noqa: E731
        got, want = sorted(rows, key=key), sorted(want, key=key)
        for g, w in zip(got, want):
            assert g == w, f"{spec_path.stem} {fmt} {hour}: chama {g} != Spark {w}"


EDGE_SPEC = """name = "EDGES"
[input]
path = "x/{hour}"
format = "%(format)s"
%(escape)s
columns = ["id", "prov", "s", "ts", "d", "dbl", "flt", "dec_wide", "dec_small", "dec_mid", "b", "ti", "si", "bi", "tags", "attrs", "pt"]
[transform]
sql = 'SELECT id, prov, s, ts, d, dbl, flt, dec_wide, dec_small, dec_mid, b, ti, si, bi FROM input'
[output]
file_name = "e_{date}_{seq}.dat.gz"
verf_name = "e_{date}.verf"
"""

EDGE_TABLES = ["edges_text_none", "edges_text_snappy", "edges_parquet_none", "edges_parquet_zstd",
               "edges_parquet_micros", "edges_parquet_legacy", "edges_parquet_brotli", "edges_orc_zlib",
               "edges_orc_zstd", "edges_union"]


@pytest.mark.parametrize("table", EDGE_TABLES)
def test_edge_values_agree_with_spark(tmp_path, table):
    fmt = "parquet" if "parquet" in table else "orc" if "orc" in table else "text"
    spec = tmp_path / "interfaces" / "EDGES.toml"
    spec.parent.mkdir(parents=True)
    spec.write_text(EDGE_SPEC % {"format": fmt, "escape": 'escape = "\\\\"' if fmt == "text" else ""})
    (tmp_path / "chama.toml").write_text(
        'work_dir = "var"\n[sources.default]\nkind = "local"\nroot = "."\n'
        '[destinations.outbox]\nkind = "local"\nroot = "outbox"\n')
    for hour in HOURS:
        answer = json.loads((Path(CORPUS) / "spark" / f"edges.{hour}.json").read_text())
        args = ["spec", "try", str(spec)]
        for f in hour_files(table, hour):
            args += ["--input", str(f)]
        header, rows = read_tsv(chama(*args, cwd=tmp_path).stdout)
        assert header == answer["columns"]
        got = sorted(rows, key=lambda r: int(r[0]))
        want = sorted(answer["rows"], key=lambda r: int(r[0]))
        assert got == want
