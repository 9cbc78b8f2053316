"""Differential test: chama's transform language against DuckDB.

Thousands of random rows (NULLs, empty strings, Chinese text, |, quotes,
digits, tabs, backslashes) and a few hundred random expressions from the
subset are evaluated by `chama spec try` and by DuckDB; every value must match.

Deliberate differences, kept out of the generator and documented in the README:
- regexp_extract of a group that took no part in the match: NULL in Hive and
  chama, '' in DuckDB;
- comparing a string column with an integer literal: chama compares strings
  (CONTRACT.md), DuckDB casts the string to an integer.
"""
import random

import duckdb
import pytest

from common import DUCK_MACROS, chama, duck_lit, hive_lit, read_tsv, render

NCOLS = 6
COLS = [f"c{i}" for i in range(NCOLS)]

VALUES = [
    None, None, "", "", "abc", "ABC", "Abc", "a|b", "a|b|c", 'x"y', "it's", "中文标题", "页面标题：首页",
    "  pad  ", " ", "123", "42", "-7", "0", "007", "a,b,c", ",x,", "a,,b,", "210315_QYCS_12",
    "210315_QYCS_x", "210902_QYLQTYY", "https://m.10086.cn/a?b=1&c=2", "😀emoji", "MiXeD Case",
    "android", "Android", "iOS", "ios", "1.0.0", "9.1.2", "tab\there", "back\\slash", "%_%",
    '{"k":"v|w","u":"http:\\/\\/x"}', "imp", "pfm", "clk", "pageview", "b508a809cbbddd0b", "z",
]
LIKES = ["%", "a%", "%b%", "_bc", "A__", "%|%", "中%", "%标题", "210315%", "%_%", "", "abc"]
REGEXES = [r"^a", r"b+", r"\d+", r"[0-9]{2}", r"^210315_QYCS_\d+$", r"中", r"^$", r"\|", r"[A-Z]", r"(a|b)c",
           r"\s", r"[^a-z]", r"\w+", r"^\d+$", r"[.]"]
EXTRACTS = [(r"(\d+)", 1), (r"([a-z]+)(\d*)", 1), (r"(\w)(\w)", 2), (r"([^,]*),", 1), (r"b", 0), (r"QYCS_(\d+)", 1)]
SPLITS = [",", r"\|", r"\s+", "b", r"[,|]"]
REPLACES = [(r"\d", "#"), (r",", ";"), (r"[aeiou]", ""), (r"\|", "/"), (r"\s+", "_")]
INTS = [-6, -3, -1, 0, 1, 2, 3, 5, 10]


