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

Then one zone corpus per zone of ZONES (Asia/Shanghai; America/Los_Angeles,
which keeps summer time), each by its own JVM (a fresh process of this script,
`--zone ZONE OUT`, with TZ, -Duser.timezone and the session all in the zone;
its own warehouse and Derby metastore) in OUT/zones/<zone, / as _>/:
- warehouse/<table>/dt=2024-12-12/hour={20,21}/ (and `_SUCCESS`): the rows
  of ZONE_ROWS (id, prov, ts, d: wall clocks at calendar, LMT and summer-time
  edges, around the epoch, after 2037, the ends of 0001 and 9999; a NULL),
  written by Spark as Hive tables: zt_text, zt_parquet_int96 / _micros /
  _millis, zt_parquet_legacy (INT96) / _legacy_micros (LEGACY rebase), zt_orc,
  and through Hive's own SerDe writer (convertMetastoreParquet/Orc=false):
  zt_parquet_serde, zt_orc_serde; and written by pyarrow as plain files
  (ZONE_ARROW_TABLES): za_int96_<unit>_schema / _noschema (naive INT96 in
  s, ms, us, ns, with and without the Arrow schema), za_int96_tz_<unit>
  (zone-aware INT96), za_int64_<unit> / za_int64_tz_<unit> (INT64 not
  adjusted / adjusted to UTC), za_orc_naive and za_orc_tz.
- oracle/<table>.<hour>.json: what the table's writer's own reader returns in
  that zone ({"columns", "rows"}, every value a string or null, by id): Spark
  SQL's native reader for Spark's tables, Hive's SerDe for text and the SerDe
  tables, pyarrow for pyarrow's (INT96 read in the unit written; values
  pyarrow holds as instants shown as wall clocks in the zone).
- metadata.json: what each table's files say of their writer (Parquet
  created_by and key-value metadata; ORC writer, calendar, stripes' writer time
  zone), and the rows a writer could not write.
