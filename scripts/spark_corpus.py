#!/usr/bin/env python3
"""Writes the real-writer corpus: the same rows into real Hive tables, written by
Spark (with Hive support and its embedded Derby metastore), as Hive lays them
out: OUT/warehouse/<table>/dt=YYYY-MM-DD/hour=HH/<Spark's file names>.

Tables (every one partitioned by dt and hour; the hours 2024-12-12 20 and 21):
- edges_text_<codec>: the typed edge rows (see EDGE_ROWS) as TEXTFILE,
  `\\001` fields, escaped by `\\` (newlines and CRs too), one table per Hadoop codec Spark's jars
  carry (none, gzip, bzip2, deflate, snappy, lz4; zstd needs libhadoop, so
  its table is the plain table's files recompressed as Hadoop's ZStandardCodec
  writes them: plain zstd frames).
- edges_parquet_<codec>: PARQUET with Spark's writer: INT96 timestamps
  (Spark's default), codecs none, snappy, gzip, zstd, lz4, lz4_raw; plus
  edges_parquet_micros / _millis (TIMESTAMP_MICROS / _MILLIS, snappy),
  edges_parquet_legacy (Spark's LEGACY rebase: the hybrid calendar) and
  edges_parquet_brotli (Spark's jars lack brotli: pyarrow rewrites the snappy
  table's files with brotli, INT96 kept).
- edges_orc_<codec>: ORC, codecs none, zlib, snappy, zstd, lz4, lzo.
- ntz_parquet, ntz_orc: id, prov and ts as Spark's TIMESTAMP_NTZ, written by a
  DataFrame (a bigint with a type attribute in ORC).
- edges_union: a UNION ALL insert laid out as Hive on Tez writes it, in
  HIVE_UNION_SUBDIR_1/ and HIVE_UNION_SUBDIR_2/, beside `_temporary/` and
  `.hive-staging_hive_*` leftovers that must not be read.
- t51007_<fmt> and t51006_<fmt> (fmt text, parquet, orc): the shipped
  specs' input layouts (all strings), rows from scripts/gen_dumps.py.

Also writes OUT/spark/<table>/<hour>.json for the oracle tests: each shipped
spec's [transform] sql run verbatim by Spark SQL over its table, every row
(NULL as null), and for the edge tables the rows as Spark reads them back.

Time zone: the JVM and Spark's session run in UTC.
Usage: scripts/spark_corpus.py OUT   (about a minute; needs pyspark and Java 17)
"""
import glob
import json
import os
import random
import shutil
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_dumps  # noqa: E402

DATE, DATE_ISO, HOURS = "20241212", "2024-12-12", ["20", "21"]

# The edge table's columns: (name, Hive type).
EDGE_COLUMNS = [
    ("id", "INT"),
    ("prov", "STRING"),
    ("s", "STRING"),
    ("ts", "TIMESTAMP"),
    ("d", "DATE"),
    ("dbl", "DOUBLE"),
    ("flt", "FLOAT"),
    ("dec_wide", "DECIMAL(38,10)"),
    ("dec_small", "DECIMAL(9,2)"),
    ("dec_mid", "DECIMAL(18,4)"),
    ("b", "BOOLEAN"),
    ("ti", "TINYINT"),
    ("si", "SMALLINT"),
    ("bi", "BIGINT"),
    ("tags", "ARRAY<STRING>"),
    ("attrs", "MAP<STRING,INT>"),
    ("pt", "STRUCT<x:INT,y:STRING>"),
]

