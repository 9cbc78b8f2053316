"""`chama sample`: --where gives DuckDB's answer over the same rows, and
--sample is uniform over seeds."""
import json
from collections import Counter

import duckdb
import pyarrow as pa

from common import chama


def jsonl(*args):
    out = chama("sample", "--iface", "CM001", "--format", "jsonl", *args).stdout.decode("utf-8")
    return [json.loads(line) for line in out.splitlines()]


WHERES = [
    "wt_prov = '250'",
    "wt_event LIKE 'c%' AND wt_prov IN ('250', '200', '571')",
    "length(wt_ti) > 4 OR wt_city IS NULL",
    "wt_mobile IS NOT NULL AND substr(wt_cid, 1, 1) = 'a'",
    "NOT (wt_prov <> '100') OR wt_es = ''",
]


def test_where_matches_duckdb():
    rows = jsonl("--period", "20241212", "--limit", "10000000")
    assert len(rows) > 5000
    names = list(rows[0].keys())
    tbl = pa.Table.from_pylist(rows, schema=pa.schema([(n, pa.string()) for n in names]))
    con = duckdb.connect()
    con.register("t", tbl)
    for where in WHERES:
        got = Counter(tuple(r.values()) for r in jsonl("--period", "20241212", "--limit", "10000000", "--where", where))
        want = Counter(con.execute(f"SELECT * FROM t WHERE {where}").fetchall())
        assert got == want, where
        assert sum(got.values()) > 0, f"{where}: a test that selects nothing checks nothing"


def test_sample_is_uniform_over_seeds():
    everything = [r["wt_cid"] + r["daytime"] for r in jsonl("--period", "2024121207", "--limit", "100000", "--columns", "wt_cid,daytime")]
    position = {k: i for i, k in enumerate(everything)}
    n = len(everything)
    quarters = Counter()
    for seed in range(1, 201):
        picked = jsonl("--period", "2024121207", "--sample", "10", "--seed", str(seed), "--columns", "wt_cid,daytime")
        assert len(picked) == 10
        for r in picked:
            quarters[4 * position[r["wt_cid"] + r["daytime"]] // n] += 1
    expected = 2000 / 4
    chi2 = sum((quarters[q] - expected) ** 2 / expected for q in range(4))
    # 3 degrees of freedom: above 16.27 happens by chance once in a thousand runs.
    assert chi2 < 16.27, (quarters, chi2)