The log shows where each oracle differs from the literal written, and how the
other readers (Hive's SerDe on Spark's files, Spark's native reader on Hive's
and pyarrow's) differ from the oracle.

Usage: scripts/spark_corpus.py OUT   (about 4 minutes on 2 cores: the UTC
corpus about 2, each zone about 1; needs pyspark and Java 17)
"""
import base64
import glob
import json
import os
import random
import shutil
import sys
import time
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

# Hive's LazySimpleSerDe, escaping delimiters, backslashes and (escape.crlf) newlines and CRs.
TEXT_FORMAT = ("ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' WITH SERDEPROPERTIES ("
               "'field.delim'='\\001', 'collection.delim'='\\002', 'mapkey.delim'='\\003', "
               "'escape.delim'='\\\\', 'serialization.escape.crlf'='true', "
               "'serialization.null.format'='\\\\N') STORED AS TEXTFILE")


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
    t0 = time.time()
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
    text_format = TEXT_FORMAT

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
    stop_jvm(spark)
    log(f"UTC corpus: {time.time() - t0:.1f}s")
    zone_corpora(out)
    log(f"whole corpus: {time.time() - t0:.1f}s")
    with open(os.path.join(out, "DONE"), "w") as fo:
        fo.write("ok\n")


# ---------------------------------------------------------------------------
# The zone corpus (issue 24): the same rows written and read back with the
# cluster in a real time zone, one corpus per zone, each by its own JVM.

ZONES = ["Asia/Shanghai", "America/Los_Angeles"]

# The wall clocks of `ts`, literals in the session zone: calendar and LMT edges,
# China's summer time (1986-1991: a skipped and a repeated hour), the US's,
# around the epoch, summers after 2037 (past the zone's last listed rule) and the ends of 9999.
ZONE_WALL_CLOCKS = [
    "0001-01-01 00:00:00", "0001-01-01 00:00:00.000001", "0100-03-01 00:00:00",
    "1582-10-04 23:59:59", "1582-10-15 00:00:00", "1883-11-18 12:00:00",
    "1899-12-31 23:59:59", "1900-01-01 00:00:00", "1900-01-01 08:05:42", "1900-06-01 12:00:00",
    "1900-12-31 23:59:59", "1901-01-01 00:00:00",
    "1986-05-04 01:59:59", "1986-05-04 02:30:00", "1986-09-14 01:30:00",
    "1991-04-14 02:30:00", "1991-09-15 01:30:00",
    "2024-03-10 02:30:00", "2024-11-03 01:30:00",
    "1969-12-31 23:59:58.5", "1969-12-31 23:59:59.999999", "1970-01-01 00:00:00", "1970-01-01 00:00:00.000001",
    "2038-07-01 12:00:00", "2040-07-01 12:00:00", "2100-07-01 12:00:00", "9999-07-01 12:00:00",
    "9999-12-31 23:59:59", "9999-12-31 23:59:59.999999",
    "2024-12-12 20:55:40.123456",
]
ZONE_DATES = ["0001-01-01", "0100-03-01", "1582-10-04", "1582-10-15", "1899-12-31", "1900-01-01",
              "1970-01-01", "2024-12-12", "9999-12-31"]
# (id, prov, ts, d): the dates cycle over the rows; the last row is NULL in both.
ZONE_ROWS = ([(i + 1, "100", ts, ZONE_DATES[i % len(ZONE_DATES)]) for i, ts in enumerate(ZONE_WALL_CLOCKS)]
             + [(len(ZONE_WALL_CLOCKS) + 1, "100", None, None)])
ZONE_COLUMNS = ["id", "prov", "ts", "d"]

# Spark's tables: (storage, settings while inserting, the reader that is their oracle).
# "native": Spark's own Parquet/ORC reader (convertMetastore*=true); "serde": Hive's SerDe.
_LEGACY = {"spark.sql.parquet.int96RebaseModeInWrite": "LEGACY",
           "spark.sql.parquet.datetimeRebaseModeInWrite": "LEGACY"}
ZONE_SPARK_TABLES = {
    "zt_text": (TEXT_FORMAT, {}, "serde"),
    "zt_parquet_int96": ("STORED AS PARQUET", {"spark.sql.parquet.outputTimestampType": "INT96"}, "native"),
    "zt_parquet_micros": ("STORED AS PARQUET", {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"},
                          "native"),
    "zt_parquet_millis": ("STORED AS PARQUET", {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MILLIS"},
                          "native"),
    "zt_parquet_legacy": ("STORED AS PARQUET", {**_LEGACY, "spark.sql.parquet.outputTimestampType": "INT96"},
                          "native"),
    "zt_parquet_legacy_micros": ("STORED AS PARQUET",
                                 {**_LEGACY, "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}, "native"),
    "zt_orc": ("STORED AS ORC", {}, "native"),
    "zt_parquet_serde": ("STORED AS PARQUET", {"spark.sql.hive.convertMetastoreParquet": "false"}, "serde"),
    "zt_orc_serde": ("STORED AS ORC", {"spark.sql.hive.convertMetastoreOrc": "false"}, "serde"),
}
ZONE_SPARK_BASE = {"spark.sql.parquet.outputTimestampType": "INT96",
                   "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
                   "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
                   "spark.sql.hive.convertMetastoreParquet": "true",
                   "spark.sql.hive.convertMetastoreOrc": "true"}

# pyarrow's tables: name -> (format, unit, zone-aware, INT96, store_schema).
ZONE_ARROW_TABLES = {}
for _u in ["s", "ms", "us", "ns"]:
    ZONE_ARROW_TABLES[f"za_int96_{_u}_schema"] = ("parquet", _u, False, True, True)
    ZONE_ARROW_TABLES[f"za_int96_{_u}_noschema"] = ("parquet", _u, False, True, False)
for _u in ["ms", "us"]:
    ZONE_ARROW_TABLES[f"za_int96_tz_{_u}"] = ("parquet", _u, True, True, True)
for _u in ["ms", "us", "ns"]:
    ZONE_ARROW_TABLES[f"za_int64_{_u}"] = ("parquet", _u, False, False, True)
    ZONE_ARROW_TABLES[f"za_int64_tz_{_u}"] = ("parquet", _u, True, False, True)
# Impala's INT96 (a wall clock, no Arrow schema): pyarrow's file with Impala's created_by.
ZONE_ARROW_TABLES["za_impala_int96"] = ("parquet", "us", False, True, False)
ZONE_ARROW_TABLES["za_orc_naive"] = ("orc", "us", False, False, False)
ZONE_ARROW_TABLES["za_orc_tz"] = ("orc", "us", True, False, False)
# Every table of a zone corpus, in the order the tests take them.
ZONE_TABLES = list(ZONE_SPARK_TABLES) + list(ZONE_ARROW_TABLES)

_PER = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def zone_dir(out, zone):
    return os.path.join(out, "zones", zone.replace("/", "_"))


def log(*args):
    print(*args, flush=True)


def zone_session(zdir, zone):
    """Spark in `zone`: the JVM's default zone (TZ and -Duser.timezone) and the session's.
    Read rebase modes stay Spark's defaults; the write modes are the UTC corpus's."""
    from pyspark.sql import SparkSession
    b = (SparkSession.builder.master("local[2]").appName(f"chama-corpus-{zone}")
         .config("spark.sql.warehouse.dir", os.path.join(zdir, "warehouse"))
         .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                 f"jdbc:derby:;databaseName={os.path.join(zdir, 'metastore_db')};create=true")
         .config("spark.driver.extraJavaOptions", f"-Duser.timezone={zone} -Dderby.system.home={zdir}")
         .config("spark.sql.session.timeZone", zone)
         .config("spark.sql.shuffle.partitions", "1")
         .config("spark.default.parallelism", "1")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false"))
    for k, v in ZONE_SPARK_BASE.items():
        b = b.config(k, v)
    return b.enableHiveSupport().getOrCreate()


def hive_text(wall):
    """A wall clock string in Hive's text form: the fraction without trailing zeros, none when zero."""
    if wall is None or "." not in wall:
        return wall
    head, frac = wall.split(".")
    frac = frac.rstrip("0")
    return f"{head}.{frac}" if frac else head


def civil(days):
    """(year, month, day) of a day count since 1970-01-01, proleptic Gregorian, any year (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def fmt_wall(v, unit):
    """A count of `unit`s since 1970-01-01 00:00 (proleptic Gregorian) as Hive's text writes the wall clock."""
    secs, frac = divmod(v, _PER[unit])
    days, sod = divmod(secs, 86400)
    y, m, d = civil(days)
    s = f"{y:04d}-{m:02d}-{d:02d} {sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}"
    if frac:
        s += "." + str(frac).rjust(len(str(_PER[unit])) - 1, "0").rstrip("0")
    return s


def fmt_days(v):
    return "%04d-%02d-%02d" % civil(v)


def utc_offset_seconds(secs, zi):
    """The zone's offset at the instant `secs` (seconds since the epoch), by Python's zoneinfo. Instants
    past Python's years 1-9999 take the offset of the nearest day inside them (no transition is that close)."""
    import datetime as dt
    lo, hi = -62135596800 + 86400, 253402300799 - 86400
    utc = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=min(max(secs, lo), hi))
    off = zi.fromutc(utc.replace(tzinfo=zi)).utcoffset()
    return int(off.total_seconds())