# SQL literals, one tuple per row, in EDGE_COLUMNS order.
EDGE_ROWS = [
    ("1", "'100'", "'plain'", "TIMESTAMP '2024-12-12 20:55:40.123456'", "DATE '2024-12-12'", "0.00001D",
     "CAST(1.1 AS FLOAT)", "CAST('12345678901234567890123456.0123456789' AS DECIMAL(38,10))",
     "CAST(1.5 AS DECIMAL(9,2))", "CAST(-0.0001 AS DECIMAL(18,4))", "true", "CAST(-128 AS TINYINT)",
     "CAST(32767 AS SMALLINT)", "9223372036854775807L", "array('a', 'b')", "map('k1', 1)",
     "named_struct('x', 1, 'y', 'p')"),
    ("2", "'200'", "'中文标题😀'", "TIMESTAMP '9999-12-31 23:59:59'", "DATE '9999-12-31'", "100.0D",
     "CAST(-0.5 AS FLOAT)", "CAST('-99999999999999999999999999.9999999999' AS DECIMAL(38,10))",
     "CAST(0 AS DECIMAL(9,2))", "CAST(12345678901234.5678 AS DECIMAL(18,4))", "false",
     "CAST(127 AS TINYINT)", "CAST(-32768 AS SMALLINT)", "-9223372036854775808L", "array()",
     "map()", "named_struct('x', CAST(NULL AS INT), 'y', CAST(NULL AS STRING))"),
    ("3", "'200'", "''", "TIMESTAMP '0001-01-01 00:00:00'", "DATE '0001-01-01'", "10000000000.0D",
     "CAST(3.4028235E38 AS FLOAT)", "CAST(0 AS DECIMAL(38,10))", "CAST(-7.25 AS DECIMAL(9,2))",
     "CAST(0 AS DECIMAL(18,4))", "NULL", "CAST(0 AS TINYINT)", "CAST(0 AS SMALLINT)", "0L",
     "array('x', NULL, '')", "map('a', CAST(NULL AS INT))", "NULL"),
    ("4", "'100'", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
     "NULL", "NULL", "NULL"),
    ("5", "'250'", "'\\\\N'", "TIMESTAMP '2024-12-12 20:00:00.1'", "DATE '1970-01-01'", "-0.0D",
     "CAST(1.0E-10 AS FLOAT)", "CAST(0.0000000001 AS DECIMAL(38,10))", "CAST(0.01 AS DECIMAL(9,2))",
     "CAST(1 AS DECIMAL(18,4))", "true", "CAST(1 AS TINYINT)", "CAST(1 AS SMALLINT)", "1L",
     "array('中文')", "map('中', 0)", "named_struct('x', -1, 'y', '')"),
    ("6", "'250'", "concat('a', chr(1), 'b|c', chr(10), 'd', chr(13), 'e', chr(9), 'f\\\\g')",
     "TIMESTAMP '1969-12-31 23:59:58.999999'", "DATE '1969-12-31'", "1.0E-300D", "CAST(100 AS FLOAT)",
     "CAST(-1 AS DECIMAL(38,10))", "CAST(9999999.99 AS DECIMAL(9,2))", "CAST(-99999999999999.9999 AS DECIMAL(18,4))",
     "false", "CAST(-1 AS TINYINT)", "CAST(-1 AS SMALLINT)", "-1L", "array('p', 'q')", "map('z', -5)",
     "named_struct('x', 7, 'y', 'y')"),
    ("7", "'100'", "'emoji 🎉 𠮷 and ™'", "TIMESTAMP '2000-02-29 12:34:56.000001'", "DATE '2000-02-29'",
     "123456.789D", "CAST(0.001 AS FLOAT)", "CAST(3.14 AS DECIMAL(38,10))", "CAST(-0.5 AS DECIMAL(9,2))",
     "CAST(2.5 AS DECIMAL(18,4))", "true", "CAST(42 AS TINYINT)", "CAST(4242 AS SMALLINT)", "4242424242L",
     "NULL", "NULL", "named_struct('x', 0, 'y', '中')"),
    ("8", "'200'", "'x'", "TIMESTAMP '1900-01-01 00:00:00'", "DATE '1582-10-15'", "1.0E7D",
     "CAST(1.0E7 AS FLOAT)", "CAST(100 AS DECIMAL(38,10))", "CAST(100 AS DECIMAL(9,2))",
     "CAST(100 AS DECIMAL(18,4))", "false", "CAST(2 AS TINYINT)", "CAST(2 AS SMALLINT)", "2L",
     "array('')", "map('', 1)", "named_struct('x', 2, 'y', '')"),
    ("9", "'100'", "'tab\\tinside'", "TIMESTAMP '2024-12-12 20:59:59.999999'", "DATE '2024-12-13'",
     "0.001D", "CAST(9.999999E-4 AS FLOAT)", "CAST(0.5 AS DECIMAL(38,10))", "CAST(0.1 AS DECIMAL(9,2))",
     "CAST(0.1 AS DECIMAL(18,4))", "true", "CAST(3 AS TINYINT)", "CAST(3 AS SMALLINT)", "3L",
     "array('a,b')", "map('k', 3)", "named_struct('x', 3, 'y', 'z')"),
    ("10", "'250'", "'double NaN'", "TIMESTAMP '2024-12-12 00:00:00'", "DATE '2024-01-01'", "CAST('NaN' AS DOUBLE)",
     "CAST('-Infinity' AS FLOAT)", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
     "array(NULL)", "map('n', 1)", "named_struct('x', 4, 'y', NULL)"),
    ("11", "'250'", "'inf'", "TIMESTAMP '2024-12-12 20:00:00.5'", "DATE '2024-12-12'", "CAST('Infinity' AS DOUBLE)",
     "CAST(1.0E-45 AS FLOAT)", "CAST(1 AS DECIMAL(38,10))", "CAST(1 AS DECIMAL(9,2))",
     "CAST(1 AS DECIMAL(18,4))", "true", "CAST(4 AS TINYINT)", "CAST(4 AS SMALLINT)", "4L",
     "array('r')", "map('m', 2)", "named_struct('x', 5, 'y', 'w')"),
]

