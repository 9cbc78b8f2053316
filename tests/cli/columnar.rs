//! Parquet and ORC input: every codec, every type Hive, Spark and Impala
//! write, each value as Hive's text format writes it. Files are written here
//! with the Rust writers; `corpus.rs` checks files written by Spark itself.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::*;
use arrow_schema::{DataType, Field};

use crate::harness::{gunzip, Workdir};

fn spec(format: &str, extra: &str) -> String {
    format!(
        r#"name = "C1"
[input]
path = "c1/dt={{date_iso}}/hour={{hour}}"
format = "{format}"
max_bad_rows = 1
{extra}
[transform]
sql = 'SELECT * FROM input'
[output]
null = "\\N"
file_name = "c_{{date}}_{{seq}}.dat.gz"
verf_name = "c_{{date}}.verf"
"#
    )
}

struct Fixture {
    w: Workdir,
}

impl Fixture {
    fn new(name: &str, spec: &str) -> Fixture {
        Fixture {
            w: Workdir::local(name, &[("C1", spec)]),
        }
    }

    fn hour(&self, files: &[(&str, Vec<u8>)]) {
        for (name, data) in files {
            self.w.create(format!("dumps/c1/dt=2024-12-12/hour=05/{name}"), data);
        }
    }

    fn build(&self) -> crate::harness::Run {
        self.w.run_fixed(&["build", "--iface", "C1", "--period", "2024121205"])
    }

    fn out(&self) -> PathBuf {
        self.w.join("var/hourly/C1/20241212/05/c_20241212_0001.dat.gz")
    }

    /// The built file, gunzipped, as text.
    fn lines(&self) -> String {
        String::from_utf8(gunzip(&self.out())).unwrap()
    }

    fn rejects(&self) -> String {
        let p = self.w.join("var/rejects/C1/20241212/05.rej.gz");
        String::from_utf8(gunzip(&p)).unwrap()
    }
}

fn ts_secs(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap()
        .and_utc()
        .timestamp()
}

fn days(y: i32, mo: u32, d: u32) -> i32 {
    (ts_secs(y, mo, d, 0, 0, 0) / 86_400) as i32
}

/// Three rows of every type: the last has a binary value that is not UTF-8.
fn typed_batch() -> RecordBatch {
    let mut list = ListBuilder::new(StringBuilder::new());
    list.values().append_value("a");
    list.values().append_null();
    list.append(true);
    list.append(true);
    list.values().append_value("z");
    list.append(true);
    let mut map = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    map.keys().append_value("k");
    map.values().append_value(1);
    map.append(true).unwrap();
    map.append(true).unwrap();
    map.append(false).unwrap();
    let pt = StructArray::from(vec![
        (
            Arc::new(Field::new("x", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("y", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("p"), None, Some("中")])) as ArrayRef,
        ),
    ]);
    let ms = |y, mo, d, h, mi, s, ms: i64| ts_secs(y, mo, d, h, mi, s) * 1000 + ms;
    let us = |y, mo, d, h, mi, s, us: i64| ts_secs(y, mo, d, h, mi, s) * 1_000_000 + us;
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("dbl", Arc::new(Float64Array::from(vec![1e-5, 100.0, 1e10]))),
        ("flt", Arc::new(Float32Array::from(vec![1.1f32, f32::NAN, -0.5]))),
        ("b", Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]))),
        ("ti", Arc::new(Int8Array::from(vec![-128i8, 127, 0]))),
        ("bi", Arc::new(Int64Array::from(vec![i64::MAX, i64::MIN, 0]))),
        ("ub", Arc::new(UInt64Array::from(vec![u64::MAX, 0, 1]))),
        (
            "d",
            Arc::new(Date32Array::from(vec![
                days(9999, 12, 31),
                days(1, 1, 1),
                days(1970, 1, 1),
            ])),
        ),
        (
            "ts_ms",
            Arc::new(
                TimestampMillisecondArray::from(vec![ms(9999, 12, 31, 23, 59, 59, 999), ms(1, 1, 1, 0, 0, 0, 0), 0])
                    .with_timezone("UTC"),
            ),
        ),
        (
            "ts_us",
            Arc::new(TimestampMicrosecondArray::from(vec![
                us(9999, 12, 31, 23, 59, 59, 999_999),
                us(1969, 12, 31, 23, 59, 59, 999_999),
                us(2024, 12, 12, 20, 55, 40, 123_456),
            ])),
        ),
        (
            "ts_ns",
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(ts_secs(2024, 12, 12, 20, 55, 40) * 1_000_000_000 + 1),
                None,
                Some(0),
            ])),
        ),
        (
            "dec_small",
            Arc::new(
                Decimal128Array::from(vec![150, 0, -725])
                    .with_precision_and_scale(9, 2)
                    .unwrap(),
            ),
        ),
        (
            "dec_mid",
            Arc::new(
                Decimal128Array::from(vec![-1, 0, 123_456_789_012_345_678])
                    .with_precision_and_scale(18, 4)
                    .unwrap(),
            ),
        ),
        (
            "dec_wide",
            Arc::new(
                Decimal128Array::from(vec![123_456_789_012_345_678_901_234_560_123_456_789i128, 0, -1])
                    .with_precision_and_scale(38, 10)
                    .unwrap(),
            ),
        ),
        (
            "bin",
            Arc::new(BinaryArray::from(vec![
                "中文".as_bytes(),
                b"ok".as_slice(),
                [0xffu8, 0xfe].as_slice(),
            ])),
        ),
        (
            "dict",
            Arc::new(DictionaryArray::<Int32Type>::from_iter(["a", "b", "a"])),
        ),
        ("nothing", Arc::new(NullArray::new(3))),
        ("tags", Arc::new(list.finish())),
        ("attrs", Arc::new(map.finish())),
        ("pt", Arc::new(pt)),
    ];
    RecordBatch::try_from_iter(cols).unwrap()
}