class Gen:
    """Random expressions, each as a (hive, duckdb) pair of SQL texts."""

    def __init__(self, rng):
        self.r = rng

    def lit_str(self):
        v = self.r.choice([x for x in VALUES if x is not None])
        return hive_lit(v), duck_lit(v)

    def s(self, d=0):
        r = self.r
        if d >= 3:
            return self.leaf_str()
        k = r.randrange(17)
        if k <= 2:
            return self.leaf_str()
        if k == 3:
            a = self.s(d + 1)
            f = r.choice(["lower", "upper", "trim"])
            return f"{f}({a[0]})", f"{f}({a[1]})"
        if k == 4:
            a, p = self.s(d + 1), self.i(d + 1)
            if r.random() < 0.5:
                return f"substr({a[0]}, {p[0]})", f"hive_substr({a[1]}, {p[1]}, 2147483647)"
            n = self.i(d + 1)
            return f"substr({a[0]}, {p[0]}, {n[0]})", f"hive_substr({a[1]}, {p[1]}, {n[1]})"
        if k == 5:
            args = [self.any(d + 1) for _ in range(r.randint(1, 3))]
            return (f"concat({', '.join(a[0] for a in args)})",
                    "(" + " || ".join(f"CAST({a[1]} AS VARCHAR)" for a in args) + ")")
        if k == 6:
            sep = self.s(d + 1)
            args = [self.s(d + 1) for _ in range(r.randint(1, 3))]
            return (f"concat_ws({sep[0]}, {', '.join(a[0] for a in args)})",
                    f"concat_ws({sep[1]}, {', '.join(a[1] for a in args)})")
        if k == 7:
            a, b = self.s(d + 1), self.s(d + 1)
            f = r.choice(["coalesce", "nvl"])
            return f"{f}({a[0]}, {b[0]})", f"coalesce({a[1]}, {b[1]})"
        if k == 8:
            c, a, b = self.b(d + 1), self.s(d + 1), self.s(d + 1)
            return f"if({c[0]}, {a[0]}, {b[0]})", f"(CASE WHEN {c[1]} THEN {a[1]} ELSE {b[1]} END)"
        if k == 9:
            whens = [(self.b(d + 1), self.s(d + 1)) for _ in range(r.randint(1, 3))]
            h = " ".join(f"WHEN {c[0]} THEN {v[0]}" for c, v in whens)
            u = " ".join(f"WHEN {c[1]} THEN {v[1]}" for c, v in whens)
            if r.random() < 0.6:
                e = self.s(d + 1)
                h, u = h + f" ELSE {e[0]}", u + f" ELSE {e[1]}"
            return f"CASE {h} END", f"(CASE {u} END)"
        if k == 10:
            a, b = self.s(d + 1), self.s(d + 1)
            return f"nullif({a[0]}, {b[0]})", f"nullif({a[1]}, {b[1]})"
        if k == 11:
            a = self.s(d + 1)
            pat, g = r.choice(EXTRACTS)
            return (f"regexp_extract({a[0]}, {hive_lit(pat)}, {g})",
                    f"regexp_extract({a[1]}, {duck_lit(pat)}, {g})")
        if k == 12:
            a = self.s(d + 1)
            pat, rep = r.choice(REPLACES)
            return (f"regexp_replace({a[0]}, {hive_lit(pat)}, {hive_lit(rep)})",
                    f"regexp_replace({a[1]}, {duck_lit(pat)}, {duck_lit(rep)}, 'g')")
        if k == 13:
            a = self.s(d + 1)
            pat = r.choice(SPLITS)
            n = r.randint(0, 4)
            return f"split({a[0]}, {hive_lit(pat)})[{n}]", f"string_split_regex({a[1]}, {duck_lit(pat)})[{n + 1}]"
        if k == 14:
            op = r.choice(["lower", "upper"])
            a = self.s(d + 1)
            return f"{op}(trim({a[0]}))", f"{op}(trim({a[1]}))"
        if k == 15:
            operand = self.s(d + 1)
            whens = [(self.s(d + 1), self.s(d + 1)) for _ in range(r.randint(1, 2))]
            h = " ".join(f"WHEN {c[0]} THEN {v[0]}" for c, v in whens)
            u = " ".join(f"WHEN {c[1]} THEN {v[1]}" for c, v in whens)
            return f"CASE {operand[0]} {h} END", f"(CASE {operand[1]} {u} END)"
        return self.leaf_str()

    def leaf_str(self):
        if self.r.random() < 0.7:
            c = self.r.choice(COLS)
            return c, c
        return self.lit_str()

    def i(self, d=0):
        r = self.r
        k = r.randrange(4) if d < 3 else 0
        if k == 0:
            n = r.choice(INTS)
            return str(n), str(n)
        if k == 1:
            a = self.s(d + 1)
            return f"length({a[0]})", f"length({a[1]})"
        if k == 2:
            a, b = self.s(d + 1), self.s(d + 1)
            return f"instr({a[0]}, {b[0]})", f"hive_instr({a[1]}, {b[1]})"
        a = self.s(d + 1)
        return f"length(trim({a[0]}))", f"length(trim({a[1]}))"

    def b(self, d=0):
        r = self.r
        k = r.randrange(12) if d < 3 else r.randrange(7)
        op = r.choice(["=", "<>", "!=", "<", "<=", ">", ">="])
        if k == 0:
            a, b = self.s(d + 1), self.s(d + 1)
            return f"{a[0]} {op} {b[0]}", f"({a[1]} {op.replace('!=', '<>')} {b[1]})"
        if k == 1:
            a, b = self.i(d + 1), self.i(d + 1)
            return f"{a[0]} {op} {b[0]}", f"({a[1]} {op.replace('!=', '<>')} {b[1]})"
        if k == 2:
            a = self.s(d + 1)
            items = [self.lit_str() if r.random() < 0.85 else ("NULL", "NULL") for _ in range(r.randint(1, 4))]
            neg = "NOT " if r.random() < 0.5 else ""
            return (f"{a[0]} {neg}IN ({', '.join(x[0] for x in items)})",
                    f"({a[1]} {neg}IN ({', '.join(x[1] for x in items)}))")
        if k == 3:
            a = self.s(d + 1)
            neg = "NOT " if r.random() < 0.5 else ""
            return f"{a[0]} IS {neg}NULL", f"({a[1]} IS {neg}NULL)"
        if k == 4:
            a = self.s(d + 1)
            p = r.choice(LIKES)
            neg = "NOT " if r.random() < 0.3 else ""
            return f"{a[0]} {neg}LIKE {hive_lit(p)}", f"({a[1]} {neg}LIKE {duck_lit(p)})"
        if k == 5:
            a = self.s(d + 1)
            p = r.choice(REGEXES)
            kw = r.choice(["RLIKE", "REGEXP"])
            if r.random() < 0.3:
                return f"{a[0]} NOT {kw} {hive_lit(p)}", f"(NOT regexp_matches({a[1]}, {duck_lit(p)}))"
            return f"{a[0]} {kw} {hive_lit(p)}", f"regexp_matches({a[1]}, {duck_lit(p)})"
        if k == 6:
            a, lo, hi = self.s(d + 1), self.lit_str(), self.lit_str()
            neg = "NOT " if r.random() < 0.3 else ""
            return f"{a[0]} {neg}BETWEEN {lo[0]} AND {hi[0]}", f"({a[1]} {neg}BETWEEN {lo[1]} AND {hi[1]})"
        if k in (7, 8):
            a, b = self.b(d + 1), self.b(d + 1)
            op = "AND" if k == 7 else "OR"
            return f"({a[0]} {op} {b[0]})", f"({a[1]} {op} {b[1]})"
        if k == 9:
            a = self.b(d + 1)
            return f"NOT ({a[0]})", f"(NOT {a[1]})"
        if k == 10:
            a, b = self.i(d + 1), self.i(d + 1)
            return f"{a[0]} BETWEEN {b[0]} AND 5", f"({a[1]} BETWEEN {b[1]} AND 5)"
        c, a, b = self.b(d + 1), self.b(d + 1), self.b(d + 1)
        return f"if({c[0]}, {a[0]}, {b[0]})", f"(CASE WHEN {c[1]} THEN {a[1]} ELSE {b[1]} END)"

    def any(self, d=0):
        k = self.r.randrange(6)
        if k <= 3:
            return self.s(d)
        if k == 4:
            return self.i(d)
        return self.b(d)


