"""Shared helpers for the oracle tests: run chama, read its TSV, talk to DuckDB."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAMA = os.environ.get("CHAMA_BIN", str(ROOT / "target" / "debug" / "chama"))


def chama(*args, cwd=None, check=True):
    """Runs chama with the built-in default config; returns the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k != "CHAMA_CONFIG"}
    p = subprocess.run([CHAMA, *map(str, args)], cwd=cwd, env=env, capture_output=True)
    if check and p.returncode != 0:
        raise AssertionError(f"chama {' '.join(map(str, args))} exited {p.returncode}\n{p.stderr.decode(errors='replace')}")
    return p


def unescape_pg(field):
    """PostgreSQL text format: \\N is NULL; \\t \\n \\r \\\\ are escapes."""
    if field == "\\N":
        return None
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[field[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_tsv(data):
    """Header and rows of `spec try` output."""
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "", "output ends with a newline"
    header = lines[0].split("\t")
    rows = [[unescape_pg(f) for f in line.split("\t")] for line in lines[1:-1]]
    return header, rows


def hive_lit(s):
    """A Hive string literal whose value is `s`."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def duck_lit(s):
    """A DuckDB (standard SQL) string literal whose value is `s`."""
    return "'" + s.replace("'", "''") + "'"


def render(v):
    """DuckDB's Python value as chama prints it."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# Hive semantics that DuckDB spells differently, written once in DuckDB.
DUCK_MACROS = [
    # Hive's substr: pos 0 acts as 1, negative counts from the end, past either end is ''.
    """CREATE MACRO hive_substr(s, p, l) AS CASE
         WHEN s IS NULL OR p IS NULL OR l IS NULL THEN NULL
         WHEN l <= 0 OR abs(p) > length(s) THEN ''
         ELSE substring(s, CASE WHEN p > 0 THEN p WHEN p < 0 THEN length(s) + p + 1 ELSE 1 END, l) END""",
    # Hive's instr finds nothing in an empty string, not even ''.
    """CREATE MACRO hive_instr(s, t) AS CASE
         WHEN s IS NULL OR t IS NULL THEN NULL WHEN s = '' THEN 0 ELSE instr(s, t) END""",
]