const TYPED_ROWS: &str = concat!(
    "1.0E-5|1.1|true|-128|9223372036854775807|18446744073709551615|9999-12-31|9999-12-31 23:59:59.999|",
    "9999-12-31 23:59:59.999999|2024-12-12 20:55:40.000000001|1.50|-0.0001|",
    "12345678901234567890123456.0123456789|中文|a|\\N|a\u{2}\\N|k\u{3}1|1\u{2}p\n",
    "100.0|NaN|false|127|-9223372036854775808|0|0001-01-01|0001-01-01 00:00:00|",
    "1969-12-31 23:59:59.999999|\\N|0.00|0.0000|0.0000000000|ok|b|\\N|||\\N\u{2}\\N\n",
);

fn parquet(batch: &RecordBatch, compression: parquet::basic::Compression) -> Vec<u8> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(compression)
        .build();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    out
}

#[test]
fn parquet_types_come_out_as_hive_text_writes_them() {
    let fx = Fixture::new("parquet-types", &spec("parquet", ""));
    let batch = typed_batch();
    fx.hour(&[(
        "part-00000.parquet",
        parquet(&batch, parquet::basic::Compression::SNAPPY),
    )]);
    fx.build()
        .expect_code(0)
        .stderr_has("3 rows in, 2 out, 0 filtered, 1 rejected");
    assert_eq!(fx.lines(), TYPED_ROWS);
    let rejects = fx.rejects();
    assert!(
        rejects.starts_with("part-00000.parquet\t3\tcolumn bin: a binary value that is not UTF-8 (invalid byte at 0)"),
        "{rejects}"
    );
    // With no rejects tolerated, the same file fails the hour with exit 4.
    let strict = Fixture::new(
        "parquet-types-strict",
        &spec("parquet", "").replace("max_bad_rows = 1", ""),
    );
    strict.hour(&[(
        "part-00000.parquet",
        parquet(&batch, parquet::basic::Compression::SNAPPY),
    )]);
    strict.build().expect_code(4).stderr_has("1 rows rejected");
}

#[test]
fn parquet_every_codec_gives_the_same_bytes() {
    use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
    let batch = typed_batch();
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::ZSTD(ZstdLevel::default()),
        Compression::LZ4,
        Compression::LZ4_RAW,
        Compression::BROTLI(BrotliLevel::default()),
    ];
    same_bytes_for_each(&codecs, TYPED_ROWS, |codec| {
        let fx = Fixture::new("parquet-codec", &spec("parquet", ""));
        fx.hour(&[("part-00000.parquet", parquet(&batch, *codec))]);
        fx.build().expect_code(0);
        fx
    });
}

