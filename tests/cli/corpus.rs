//! Files written by a real writer: the Hive tables `scripts/spark_corpus.py`
//! has Spark write (text in every Hadoop codec, Parquet in every codec and
//! timestamp type, ORC in every codec, a UNION ALL layout with leftovers to
//! skip, and the shipped specs' layouts). Every hour builds, and the same
//! rows give the same bytes whatever the format, codec or layout.
//!
//! `scripts/test.sh` makes the corpus (cached) and sets
//! `CHAMA_TEST_SPARK_CORPUS`; without it these tests say so and pass, unless
//! `CHAMA_REQUIRE_SPARK_CORPUS=1`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::harness::{env_or_skip, names_in, repo_root, Workdir};

fn corpus() -> Option<PathBuf> {
    env_or_skip(
        "CHAMA_TEST_SPARK_CORPUS",
        |dir| Path::new(dir).join("DONE").exists(),
        "CHAMA_REQUIRE_SPARK_CORPUS",
        "CHAMA_TEST_SPARK_CORPUS names no finished corpus",
    )
    .map(PathBuf::from)
}

const EDGE_COLUMNS: &str = r#"["id", "prov", "s", "ts", "d", "dbl", "flt", "dec_wide", "dec_small", "dec_mid", "b", "ti", "si", "bi", "tags", "attrs", "pt"]"#;

/// A spec over one of the corpus's edge tables.
fn edge_spec(name: &str, table: &str) -> String {
    let (format, escape) = match table {
        t if t.contains("parquet") => ("parquet", ""),
        t if t.contains("orc") => ("orc", ""),
        _ => ("text", "escape = \"\\\\\"\n"),
    };
    format!(
        r#"name = "{name}"
[input]
path = "{table}/dt={{date_iso}}/hour={{hour}}"
format = "{format}"
{escape}ready_marker = "_SUCCESS"
columns = {EDGE_COLUMNS}
[transform]
sql = 'SELECT * FROM input'
[clean]
strip = ["\r", "\n"]
[output]
null = "\\N"
lines_per_file = 4
split_by = "prov"
file_name = "e_{{date}}_{{split}}_{{seq}}.dat.gz"
verf_name = "e_{{date}}_{{split}}.verf"
"#
    )
}

/// A work directory whose source is the corpus's warehouse.
fn workdir(corpus: &Path, tag: &str) -> Workdir {
    let w = Workdir::new(tag);
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/warehouse\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
            corpus.display()
        ),
    );
    w
}

/// Builds both corpus hours of `iface`; returns every data file (hour/name -> bytes).
fn build(w: &Workdir, iface: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for hh in ["20", "21"] {
        w.run_fixed(&["build", "--iface", iface, "--period", &format!("20241212{hh}")])
            .expect_code(0)
            .stderr_has(" 0 rejected");
        let dir = w.join(format!("var/hourly/{iface}/20241212/{hh}"));
        for name in names_in(&dir).into_iter().filter(|n| n.ends_with(".dat.gz")) {
            out.insert(format!("{hh}/{name}"), fs::read(dir.join(&name)).unwrap());
        }
    }
    assert!(!out.is_empty(), "{iface}: files built");
    out
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(b).read_to_string(&mut s).unwrap();
    s
}

/// Every line of a build, sorted: the rows whatever their order.
fn sorted_lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut v: Vec<String> = files
        .values()
        .flat_map(|b| gunzip(b).lines().map(String::from).collect::<Vec<_>>())
        .collect();
    v.sort();
    v
}

#[test]
fn every_edge_table_builds_the_same_bytes_whatever_the_format_codec_or_layout() {
    let Some(corpus) = corpus() else { return };
    let tables: Vec<String> = names_in(&corpus.join("warehouse"))
        .into_iter()
        .filter(|t| t.starts_with("edges_"))
        .collect();
    assert!(tables.len() >= 24, "{tables:?}");
    let w = workdir(&corpus, "corpus-edges");
    let reference = {
        w.create("interfaces/REF.toml", edge_spec("REF", "edges_text_none"));
        build(&w, "REF")
    };
    let lines = sorted_lines(&reference);
    // The edges, as Hive's text format writes them, after [clean] strips CR and LF.
    for want in [
        "1|100|plain|2024-12-12 20:55:40.123456|2024-12-12|1.0E-5|1.1|12345678901234567890123456.0123456789|1.50|-0.0001|true|-128|32767|9223372036854775807|a\u{2}b|k1\u{3}1|1\u{2}p",
        "2|200|中文标题😀|9999-12-31 23:59:59|9999-12-31|100.0|-0.5|-99999999999999999999999999.9999999999|0.00|12345678901234.5678|false|127|-32768|-9223372036854775808|||\\N\u{2}\\N",
        "3|200||0001-01-01 00:00:00|0001-01-01|1.0E10|3.4028235E38|0.0000000000|-7.25|0.0000|\\N|0|0|0|x\u{2}\\N\u{2}|a\u{3}\\N|\\N",
        "5|250|\\N|2024-12-12 20:00:00.1|1970-01-01|-0.0|1.0E-10|0.0000000001|0.01|1.0000|true|1|1|1|中文|中\u{3}0|-1\u{2}",
        "6|250|a\u{1}b|cde\tf\\g|1969-12-31 23:59:58.999999|1969-12-31|1.0E-300|100.0|-1.0000000000|9999999.99|-99999999999999.9999|false|-1|-1|-1|p\u{2}q|z\u{3}-5|7\u{2}y",
        "11|250|inf|2024-12-12 20:00:00.5|2024-12-12|Infinity|1.4E-45|1.0000000000|1.00|1.0000|true|4|4|4|r|m\u{3}2|5\u{2}w",
    ] {
        assert_eq!(lines.iter().filter(|l| *l == want).count(), 2, "{want} once in each hour");
    }
    assert_eq!(lines.len(), 22, "11 rows in each of two hours");

    for table in &tables {
        let iface: String = table.replace('_', "").to_uppercase();
        w.create(format!("interfaces/{iface}.toml"), edge_spec(&iface, table));
        let got = build(&w, &iface);
        match table.as_str() {
            // The branches of a UNION ALL land in other files: the same rows, in another order.
            "edges_union" => assert_eq!(sorted_lines(&got), lines, "{table}"),
            // Milliseconds hold less than the text's microseconds: only the fractions differ.
            "edges_parquet_millis" => {
                let got = sorted_lines(&got);
                assert_eq!(got.len(), lines.len());
                assert!(got.iter().any(|l| l.contains("|2024-12-12 20:55:40.123|")), "{got:?}");
                assert!(got.iter().any(|l| l.contains("|9999-12-31 23:59:59|")));
                assert!(got.iter().any(|l| l.contains("|0001-01-01 00:00:00|")));
            }
            _ => assert!(got == reference, "{table}: other bytes than the plain text table's"),
        }
    }
}