TEXT_CODECS = {
    "none": None,
    "gzip": "org.apache.hadoop.io.compress.GzipCodec",
    "bzip2": "org.apache.hadoop.io.compress.BZip2Codec",
    "deflate": "org.apache.hadoop.io.compress.DeflateCodec",
    "snappy": "org.apache.hadoop.io.compress.SnappyCodec",
    "lz4": "org.apache.hadoop.io.compress.Lz4Codec",
}
PARQUET_CODECS = ["none", "snappy", "gzip", "zstd", "lz4", "lz4_raw"]
ORC_CODECS = ["none", "zlib", "snappy", "zstd", "lz4", "lzo"]


def mirror(out, src_table, dst_table, rewrite):
    """Another table of the same partitions: each data file through rewrite(file, target); markers copied."""
    src = os.path.join(out, "warehouse", src_table)
    dst = os.path.join(out, "warehouse", dst_table)
    for f in sorted(glob.glob(os.path.join(src, "**", "*"), recursive=True)):
        target = os.path.join(dst, os.path.relpath(f, src))
        name = os.path.basename(f)
        if os.path.isdir(f):
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if name.startswith("_"):
            shutil.copy(f, target)
        elif not name.startswith("."):
            rewrite(f, target)


def ddl(cols):
    return ", ".join(f"`{n}` {t}" for n, t in cols)