/// Each of `codecs` written and built (`build`): the same output bytes as the first
/// (uncompressed), whose lines are `rows`. Those bytes.
fn same_bytes_for_each<C: std::fmt::Debug>(codecs: &[C], rows: &str, build: impl Fn(&C) -> Fixture) -> Vec<u8> {
    let mut reference: Option<Vec<u8>> = None;
    for codec in codecs {
        let fx = build(codec);
        let got = fs::read(fx.out()).unwrap();
        match &reference {
            None => {
                assert_eq!(fx.lines(), rows, "{codec:?}");
                reference = Some(got);
            }
            Some(r) => assert_eq!(&got, r, "{codec:?}: the same bytes as uncompressed"),
        }
    }
    reference.expect("a codec at least")
}

/// A Parquet file as Hive, Spark and Impala write timestamps by default:
/// INT96 (Julian day and nanoseconds of the day), with an id column.
fn int96_file(values: &[Option<(i64, i64)>]) -> Vec<u8> {
    use parquet::data_type::{Int32Type, Int96, Int96Type};
    use parquet::file::writer::SerializedFileWriter;
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type("message hive { required int32 id; optional int96 ts; }").unwrap(),
    );
    let mut out = Vec::new();
    let mut w = SerializedFileWriter::new(&mut out, schema, Default::default()).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let ids: Vec<i32> = (1..=values.len() as i32).collect();
    col.typed::<Int32Type>().write_batch(&ids, None, None).unwrap();
    col.close().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let present: Vec<Int96> = values
        .iter()
        .flatten()
        .map(|(day, nanos)| {
            let mut v = Int96::new();
            v.set_data(*nanos as u32, (*nanos >> 32) as u32, *day as u32);
            v
        })
        .collect();
    let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
    col.typed::<Int96Type>()
        .write_batch(&present, Some(&defs), None)
        .unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
    out
}

#[test]
fn int96_timestamps_are_exact_from_year_1_to_9999() {
    // Julian day numbers: 1970-01-01 is 2440588.
    let jd = |y, m, d| i64::from(days(y, m, d)) + 2_440_588;
    let nod = |h: i64, mi: i64, s: i64, n: i64| ((h * 60 + mi) * 60 + s) * 1_000_000_000 + n;
    let values = [
        Some((jd(9999, 12, 31), nod(23, 59, 59, 123_456_789))),
        Some((jd(9999, 12, 31), nod(23, 59, 59, 0))),
        Some((jd(1, 1, 1), 0)),
        Some((jd(2024, 12, 12), nod(20, 55, 40, 123_456_000))),
        None,
        Some((jd(1969, 12, 31), nod(23, 59, 59, 999_999_999))),
    ];
    let fx = Fixture::new("int96", &spec("parquet", ""));
    fx.hour(&[("000000_0", int96_file(&values))]);
    fx.build().expect_code(0).stderr_has("6 rows in, 6 out");
    assert_eq!(
        fx.lines(),
        "1|9999-12-31 23:59:59.123456789\n2|9999-12-31 23:59:59\n3|0001-01-01 00:00:00\n\
         4|2024-12-12 20:55:40.123456\n5|\\N\n6|1969-12-31 23:59:59.999999999\n"
    );
}

fn orc(batch: &RecordBatch, compression: Option<orc_rust::compression::CompressionType>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = orc_rust::ArrowWriterBuilder::new(&mut out, batch.schema());
    if let Some(c) = compression {
        b = b.with_compression(c);
    }
    let mut w = b.try_build().unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    out
}

/// What the Rust ORC writer can write: the scalar types.
fn orc_batch(names: &[&str]) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1, 2, 3])),
        Arc::new(StringArray::from(vec![Some("中文"), None, Some("")])),
        Arc::new(Float64Array::from(vec![1e-5, 100.0, f64::INFINITY])),
        Arc::new(Float32Array::from(vec![1.1f32, 3.402_823_5e38, 1e-45])),
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        Arc::new(Date32Array::from(vec![
            days(9999, 12, 31),
            days(1, 1, 1),
            days(1582, 10, 4),
        ])),
        Arc::new(TimestampSecondArray::from(vec![
            ts_secs(9999, 12, 31, 23, 59, 59),
            ts_secs(1, 1, 1, 0, 0, 0),
            ts_secs(2024, 12, 12, 20, 55, 40),
        ])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            0,
            ts_secs(2024, 12, 12, 20, 55, 40) * 1_000_000 + 123_456,
            -1_000_001,
        ])),
    ];
    RecordBatch::try_from_iter(names.iter().copied().zip(cols)).unwrap()
}