/// Spark's TIMESTAMP_NTZ (a bigint of microseconds with a type attribute in
/// ORC) comes out as the same wall clock as the TIMESTAMP of the same rows.
#[test]
fn spark_timestamp_ntz_reads_as_the_same_wall_clock() {
    let Some(corpus) = corpus() else { return };
    let w = workdir(&corpus, "corpus-ntz");
    let spec = |name: &str, path: &str, format: &str, extra: &str| {
        format!(
            "name = \"{name}\"\n[input]\npath = \"{path}/dt={{date_iso}}/hour={{hour}}\"\nformat = \"{format}\"\n{extra}\n[transform]\nsql = 'SELECT id, prov, ts FROM input'\n[output]\nnull = \"\\\\N\"\nlines_per_file = 100\nfile_name = \"n_{{date}}_{{seq}}.dat.gz\"\nverf_name = \"n_{{date}}.verf\"\n"
        )
    };
    w.create(
        "interfaces/TS.toml",
        spec(
            "TS",
            "edges_text_none",
            "text",
            &format!("escape = \"\\\\\"\ncolumns = {EDGE_COLUMNS}"),
        ),
    );
    let want = sorted_lines(&build(&w, "TS"));
    assert!(want.contains(&"2|200|9999-12-31 23:59:59".to_string()), "{want:?}");
    assert!(want.contains(&"3|200|0001-01-01 00:00:00".to_string()));
    for fmt in ["parquet", "orc"] {
        let iface = format!("NTZ{}", fmt.to_uppercase());
        w.create(
            format!("interfaces/{iface}.toml"),
            spec(&iface, &format!("ntz_{fmt}"), fmt, ""),
        );
        assert_eq!(sorted_lines(&build(&w, &iface)), want, "{fmt}");
    }
}

/// The shipped specs over their layouts as text, Parquet and ORC tables of
/// the same rows: every hour builds, and all three give the same bytes.
#[test]
fn the_shipped_specs_build_the_same_bytes_from_text_parquet_and_orc() {
    let Some(corpus) = corpus() else { return };
    let w = workdir(&corpus, "corpus-specs");
    for spec_name in names_in(&repo_root().join("interfaces")) {
        let path = repo_root().join("interfaces").join(spec_name);
        let spec = fs::read_to_string(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let table = if spec.contains("\"mc_ev\"") { "t51006" } else { "t51007" };
        let path_line = spec.lines().find(|l| l.starts_with("path = ")).unwrap();
        let mut built = Vec::new();
        for fmt in ["text", "parquet", "orc"] {
            let iface = format!("{name}{}", fmt.to_uppercase());
            let format_line = match fmt {
                // The corpus's text tables escape as Hive does with ESCAPED BY '\\'.
                "text" => "format = \"text\"\nescape = \"\\\\\"".to_string(),
                f => format!("format = \"{f}\""),
            };
            let adapted = spec
                .replace(&format!("name = \"{name}\""), &format!("name = \"{iface}\""))
                .replace(
                    path_line,
                    &format!("path = \"{table}_{fmt}/dt={{date_iso}}/hour={{hour}}\""),
                )
                .replace("format = \"text\"", &format_line)
                .replace("destinations = [\"outbox\"]", "destinations = []");
            w.create(format!("interfaces/{iface}.toml"), adapted);
            built.push(build(&w, &iface));
        }
        let names = |m: &BTreeMap<String, Vec<u8>>| m.values().cloned().collect::<Vec<_>>();
        assert!(
            names(&built[0]) == names(&built[1]),
            "{name}: Parquet gives other bytes than text"
        );
        assert!(
            names(&built[0]) == names(&built[2]),
            "{name}: ORC gives other bytes than text"
        );
    }
}