def spark_session(out):
    os.environ.setdefault("TZ", "UTC")
    from pyspark.sql import SparkSession
    wh = os.path.join(out, "warehouse")
    return (SparkSession.builder.master("local[2]").appName("chama-corpus")
            .config("spark.sql.warehouse.dir", wh)
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={os.path.join(out, 'metastore_db')};create=true")
            .config("spark.driver.extraJavaOptions", f"-Duser.timezone=UTC -Dderby.system.home={out}")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.parquet.int96RebaseModeInWrite", "CORRECTED")
            .config("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")
            .config("spark.sql.parquet.int96RebaseModeInRead", "CORRECTED")
            .config("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .enableHiveSupport().getOrCreate())


def edge_values_sql():
    return ", ".join("(" + ", ".join(r) + ")" for r in EDGE_ROWS)


def string_rows(cols, hour, n, seed):
    r = random.Random(f"{seed}-{DATE}-{hour}")
    with_mc = "mc_ev" in cols
    rows = []
    for _ in range(n):
        vals = gen_dumps.row(r, DATE_ISO, hour, with_mc)
        rows.append(tuple(None if v == "\\N" else v for v in vals))
    return rows


def main():
    out = os.path.abspath(sys.argv[1])
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    spark = spark_session(out)
    spark.sparkContext.setLogLevel("ERROR")
    sql = spark.sql
    sql(f"CREATE OR REPLACE TEMPORARY VIEW edges_src AS SELECT * FROM VALUES {edge_values_sql()} "
        f"AS v({', '.join(n for n, _ in EDGE_COLUMNS)})")
    typed = ", ".join(f"CAST(`{n}` AS {t}) AS `{n}`" for n, t in EDGE_COLUMNS)
    sql(f"CREATE OR REPLACE TEMPORARY VIEW edges AS SELECT {typed} FROM edges_src")
    cols = ddl(EDGE_COLUMNS)
    part = "PARTITIONED BY (dt STRING, hour STRING)"
    # Hive's LazySimpleSerDe, escaping delimiters, backslashes and (escape.crlf) newlines and CRs.
    text_format = ("ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' WITH SERDEPROPERTIES ("
                   "'field.delim'='\\001', 'collection.delim'='\\002', 'mapkey.delim'='\\003', "
                   "'escape.delim'='\\\\', 'serialization.escape.crlf'='true', "
                   "'serialization.null.format'='\\\\N') STORED AS TEXTFILE")

    def insert(table, select):
        for hour in HOURS:
            sql(f"INSERT OVERWRITE TABLE {table} PARTITION (dt='{DATE_ISO}', hour='{hour}') {select}")

    # Text, one table per Hadoop codec.
    for codec, klass in TEXT_CODECS.items():
        t = f"edges_text_{codec}"
        sql(f"CREATE TABLE {t} ({cols}) {part} {text_format}")
        sql(f"SET hive.exec.compress.output={'true' if klass else 'false'}")
        if klass:
            sql(f"SET mapreduce.output.fileoutputformat.compress.codec={klass}")
        insert(t, "SELECT * FROM edges")
    sql("SET hive.exec.compress.output=false")
    # zstd text: Hadoop's ZStandardCodec needs libhadoop; its output is plain zstd frames.
    import zstandard

    def zstd(f, target):
        with open(f, "rb") as fi, open(target + ".zst", "wb") as fo:
            fo.write(zstandard.ZstdCompressor(level=3).compress(fi.read()))
    mirror(out, "edges_text_none", "edges_text_zstd", zstd)

    # Parquet through Spark's own writer (what a Hive PARQUET table gets from Spark).
    for codec in PARQUET_CODECS:
        t = f"edges_parquet_{codec}"
        sql(f"CREATE TABLE {t} ({cols}) {part} STORED AS PARQUET")
        sql(f"SET spark.sql.parquet.compression.codec={codec}")
        insert(t, "SELECT * FROM edges")
    sql("SET spark.sql.parquet.compression.codec=snappy")
    for unit in ["micros", "millis"]:
        t = f"edges_parquet_{unit}"
        sql(f"CREATE TABLE {t} ({cols}) {part} STORED AS PARQUET")
        sql(f"SET spark.sql.parquet.outputTimestampType=TIMESTAMP_{unit.upper()}")
        insert(t, "SELECT * FROM edges")
    sql("SET spark.sql.parquet.outputTimestampType=INT96")
    # Spark's LEGACY rebase mode: the hybrid Julian/Gregorian calendar, marked in the file's metadata.
    sql("SET spark.sql.parquet.int96RebaseModeInWrite=LEGACY")
    sql("SET spark.sql.parquet.datetimeRebaseModeInWrite=LEGACY")
    sql(f"CREATE TABLE edges_parquet_legacy ({cols}) {part} STORED AS PARQUET")
    insert("edges_parquet_legacy", "SELECT * FROM edges")
    sql("SET spark.sql.parquet.int96RebaseModeInWrite=CORRECTED")
    sql("SET spark.sql.parquet.datetimeRebaseModeInWrite=CORRECTED")
    # brotli: not in Spark's jars; the snappy table's files rewritten by pyarrow (INT96 kept).
    import pyarrow.parquet as pq

    def brotli(f, target):
        table = pq.read_table(f, coerce_int96_timestamp_unit="us")
        pq.write_table(table, target, compression="brotli", use_deprecated_int96_timestamps=True, store_schema=False)
    mirror(out, "edges_parquet_snappy", "edges_parquet_brotli", brotli)

    for codec in ORC_CODECS:
        t = f"edges_orc_{codec}"
        sql(f"CREATE TABLE {t} ({cols}) {part} STORED AS ORC")
        sql(f"SET spark.sql.orc.compression.codec={codec}")
        insert(t, "SELECT * FROM edges")
    sql("SET spark.sql.orc.compression.codec=snappy")

    # Spark's TIMESTAMP_NTZ, written by a DataFrame (Hive tables have no such type): in
    # Parquet an INT64 not adjusted to UTC, in ORC a bigint with a type attribute.
    for fmt in ["parquet", "orc"]:
        for hour in HOURS:
            (sql("SELECT id, prov, CAST(ts AS TIMESTAMP_NTZ) AS ts FROM edges").write.format(fmt)
             .save(os.path.join(out, "warehouse", f"ntz_{fmt}", f"dt={DATE_ISO}", f"hour={hour}")))

    # A UNION ALL insert as Hive on Tez lays it out: one subdirectory per branch.
    t = "edges_union"
    sql(f"CREATE TABLE {t} ({cols}) {part} {text_format}")
    for hour in HOURS:
        sql(f"INSERT OVERWRITE TABLE {t} PARTITION (dt='{DATE_ISO}', hour='{hour}') "
            f"SELECT * FROM edges WHERE id <= 5 UNION ALL SELECT * FROM edges WHERE id > 5")
        d = os.path.join(out, "warehouse", t, f"dt={DATE_ISO}", f"hour={hour}")
        files = sorted(f for f in os.listdir(d) if not f.startswith(("_", ".")))
        for i, f in enumerate(files):
            sub = os.path.join(d, f"HIVE_UNION_SUBDIR_{1 + i % 2}")
            os.makedirs(sub, exist_ok=True)
            os.rename(os.path.join(d, f), os.path.join(sub, f))
        # Leftovers Hive's reader skips: a failed attempt, a staging directory, a crc.
        for junk in ["_temporary/0/_temporary/attempt_1/part-00000", ".hive-staging_hive_2024-12-12_20-00-00_1/-ext-10000/000000_0",
                     "HIVE_UNION_SUBDIR_1/.part-00000.crc", "HIVE_UNION_SUBDIR_2/_SUCCESS"]:
            p = os.path.join(d, junk)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fo:
                fo.write(b"junk\x01that\x01must not be read\n")

    # The shipped specs' layouts, every column a string.
    layouts = {"t51007": gen_dumps.COLUMNS, "t51006": gen_dumps.COLUMNS + ["mc_ev"]}
    for name, lcols in layouts.items():
        from pyspark.sql.types import StructType, StructField, StringType
        schema = StructType([StructField(c, StringType()) for c in lcols])
        sdl = ", ".join(f"`{c}` STRING" for c in lcols)
        for fmt in ["text", "parquet", "orc"]:
            store = text_format if fmt == "text" else f"STORED AS {fmt.upper()}"
            sql(f"CREATE TABLE {name}_{fmt} ({sdl}) {part} {store}")
        sql("SET hive.exec.compress.output=true")
        sql("SET mapreduce.output.fileoutputformat.compress.codec=org.apache.hadoop.io.compress.GzipCodec")
        sql("SET spark.sql.orc.compression.codec=zlib")
        for hour in HOURS:
            rows = string_rows(lcols, hour, 3000, 7)
            spark.createDataFrame(rows, schema).repartition(2).createOrReplaceTempView("rows_src")
            for fmt in ["text", "parquet", "orc"]:
                sql(f"INSERT OVERWRITE TABLE {name}_{fmt} PARTITION (dt='{DATE_ISO}', hour='{hour}') "
                    f"SELECT * FROM rows_src")
        sql("SET hive.exec.compress.output=false")

    # Every partition ready, as the specs' ready_marker expects.
    for d in glob.glob(os.path.join(out, "warehouse", "*", "dt=*", "hour=*")):
        open(os.path.join(d, "_SUCCESS"), "wb").close()

    # What Spark says: each shipped spec's SQL over its table, and the edge rows.
    answers = os.path.join(out, "spark")
    os.makedirs(answers)
    interfaces = os.path.join(HERE, "..", "interfaces")
    for f in sorted(glob.glob(os.path.join(interfaces, "*.toml"))):
        spec = tomllib.load(open(f, "rb"))
        table = "t51006" if "mc_ev" in spec["input"]["columns"] else "t51007"
        for fmt in ["text", "parquet", "orc"]:
            for hour in HOURS:
                sql(f"CREATE OR REPLACE TEMPORARY VIEW input AS SELECT * FROM {table}_{fmt} "
                    f"WHERE dt='{DATE_ISO}' AND hour='{hour}'")
                df = sql(spec["transform"]["sql"])
                rows = [list(r) for r in df.collect()]
                with open(os.path.join(answers, f"{spec['name']}.{fmt}.{hour}.json"), "w") as fo:
                    json.dump({"columns": df.columns, "rows": rows}, fo, ensure_ascii=False)
    for hour in HOURS:
        df = sql(f"SELECT {', '.join('CAST(`%s` AS STRING)' % n for n, _ in EDGE_COLUMNS[:14])} "
                 f"FROM edges_orc_zlib WHERE dt='{DATE_ISO}' AND hour='{hour}' ORDER BY id")
        with open(os.path.join(answers, f"edges.{hour}.json"), "w") as fo:
            json.dump({"columns": [n for n, _ in EDGE_COLUMNS[:14]], "rows": [list(r) for r in df.collect()]},
                      fo, ensure_ascii=False)
    spark.stop()
    with open(os.path.join(out, "DONE"), "w") as fo:
        fo.write("ok\n")


if __name__ == "__main__":
    main()