const ORC_ROWS: &str = concat!(
    "1|中文|1.0E-5|1.1|true|9999-12-31|9999-12-31 23:59:59|1970-01-01 00:00:00\n",
    "2|\\N|100.0|3.4028235E38|\\N|0001-01-01|0001-01-01 00:00:00|2024-12-12 20:55:40.123456\n",
    "3||Infinity|1.4E-45|false|1582-10-04|2024-12-12 20:55:40|1969-12-31 23:59:58.999999\n",
);

#[test]
fn orc_every_codec_gives_the_same_bytes_and_old_hive_names_go_by_position() {
    use orc_rust::compression::CompressionType;
    let names = ["id", "s", "dbl", "flt", "b", "d", "ts", "ts_us"];
    let columns = "columns = [\"id\", \"s\", \"dbl\", \"flt\", \"b\", \"d\", \"ts\", \"ts_us\"]";
    let batch = orc_batch(&names);
    let codecs = [
        None,
        Some(CompressionType::Zlib),
        Some(CompressionType::Snappy),
        Some(CompressionType::Zstd),
        Some(CompressionType::Lz4),
    ];
    let reference = same_bytes_for_each(&codecs, ORC_ROWS, |codec| {
        let fx = Fixture::new("orc-codec", &spec("orc", columns));
        fx.hour(&[("000000_0", orc(&batch, *codec))]);
        fx.build().expect_code(0).stderr_has("3 rows in, 3 out");
        fx
    });
    // Old Hive writes ORC columns as _col0, _col1, ...: matched to the spec's columns by position.
    let positional: Vec<String> = (0..names.len()).map(|i| format!("_col{i}")).collect();
    let positional: Vec<&str> = positional.iter().map(String::as_str).collect();
    let fx = Fixture::new("orc-positional", &spec("orc", columns));
    fx.hour(&[("000000_0", orc(&orc_batch(&positional), Some(CompressionType::Zlib)))]);
    fx.build().expect_code(0);
    assert_eq!(fs::read(fx.out()).unwrap(), reference);
    // A spec whose columns the file lacks: exit 4 naming the file and the column.
    let fx = Fixture::new("orc-missing", &spec("orc", "columns = [\"id\", \"nosuch\"]"));
    fx.hour(&[("000000_0", orc(&batch, None))]);
    fx.build().expect_code(4).stderr_has("000000_0: has no column `nosuch`");
}

#[test]
fn spec_try_prints_parquet_and_orc_rows_before_encoding() {
    let fx = Fixture::new("try-columnar", &spec("orc", ""));
    let names = ["id", "s", "dbl", "flt", "b", "d", "ts", "ts_us"];
    let file = fx.w.create("x.orc", orc(&orc_batch(&names), None));
    let r =
        fx.w.run(&["spec", "try", "C1", "--input", file.to_str().unwrap(), "--limit", "2"]);
    r.expect_code(0)
        .stderr_has("2 rows in, 2 out")
        .stdout_has("id\ts\tdbl\tflt\tb\td\tts\tts_us\n1\t中文\t1.0E-5\t1.1\ttrue\t9999-12-31\t9999-12-31 23:59:59\t1970-01-01 00:00:00\n2\t\\N\t");
}