def make_rows(rng, n):
    rows = []
    for i in range(n):
        row = [rng.choice(VALUES) for _ in COLS]
        if rng.random() < 0.2:  # mix values: concatenations of pool values
            j = rng.randrange(NCOLS)
            row[j] = (rng.choice(VALUES) or "") + (rng.choice(VALUES) or "")
        rows.append([str(i)] + row)
    return rows


def write_input(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        for row in rows:
            f.write("\x01".join("\\N" if v is None else v for v in row) + "\n")


def write_spec(path, select, where=None):
    cols = ", ".join(f'"{c}"' for c in ["id"] + COLS)
    sql = f"SELECT id, {select}\nFROM input" + (f"\nWHERE {where}" if where else "")
    assert "'''" not in sql
    path.write_text(f"""name = "{path.stem}"

[input]
path = "x/{{date}}/{{hour}}"
columns = [{cols}]

[transform]
sql = '''
{sql}
'''

[output]
file_name = "x_{{date}}_{{seq}}.gz"
verf_name = "x_{{date}}.verf"
""", encoding="utf-8")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    rng = random.Random(20241212)
    tmp = tmp_path_factory.mktemp("oracle")
    rows = make_rows(rng, 3000)
    write_input(tmp / "input.txt", rows)
    con = duckdb.connect()
    con.execute("CREATE TABLE input (id INTEGER, " + ", ".join(f"{c} VARCHAR" for c in COLS) + ")")
    con.executemany("INSERT INTO input VALUES (" + ", ".join("?" * (NCOLS + 1)) + ")",
                    [[int(r[0])] + r[1:] for r in rows])
    for m in DUCK_MACROS:
        con.execute(m)
    return tmp, rows, con, rng


def run_batch(tmp, con, name, exprs, where=None):
    """Evaluates `exprs` (hive, duck pairs) with both engines; returns mismatches."""
    spec = tmp / f"{name}.toml"
    select = ", ".join(f"{h} AS e{i}" for i, (h, _) in enumerate(exprs))
    write_spec(spec, select, where[0] if where else None)
    p = chama("spec", "try", spec, "--input", tmp / "input.txt")
    header, got = read_tsv(p.stdout)
    assert header == ["id"] + [f"e{i}" for i in range(len(exprs))]
    duck_sql = "SELECT id, " + ", ".join(f"{u} AS e{i}" for i, (_, u) in enumerate(exprs)) + " FROM input"
    if where:
        duck_sql += f" WHERE {where[1]}"
    want = [[render(v) for v in row] for row in con.execute(duck_sql + " ORDER BY id").fetchall()]
    bad = []
    if [r[0] for r in got] != [r[0] for r in want]:
        return [f"{name}: rows kept differ: chama {len(got)} rows, duckdb {len(want)} rows; WHERE {where[0]}"]
    for g, w in zip(got, want):
        for i, (h, u) in enumerate(exprs):
            if g[i + 1] != w[i + 1]:
                bad.append(f"{name} row {g[0]}: {h}\n   duckdb: {u}\n   chama={g[i + 1]!r} duckdb={w[i + 1]!r}")
    return bad


def test_random_expressions_match_duckdb(world):
    tmp, rows, con, rng = world
    gen = Gen(rng)
    exprs = [gen.any() for _ in range(400)]
    bad = []
    for k in range(0, len(exprs), 25):
        bad += run_batch(tmp, con, f"E{k}", exprs[k:k + 25])
    assert not bad, f"{len(bad)} mismatches, first ones:\n" + "\n".join(bad[:15])


def test_random_where_clauses_keep_the_same_rows(world):
    tmp, rows, con, rng = world
    gen = Gen(rng)
    bad = []
    kept = 0
    for k in range(40):
        where = gen.b()
        select = [gen.s() for _ in range(3)]
        bad += run_batch(tmp, con, f"W{k}", select, where)
        kept += 1
    assert not bad, f"{len(bad)} mismatches, first ones:\n" + "\n".join(bad[:15])


def test_the_real_specs_filters_match_duckdb(world):
    """The mc_ev rules of 51006 and 51010 as DuckDB reads them."""
    tmp, rows, con, rng = world
    qycs = ("((instr(c0, '210315_QYCS') > 0 AND c0 NOT RLIKE '^210315_QYCS_\\\\d+$') OR instr(c0, '210902_QYLQTYY') > 0)",
            "((instr(c0, '210315_QYCS') > 0 AND NOT regexp_matches(c0, '^210315_QYCS_\\d+$')) OR instr(c0, '210902_QYLQTYY') > 0)")
    numbered = ("c0 RLIKE '^210315_QYCS_\\\\d+$'", "regexp_matches(c0, '^210315_QYCS_\\d+$')")
    bad = run_batch(tmp, con, "Q1", [("c0", "c0")], qycs) + run_batch(tmp, con, "Q2", [("c0", "c0")], numbered)
    assert not bad, "\n".join(bad)