def wall_of_instant(v, unit, zi):
    per = _PER[unit]
    return fmt_wall(v + utc_offset_seconds(v // per, zi) * per, unit)


def wall_micros(wall):
    """The wall clock as microseconds since 1970-01-01 00:00, proleptic Gregorian, no zone."""
    import datetime as dt
    return (dt.datetime.fromisoformat(wall) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def zone_offsets(wall, zi):
    """(offset with fold=0, offset with fold=1) in microseconds; fold 0 < fold 1 marks a skipped wall clock."""
    import datetime as dt
    t = dt.datetime.fromisoformat(wall)
    return tuple(t.replace(tzinfo=zi, fold=f).utcoffset() // dt.timedelta(microseconds=1) for f in (0, 1))


def rows_diff(label, rows, want, base="the literal written", limit=None):
    """Log where `rows` (what a reader gave) differ from `want` (`base`); returns how many values do."""
    by_id = {r[0]: r for r in rows}
    lines = []
    for w in sorted(want, key=lambda r: int(r[0])):
        r = by_id.get(w[0])
        if r is None:
            lines.append(f"    id {w[0]}: missing (ts={w[2]!r} d={w[3]!r})")
            continue
        for c, i in (("ts", 2), ("d", 3)):
            if r[i] != w[i]:
                lines.append(f"    id {w[0]} {c}: {w[i]!r} -> {r[i]!r}")
    for i in sorted(set(by_id) - {w[0] for w in want}, key=int):
        lines.append(f"    id {i}: not in {base}: {by_id[i]!r}")
    if lines:
        log(f"  {label}: {len(lines)} value(s) differ from {base}:")
        for line in lines[:limit]:
            log(line)
        if limit is not None and len(lines) > limit:
            log(f"    ... and {len(lines) - limit} more")
    else:
        log(f"  {label}: every value as {base} ({len(want)} rows)")
    return len(lines)


def why(e):
    """The cause of a Spark error, in one line."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    causes = [x for x in lines if ("Exception:" in x or "Error:" in x) and not x.startswith("at ")]
    return (causes[-1] if causes else lines[0] if lines else repr(e))[:220]


# ORC's tail (postscript, footer, stripe footers) read directly: pyarrow does not show the
# stripes' writer time zone nor the footer's calendar.
ORC_KINDS = ["BOOLEAN", "BYTE", "SHORT", "INT", "LONG", "FLOAT", "DOUBLE", "STRING", "BINARY", "TIMESTAMP",
             "LIST", "MAP", "STRUCT", "UNION", "DECIMAL", "DATE", "VARCHAR", "CHAR", "TIMESTAMP_INSTANT"]
ORC_WRITERS = ["ORC_JAVA", "ORC_CPP", "PRESTO", "SCRITCHLEY_GO", "TRINO", "CUDF"]
ORC_CALENDARS = ["UNKNOWN_CALENDAR", "JULIAN_GREGORIAN", "PROLEPTIC_GREGORIAN"]


def _varint(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def _pb_fields(b):
    """A protobuf message as [(field number, value)]: varints as int, length-delimited as bytes."""
    i, out = 0, []
    while i < len(b):
        key, i = _varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {w}")
        out.append((f, v))
    return out


def _orc_inflate(data, codec):
    if codec == 0:
        return data
    import zlib
    import pyarrow as pa
    out, i = bytearray(), 0
    while i < len(data):
        h = data[i] | data[i + 1] << 8 | data[i + 2] << 16
        n, i = h >> 1, i + 3
        chunk, i = data[i:i + n], i + n
        if h & 1:
            out += chunk
        elif codec == 1:
            out += zlib.decompress(chunk, -15)
        elif codec == 2:
            size, _ = _varint(chunk, 0)
            out += pa.Codec("snappy").decompress(chunk, decompressed_size=size).to_pybytes()
        elif codec == 5:
            import zstandard
            out += zstandard.ZstdDecompressor().decompressobj().decompress(chunk)
        else:
            raise ValueError(f"ORC compression kind {codec}")
    return bytes(out)


def orc_tail(path):
    """What an ORC file says of its writer: writer, software version, calendar, user metadata,
    the stripes' writer time zones and the `ts` column's type."""
    data = open(path, "rb").read()
    ps_len = data[-1]
    ps = dict(_pb_fields(data[-1 - ps_len:-1]))
    codec = ps.get(2, 0)
    footer = _pb_fields(_orc_inflate(data[-1 - ps_len - ps[1]:-1 - ps_len], codec))
    types = [_pb_fields(v) for f, v in footer if f == 4]
    root = types[0]
    subtypes = []
    for f, v in root:
        if f == 2:
            if isinstance(v, int):
                subtypes.append(v)
            else:
                j = 0
                while j < len(v):
                    x, j = _varint(v, j)
                    subtypes.append(x)
    names = [v.decode() for f, v in root if f == 3]
    kinds = {n: ORC_KINDS[dict(types[t]).get(1, 0)] for n, t in zip(names, subtypes)}
    zones = []
    for f, v in footer:
        if f == 3:
            s = dict(_pb_fields(v))
            off = s.get(1, 0) + s.get(2, 0) + s.get(3, 0)
            sf = _pb_fields(_orc_inflate(data[off:off + s.get(4, 0)], codec))
            zones.append(next((z.decode() for g, z in sf if g == 3), None))
    fd = dict(footer)
    meta = {}
    for f, v in footer:
        if f == 5:
            item = dict(_pb_fields(v))
            meta[item.get(1, b"").decode()] = item.get(2, b"").decode(errors="replace")
    return {
        "compression": ["NONE", "ZLIB", "SNAPPY", "LZO", "LZ4", "ZSTD"][codec],
        "writer": ORC_WRITERS[fd[9]] if 9 in fd and fd[9] < len(ORC_WRITERS) else fd.get(9),
        "writer_version": ps.get(6),
        "software_version": fd[12].decode() if 12 in fd else None,
        "calendar": ORC_CALENDARS[fd.get(11, 0)],
        "user_metadata": meta,
        "stripe_writer_time_zones": sorted(set(zones), key=str),
        "ts_type": kinds.get("ts"),
    }


def parquet_tail(path):
    """What a Parquet file says of its writer: created_by, key-value metadata, the `ts` column's types."""
    import pyarrow.parquet as pq
    md = pq.ParquetFile(path).metadata
    kv = {k.decode(): v.decode(errors="replace") for k, v in (md.metadata or {}).items()}
    col = next(md.schema.column(i) for i in range(md.num_columns) if md.schema.column(i).name == "ts")
    return {
        "created_by": md.created_by,
        "format_version": md.format_version,
        "key_value": {k: (v if len(v) <= 60 else v[:57] + "...") for k, v in kv.items()},
        "ts_physical_type": col.physical_type,
        "ts_logical_type": str(col.logical_type),
    }


def data_files(zdir, table, hour):
    base = os.path.join(zdir, "warehouse", table, f"dt={DATE_ISO}", f"hour={hour}")
    return sorted(f for f in glob.glob(os.path.join(base, "**", "*"), recursive=True)
                  if os.path.isfile(f) and not any(p.startswith(("_", "."))
                                                   for p in os.path.relpath(f, base).split(os.sep)))


def write_oracle(zdir, table, hour, rows):
    d = os.path.join(zdir, "oracle")
    os.makedirs(d, exist_ok=True)
    rows = sorted(rows, key=lambda r: int(r[0]))
    with open(os.path.join(d, f"{table}.{hour}.json"), "w") as fo:
        json.dump({"columns": ZONE_COLUMNS, "rows": rows}, fo, ensure_ascii=False)


def arrow_table_rows(table, zone):
    """The rows of a pyarrow table as written: (id, prov, ts value in the unit or None, days or None),
    and the wall clocks dropped (with why)."""
    import datetime as dt
    from zoneinfo import ZoneInfo
    fmt, unit, aware, _, _ = ZONE_ARROW_TABLES[table]
    zi = ZoneInfo(zone)
    per = _PER[unit]
    rows, dropped = [], []
    for i, prov, wall, d in ZONE_ROWS:
        v = None
        if wall is not None:
            us = wall_micros(wall)
            if aware:
                off0, off1 = zone_offsets(wall, zi)
                if off0 < off1:
                    dropped.append((i, wall, "no such wall clock in the zone"))
                    continue
                us -= off0  # a repeated wall clock: its first time (fold=0)
            v = us * per // 10**6  # floor: s and ms keep what the unit holds
            if (unit == "ns" or fmt == "orc") and not -2**63 <= us * 1000 < 2**63:
                dropped.append((i, wall, "outside nanoseconds' 1677-09-21..2262-04-11"))
                continue
        days = None if d is None else (dt.date.fromisoformat(d) - dt.date(1970, 1, 1)).days
        rows.append((i, prov, v, days))
    return rows, dropped


def write_arrow_tables(zdir, zone):
    import pyarrow as pa
    import pyarrow.orc as po
    import pyarrow.parquet as pq
    for table, (fmt, unit, aware, int96, store_schema) in ZONE_ARROW_TABLES.items():
        rows, dropped = arrow_table_rows(table, zone)
        for reason in sorted({r for _, _, r in dropped}):
            log(f"  {table}: left out ({reason}): "
                + ", ".join(f"{i} ({wall})" for i, wall, r in dropped if r == reason))
        t = pa.table({
            "id": pa.array([r[0] for r in rows], pa.int32()),
            "prov": pa.array([r[1] for r in rows], pa.string()),
            "ts": pa.array([r[2] for r in rows], pa.timestamp(unit, tz=zone if aware else None)),
            "d": pa.array([r[3] for r in rows], pa.date32()),
        })
        for hour in HOURS:
            d = os.path.join(zdir, "warehouse", table, f"dt={DATE_ISO}", f"hour={hour}")
            os.makedirs(d, exist_ok=True)
            if fmt == "orc":
                po.write_table(t, os.path.join(d, "part-00000.orc"))
            else:
                f = os.path.join(d, "part-00000.parquet")
                pq.write_table(t, f, use_deprecated_int96_timestamps=int96, store_schema=store_schema)
                if table.startswith("za_impala"):
                    as_impala(f)


def as_impala(path):
    """The file as if Impala wrote it: its footer's created_by replaced by Impala's, in as many bytes
    (so the Thrift footer stays valid)."""
    import pyarrow.parquet as pq
    old = pq.ParquetFile(path).metadata.created_by.encode()
    new = b"impala version 4.1.0-RELEASE (build 0123456789abcdef)"[:len(old)].ljust(len(old), b" ")
    b = open(path, "rb").read()
    at = b.rindex(old)
    with open(path, "wb") as fo:
        fo.write(b[:at] + new + b[at + len(old):])
    assert pq.ParquetFile(path).metadata.created_by.startswith("impala"), path


def arrow_oracle(zdir, zone, table, hour):
    """The rows as pyarrow reads them back. INT96 is read in the unit written: pyarrow's default
    (nanoseconds) silently wraps every INT96 value outside 1677-2262."""
    import pyarrow as pa
    import pyarrow.orc as po
    import pyarrow.parquet as pq
    from zoneinfo import ZoneInfo
    fmt, unit, _, int96, _ = ZONE_ARROW_TABLES[table]
    zi = ZoneInfo(zone)
    out = []
    for f in data_files(zdir, table, hour):
        if fmt == "orc":
            t = po.read_table(f)
            tz = t.schema.field("ts").type.tz
        else:
            t = pq.read_table(f, coerce_int96_timestamp_unit=unit if int96 else None)
            tz = t.schema.field("ts").type.tz
            # pyarrow reads INT96 without the zone its stored schema names (the UTC clock, naive):
            # the oracle takes the stored schema's word, as pyarrow does for INT64.
            stored = (pq.ParquetFile(f).metadata.metadata or {}).get(b"ARROW:schema")
            if stored is not None and tz is None:
                tz = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored))).field("ts").type.tz
        ts = t.column("ts")
        ttype = ts.type
        ints = ts.cast(pa.int64()).to_pylist()
        days = t.column("d").cast(pa.int32()).to_pylist()
        for i, p, v, d in zip(t.column("id").to_pylist(), t.column("prov").to_pylist(), ints, days):
            if v is None:
                w = None
            elif tz is None:
                w = fmt_wall(v, ttype.unit)
            else:
                w = wall_of_instant(v, ttype.unit, zi)
            out.append([str(i), p, w, None if d is None else fmt_days(d)])
    return out


def written_rows(table=None, zone=None):
    """What each table was given, as text: the literals for Spark's tables, the values kept for pyarrow's."""
    if table in ZONE_ARROW_TABLES:
        from zoneinfo import ZoneInfo
        _, unit, aware, _, _ = ZONE_ARROW_TABLES[table]
        rows, _ = arrow_table_rows(table, zone)
        zi = ZoneInfo(zone)
        return [[str(i), p, None if v is None else (wall_of_instant(v, unit, zi) if aware else fmt_wall(v, unit)),
                 None if d is None else fmt_days(d)] for i, p, v, d in rows]
    return [[str(i), p, hive_text(w), d] for i, p, w, d in ZONE_ROWS]


def zone_main(zone, out):
    """Writes OUT/zones/<zone>/: warehouse, metastore, oracle/<table>.<hour>.json, metadata.json."""
    t0 = time.time()
    zdir = zone_dir(out, zone)
    if os.path.exists(zdir):
        shutil.rmtree(zdir)
    os.makedirs(zdir)
    log(f"== zone corpus {zone} in {zdir} (TZ={os.environ.get('TZ')})")
    spark = zone_session(zdir, zone)
    spark.sparkContext.setLogLevel("ERROR")
    sql = spark.sql
    t_jvm = time.time()
    log(f"  JVM and session up in {t_jvm - t0:.1f}s; JVM default zone "
        f"{spark.sparkContext._jvm.java.util.TimeZone.getDefault().getID()}, session zone "
        f"{spark.conf.get('spark.sql.session.timeZone')}; read rebase modes: "
        + ", ".join(f"{k}={spark.conf.get('spark.sql.parquet.' + k)}"
                    for k in ["int96RebaseModeInRead", "datetimeRebaseModeInRead"]))

    def lit(v, kind):
        return f"CAST(NULL AS {kind})" if v is None else f"{kind} '{v}'"
    values = ", ".join(f"({i}, '{p}', {lit(ts, 'TIMESTAMP')}, {lit(d, 'DATE')})" for i, p, ts, d in ZONE_ROWS)
    sql(f"CREATE OR REPLACE TEMPORARY VIEW zrows AS SELECT * FROM VALUES {values} AS v(id, prov, ts, d)")
    sql("CREATE OR REPLACE TEMPORARY VIEW zhours AS SELECT * FROM VALUES ('20'), ('21') AS h(hour)")
    cols = "`id` INT, `prov` STRING, `ts` TIMESTAMP, `d` DATE"
    part = "PARTITIONED BY (dt STRING, hour STRING)"

    def settings(conf):
        for k, v in {**ZONE_SPARK_BASE, **conf}.items():
            sql(f"SET {k}={v}")

    def insert(table, where="TRUE"):
        sql(f"INSERT OVERWRITE TABLE {table} PARTITION (dt='{DATE_ISO}', hour) "
            f"SELECT id, prov, ts, d, hour FROM zrows CROSS JOIN zhours WHERE {where}")

    left_out = {}
    for table, (store, conf, _) in ZONE_SPARK_TABLES.items():
        sql(f"CREATE TABLE {table} ({cols}) {part} {store}")
        settings(conf)
        try:
            insert(table)
        except Exception as e:  # find the rows this writer refuses, and write the others
            log(f"  {table}: the insert failed ({why(e)}); trying row by row")
            bad = []
            for i, _, ts, _ in ZONE_ROWS:
                try:
                    sql(f"INSERT OVERWRITE TABLE {table} PARTITION (dt='probe', hour) "
                        f"SELECT id, prov, ts, d, hour FROM zrows CROSS JOIN zhours WHERE id = {i}")
                except Exception as e2:
                    bad.append(i)
                    log(f"  {table}: cannot write row {i} ({ts}), left out of this table: {why(e2)}")
            sql(f"ALTER TABLE {table} DROP IF EXISTS PARTITION (dt='probe')")
            left_out[table] = bad
            insert(table, f"id NOT IN ({', '.join(map(str, bad))})" if bad else "TRUE")
    settings({})
    t_spark = time.time()
    log(f"  Spark's {len(ZONE_SPARK_TABLES)} tables written in {t_spark - t_jvm:.1f}s")
    write_arrow_tables(zdir, zone)
    for d in glob.glob(os.path.join(zdir, "warehouse", "*", "dt=*", "hour=*")):
        open(os.path.join(d, "_SUCCESS"), "wb").close()
    t_arrow = time.time()
    log(f"  pyarrow's {len(ZONE_ARROW_TABLES)} tables written in {t_arrow - t_spark:.1f}s")

    # What each file says of its writer.
    metadata = {}
    for table in ZONE_TABLES:
        f = data_files(zdir, table, HOURS[0])[0]
        metadata[table] = ({"format": "text"} if table == "zt_text" else orc_tail(f) if "orc" in table
                           else parquet_tail(f))
    for table, m in metadata.items():
        if "orc" in table:
            log(f"  {table}: ORC writer {m['writer']} (writer version {m['writer_version']}, software "
                f"{m['software_version']}), {m['compression']}, calendar {m['calendar']}, stripes' writer time zone "
                f"{m['stripe_writer_time_zones']}, ts {m['ts_type']}, user metadata {m['user_metadata']}")
        elif "created_by" in m:
            log(f"  {table}: Parquet created_by {m['created_by']!r}, ts {m['ts_physical_type']} "
                f"{m['ts_logical_type']}, key-value {m['key_value']}")
    with open(os.path.join(zdir, "metadata.json"), "w") as fo:
        json.dump({"zone": zone, "tables": metadata, "left_out": left_out}, fo, indent=1)
    spark_sers = [t for t, m in metadata.items() if t.startswith("zt_parquet") and t != "zt_parquet_serde"]
    for t in spark_sers:
        assert any(k.startswith("org.apache.spark") for k in metadata[t]["key_value"]), (t, "no Spark metadata")
    assert not any(k.startswith("org.apache.spark") for k in metadata["zt_parquet_serde"]["key_value"]), \
        "zt_parquet_serde was written by Spark's writer, not Hive's"

    # The oracles: each table read by its writer's own reader, in this zone.
    def spark_read(table, reader, hours=HOURS, conf=None):
        settings({"spark.sql.hive.convertMetastoreParquet": str(reader == "native").lower(),
                  "spark.sql.hive.convertMetastoreOrc": str(reader == "native").lower(), **(conf or {})})
        try:
            got = sql(f"SELECT hour, CAST(id AS STRING), prov, CAST(ts AS STRING), CAST(d AS STRING) FROM {table} "
                      f"WHERE dt='{DATE_ISO}' AND hour IN ({', '.join(repr(h) for h in hours)}) "
                      f"ORDER BY hour, id").collect()
        finally:
            for k in (conf or {}):
                sql(f"RESET {k}")
            settings({})
        return {h: [list(r)[1:] for r in got if r[0] == h] for h in hours}

    log("  the oracle against the literals written (hour 20; 21 is the same rows):")
    oracles = {}
    for table, (_, _, reader) in ZONE_SPARK_TABLES.items():
        by_hour = spark_read(table, reader)
        for hour in HOURS:
            write_oracle(zdir, table, hour, by_hour[hour])
        oracles[table] = by_hour[HOURS[0]]
        written = [w for w in written_rows() if int(w[0]) not in left_out.get(table, [])]
        rows_diff(f"{table} (Spark, {'Hive SerDe' if reader == 'serde' else 'native'} reader)",
                  by_hour[HOURS[0]], written)
    for table in ZONE_ARROW_TABLES:
        for hour in HOURS:
            rows = arrow_oracle(zdir, zone, table, hour)
            write_oracle(zdir, table, hour, rows)
        oracles[table] = arrow_oracle(zdir, zone, table, HOURS[0])
        if table.startswith("za_int96_tz"):
            log(f"  {table}: pyarrow's read_table gives INT96 naive, as UTC clocks, whatever zone its stored "
                "schema names; the oracle shows them in that zone")
        rows_diff(f"{table} (pyarrow)", oracles[table], written_rows(table, zone))
    for legacy, plain in [("zt_parquet_legacy", "zt_parquet_int96"), ("zt_parquet_legacy_micros", "zt_parquet_micros")]:
        rows_diff(f"{legacy} (LEGACY rebase) against {plain}", oracles[legacy], oracles[plain], f"{plain}'s oracle")
    t_oracle = time.time()
    log(f"  oracles written in {t_oracle - t_arrow:.1f}s")

    # Where the other reader differs: Spark's native reader on Hive's files, Hive's SerDe on Spark's,
    # Spark's native reader on pyarrow's. For the log only.
    log("  the other readers, against the oracle (hour 20):")
    spark.sparkContext.setLogLevel("OFF")  # their failures are logged here, in a line each
    modes = {m: {f"spark.sql.parquet.{k}": m for k in ["int96RebaseModeInRead", "datetimeRebaseModeInRead"]}
             for m in ["CORRECTED", "LEGACY"]}
    for table, (_, _, reader) in ZONE_SPARK_TABLES.items():
        if table == "zt_text":
            continue
        other = "serde" if reader == "native" else "native"
        label = f"{table} read by {'Hive SerDe' if other == 'serde' else 'Spark native reader'}"
        # Hive's Parquet files carry no rebase marker: Spark's native reader takes its read mode's word.
        attempts = [None, "LEGACY"] if table == "zt_parquet_serde" else [None]
        for mode in attempts:
            tag = label + ("" if mode is None else f" (rebase mode {mode})")
            try:
                rows = spark_read(table, other, [HOURS[0]], modes.get(mode))[HOURS[0]]
                rows_diff(tag, rows, oracles[table], "the oracle", limit=8)
            except Exception as e:
                log(f"  {tag}: fails: {why(e)}")
    for table, (fmt, *_rest) in ZONE_ARROW_TABLES.items():
        path = os.path.dirname(data_files(zdir, table, HOURS[0])[0])
        try:
            got = (spark.read.format(fmt).load(path)
                   .selectExpr("CAST(id AS STRING)", "prov", "CAST(ts AS STRING)", "CAST(d AS STRING)")
                   .orderBy("id").collect())
            rows_diff(f"{table} read by Spark native reader", [list(r) for r in got], oracles[table],
                      "the oracle", limit=4)
        except Exception as e:
            log(f"  {table} read by Spark native reader: fails: {why(e)}")
    t_diag = time.time()
    log(f"  other readers compared in {t_diag - t_oracle:.1f}s")
    spark.stop()
    log(f"== zone corpus {zone}: {time.time() - t0:.1f}s (JVM {t_jvm - t0:.1f}, Spark writes {t_spark - t_jvm:.1f}, "
        f"pyarrow {t_arrow - t_spark:.1f}, oracles {t_oracle - t_arrow:.1f}, other readers {t_diag - t_oracle:.1f})")


def stop_jvm(spark):
    """Stops Spark and its JVM (pyspark keeps the gateway's JVM until Python exits), so that one JVM runs at a time."""
    from pyspark import SparkContext
    gateway = SparkContext._gateway
    spark.stop()
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        proc.stdin.close()
        proc.wait(timeout=120)
    SparkContext._gateway = None
    SparkContext._jvm = None


def zone_corpora(out):
    """Each zone in its own process: the JVM's zone is fixed when it starts."""
    import subprocess
    for zone in ZONES:
        t = time.time()
        subprocess.run([sys.executable, os.path.abspath(__file__), "--zone", zone, out],
                       env={**os.environ, "TZ": zone}, check=True)
        log(f"zone {zone}: {time.time() - t:.1f}s")


if __name__ == "__main__":
    if sys.argv[1] == "--zone":
        zone_main(sys.argv[2], os.path.abspath(sys.argv[3]))
    else:
        main()