#[test]
fn declared_types_are_checked_by_spec_check_and_against_every_file() {
    // spec check refuses, by line, a type chama cannot write and a type that is not Hive's.
    let bad = spec(
        "parquet",
        "[input.types]\nts = \"timestamp\"\nu = \"uniontype<int,string>\"\nraw = \"binary\"\nx = \"strng\"",
    );
    let fx = Fixture::new("types-bad", &bad);
    fx.w.run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("interfaces/C1.toml:8: column `u` has type `uniontype<int,string>`, which chama cannot read: uniontype has no text form")
        .stderr_has("column `raw` has type `binary`, which chama cannot read: binary has no text form chama writes")
        .stderr_has("column `x` has type `strng`, which chama cannot read: `strng` is not a Hive type");
    let text = spec("text", "columns = [\"a\"]\n[input.types]\na = \"int\"");
    Fixture::new("types-text", &text)
        .w
        .run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("`types` applies to Parquet and ORC input");

    // Declared as the file holds them: builds. Declared otherwise: exit 4 naming the column.
    let batch = typed_batch();
    let ok = spec(
        "parquet",
        "[input.types]\ndbl = \"double\"\nts_ms = \"timestamp\"\ndec_small = \"decimal(9,2)\"\ntags = \"array<string>\"\nattrs = \"map<string,int>\"\npt = \"struct<x:int,y:string>\"\nbin = \"string\"\nnothing = \"bigint\"",
    );
    let fx = Fixture::new("types-ok", &ok);
    fx.w.run(&["spec", "check"]).expect_code(0);
    fx.hour(&[(
        "part-00000.parquet",
        parquet(&batch, parquet::basic::Compression::SNAPPY),
    )]);
    fx.build().expect_code(0);
    assert_eq!(fx.lines(), TYPED_ROWS);
    for (decl, holds) in [
        (
            "dec_small = \"decimal(9,3)\"",
            "column `dec_small` is declared `decimal(9,3)` in [input] types but holds Decimal128(9, 2)",
        ),
        (
            "dbl = \"string\"",
            "column `dbl` is declared `string` in [input] types but holds Float64",
        ),
        (
            "gone = \"int\"",
            "has no column `gone` (declared `int` in [input] types)",
        ),
    ] {
        let fx = Fixture::new("types-drift", &spec("parquet", &format!("[input.types]\n{decl}")));
        fx.hour(&[(
            "part-00000.parquet",
            parquet(&batch, parquet::basic::Compression::SNAPPY),
        )]);
        fx.build().expect_code(4).stderr_has(holds);
    }
}

#[test]
fn sample_reads_parquet_and_orc_hours_from_raw() {
    let names = ["id", "s", "dbl", "flt", "b", "d", "ts", "ts_us"];
    let columns = "columns = [\"id\", \"s\", \"dbl\", \"flt\", \"b\", \"d\", \"ts\", \"ts_us\"]";
    let fx = Fixture::new("sample-orc", &spec("orc", columns));
    fx.hour(&[("000000_0", orc(&orc_batch(&names), None))]);
    fx.w.run(&[
        "sample",
        "--iface",
        "C1",
        "--period",
        "2024121205",
        "--where",
        "d = '0001-01-01' OR b = 'true'",
        "--columns",
        "id,ts",
    ])
    .expect_code(0)
    .stdout_has("id\tts\n1\t9999-12-31 23:59:59\n2\t0001-01-01 00:00:00\n");
    // Without columns a Parquet spec cannot be sampled: said, exit 2.
    let fx = Fixture::new("sample-nocols", &spec("parquet", ""));
    fx.hour(&[(
        "part-00000.parquet",
        parquet(&typed_batch(), parquet::basic::Compression::SNAPPY),
    )]);
    fx.w.run(&["sample", "--iface", "C1", "--period", "2024121205"])
        .expect_code(2)
        .stderr_has("names no [input] columns");
}

#[test]
fn time_zone_moves_instants_and_leaves_wall_clocks() {
    // INT96 and adjusted timestamps are instants: shown in Shanghai, 8 hours on; the others are not moved.
    let zone = "time_zone = \"Asia/Shanghai\"\nmax_bad_rows = 2";
    let fx = Fixture::new(
        "tz-parquet",
        &spec("parquet", zone).replacen("max_bad_rows = 1\n", "", 1),
    );
    let batch = RecordBatch::try_from_iter(vec![
        (
            "adjusted",
            Arc::new(
                TimestampMillisecondArray::from(vec![
                    ts_secs(2024, 12, 12, 20, 0, 0) * 1000 + 5,
                    ts_secs(9999, 12, 31, 23, 0, 0) * 1000,
                ])
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
        (
            "local",
            Arc::new(TimestampMicrosecondArray::from(vec![
                ts_secs(2024, 12, 12, 20, 0, 0) * 1_000_000,
                0,
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    fx.hour(&[(
        "part-00000.parquet",
        parquet(&batch, parquet::basic::Compression::SNAPPY),
    )]);
    fx.build()
        .expect_code(0)
        .stderr_has("2 rows in, 1 out, 0 filtered, 1 rejected");
    assert_eq!(fx.lines(), "2024-12-13 04:00:00.005|2024-12-12 20:00:00\n");
    assert!(
        fx.rejects()
            .contains("column adjusted: timestamp 253402326000 s is outside Hive's years 0001 to 9999"),
        "9999-12-31 23:00 UTC is in the year 10000 in Shanghai: rejected, never written otherwise: {}",
        fx.rejects()
    );
    let jd = i64::from(days(2024, 12, 12)) + 2_440_588;
    let fx = Fixture::new("tz-int96", &spec("parquet", "time_zone = \"Asia/Shanghai\""));
    fx.hour(&[("000000_0", int96_file(&[Some((jd, 20 * 3_600_000_000_000))]))]);
    fx.build().expect_code(0);
    assert_eq!(fx.lines(), "1|2024-12-13 04:00:00\n");
    // A zone that does not exist, or on a text spec: spec check says so.
    let fx = Fixture::new("tz-bad", &spec("parquet", "time_zone = \"Asia/Beijing\""));
    fx.w.run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("time_zone `Asia/Beijing` is not an IANA time zone");
    let fx = Fixture::new("tz-text", &spec("text", "columns = [\"a\"]\ntime_zone = \"UTC\""));
    fx.w.run(&["spec", "check"])
        .expect_code(2)
        .stderr_has("`time_zone` applies to Parquet and ORC input");
}

#[test]
fn corrupt_and_truncated_orc_and_parquet_exit_4_naming_the_file() {
    let names = ["id", "s", "dbl", "flt", "b", "d", "ts", "ts_us"];
    let good = orc(&orc_batch(&names), Some(orc_rust::compression::CompressionType::Zlib));
    let mut corrupt = good.clone();
    // The first stripe's compressed streams: the reader's own decoder would panic on them.
    for b in &mut corrupt[3..40] {
        *b ^= 0x5a;
    }
    let truncated = good[..good.len() - 30].to_vec();
    for (what, body) in [("corrupt", corrupt), ("truncated", truncated)] {
        let fx = Fixture::new("orc-bad", &spec("orc", ""));
        fx.hour(&[("000000_0", body)]);
        fx.build()
            .expect_code(4)
            .stderr_has("000000_0: not a readable ORC file");
        assert!(!fx.out().exists(), "{what}: nothing built");
    }
    let good = parquet(&typed_batch(), parquet::basic::Compression::ZSTD(Default::default()));
    let mut corrupt = good.clone();
    for b in &mut corrupt[4..200] {
        *b ^= 0x5a;
    }
    let fx = Fixture::new("parquet-bad", &spec("parquet", ""));
    fx.hour(&[("part-00000.parquet", corrupt)]);
    fx.build()
        .expect_code(4)
        .stderr_has("part-00000.parquet: not a readable Parquet file");
}

#[test]
fn decimals_stored_as_byte_arrays_read_like_the_others() {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::writer::SerializedFileWriter;
    // Impala and old Hive write DECIMAL as a BYTE_ARRAY of big-endian two's complement.
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type("message m { optional binary dec (DECIMAL(10,2)); }").unwrap(),
    );
    let mut out = Vec::new();
    let mut w = SerializedFileWriter::new(&mut out, schema, Default::default()).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let values: Vec<ByteArray> = [150i64, -725, 0, 9_999_999_999]
        .iter()
        .map(|v| {
            let b = v.to_be_bytes();
            let skip = b.iter().take_while(|x| **x == 0 || **x == 0xff).count().min(6);
            ByteArray::from(b[skip..].to_vec())
        })
        .collect();
    col.typed::<ByteArrayType>()
        .write_batch(&values, Some(&[1, 1, 1, 1, 0]), None)
        .unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
    let fx = Fixture::new("decimal-binary", &spec("parquet", ""));
    fx.hour(&[("000000_0", out)]);
    fx.build().expect_code(0).stderr_has("5 rows in, 5 out");
    assert_eq!(fx.lines(), "1.50\n-7.25\n0.00\n99999999.99\n\\N\n");
}
