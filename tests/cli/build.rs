//! `chama build`: files, boundaries, `.verf`, manifest, rejects, and every
//! kind of bad input, checked as an operator would check them.

use std::fs;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde_json::Value;

use crate::harness::{gunzip, gzip, names_in, repo_root, Workdir};

/// A small spec: 4 input columns, split by province, 3 lines per file.
const SPEC: &str = r#"name = "T1"

[input]
path = "t1/dt={date_iso}/hour={hour}"
columns = ["id", "prov", "title", "et"]
ready_marker = "_SUCCESS"
max_bad_rows = 2

[transform]
sql = '''
SELECT id, prov, title, upper(et) AS et
FROM input
WHERE et <> 'imp'
'''

[clean]
strip = ["\t", "|"]

[output]
encoding = "gbk"
unmappable = "replace"
lines_per_file = 3
split_by = "prov"
file_name = "a_{date}_T1_{split}_{batch}_{seq}.dat.gz"
verf_name = "a_{date}_T1_{split}_{batch}.verf"
"#;

fn line(f: &[&str]) -> String {
    f.join("\u{1}") + "\n"
}

struct Fixture {
    w: Workdir,
}

impl Fixture {
    fn new(name: &str, spec: &str) -> Fixture {
        Fixture {
            w: Workdir::local(name, &[("T1", spec)]),
        }
    }

    fn hour_dir(&self, hh: &str) -> PathBuf {
        self.w.join(format!("dumps/t1/dt=2024-12-12/hour={hh}"))
    }

    /// Writes an hour's input files and its ready marker.
    fn hour(&self, hh: &str, files: &[(&str, Vec<u8>)]) {
        for (name, data) in files {
            self.w.create(self.hour_dir(hh).join(name), data);
        }
        self.w.create(self.hour_dir(hh).join("_SUCCESS"), "");
    }

    fn out(&self, hh: &str) -> PathBuf {
        self.w.join(format!("var/hourly/T1/20241212/{hh}"))
    }

    fn build(&self, period: &str) -> crate::harness::Run {
        self.w.run_fixed(&["build", "--iface", "T1", "--period", period])
    }
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// The names in a directory, sorted; none when it does not exist.
fn names(dir: &Path) -> Vec<String> {
    if dir.exists() {
        names_in(dir)
    } else {
        vec![]
    }
}

/// Nine rows: province 250 gets 7 (one filtered), 100 gets 2 (one with a stripped tab).
fn nine_rows() -> (String, String) {
    let a: String = [
        line(&["1", "250", "首页", "clk"]),
        line(&["2", "100", "我的\t页", "clk"]),
        line(&["3", "250", "a|b", "pageview"]),
        line(&["4", "250", "x", "imp"]),
        line(&["5", "250", "emoji😀", "clk"]),
    ]
    .concat();
    let b: String = [
        line(&["6", "250", "\\N", "clk"]),
        line(&["7", "100", "z", "clk"]),
        line(&["8", "250", "y", "clk"]),
        line(&["9", "250", "w", "clk"]),
    ]
    .concat();
    (a, b)
}

#[test]
fn build_cuts_exact_files_per_set_with_verf_and_manifest() {
    let fx = Fixture::new("build-sets", SPEC);
    let (a, b) = nine_rows();
    fx.hour(
        "03",
        &[("part-00000.gz", gzip(a.as_bytes())), ("part-00001", b.into_bytes())],
    );
    let r = fx.build("2024121203");
    r.expect_code(0)
        .stderr_has("9 rows in, 8 out, 1 filtered, 0 rejected; 2 set(s), 3 file(s)");
    let out = fx.out("03");
    assert_eq!(
        names(&out),
        [
            "a_20241212_T1_100_00.verf",
            "a_20241212_T1_100_00_0001.dat.gz",
            "a_20241212_T1_250_00.verf",
            "a_20241212_T1_250_00_0001.dat.gz",
            "a_20241212_T1_250_00_0002.dat.gz",
            "manifest.json"
        ]
    );
    // Input order within a set, exactly 3 lines per file but the last, GBK, cleaned, NULL as "".
    let f1 = out.join("a_20241212_T1_250_00_0001.dat.gz");
    assert_eq!(
        gunzip(&f1),
        gbk("1|250|首页|CLK\n3|250|ab|PAGEVIEW\n5|250|emoji?|CLK\n")
    );
    assert_eq!(
        gunzip(&out.join("a_20241212_T1_250_00_0002.dat.gz")),
        gbk("6|250||CLK\n8|250|y|CLK\n9|250|w|CLK\n")
    );
    assert_eq!(
        gunzip(&out.join("a_20241212_T1_100_00_0001.dat.gz")),
        gbk("2|100|我的页|CLK\n7|100|z|CLK\n")
    );

    // gzip itself accepts every file, as one member.
    let st = std::process::Command::new("gzip")
        .arg("-t")
        .args(
            names_in(&out)
                .into_iter()
                .filter(|n| n.ends_with(".gz"))
                .map(|n| out.join(n)),
        )
        .status()
        .unwrap();
    assert!(st.success(), "gzip -t");

    // .verf: one fixed-width CRLF line per file, in sequence order.
    let verf = fs::read_to_string(out.join("a_20241212_T1_250_00.verf")).unwrap();
    let lines: Vec<&str> = verf.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 2);
    let bytes = fs::read(&f1).unwrap();
    let md5: String = Md5::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let time = chrono::DateTime::from_timestamp(1_734_000_000, 0)
        .unwrap()
        .with_timezone(&chrono::Local)
        .format("%Y%m%d%H%M%S")
        .to_string();
    let want = format!(
        "{:<48}{:>20}{:>20}20241212{time}{md5}\r\n",
        "a_20241212_T1_250_00_0001.dat.gz",
        bytes.len(),
        3
    );
    assert_eq!(lines[0], want);
    assert_eq!(lines[0].len(), 48 + 20 + 20 + 8 + 14 + 32 + 2);
    assert!(lines[1].starts_with("a_20241212_T1_250_00_0002.dat.gz "));

    // manifest: inputs, balanced counts, sets and files.
    let m: Value = serde_json::from_slice(&fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["interface"], "T1");
    assert_eq!(m["period"], "2024121203");
    assert_eq!(m["inputs"][0]["name"], "part-00000.gz");
    assert_eq!(m["inputs"][1]["size"], nine_rows().1.len());
    let c = &m["counts"];
    assert_eq!(
        (
            c["rows_in"].as_u64(),
            c["rows_out"].as_u64(),
            c["filtered"].as_u64(),
            c["rejected"].as_u64()
        ),
        (Some(9), Some(8), Some(1), Some(0))
    );
    assert_eq!(
        (c["replaced_rows"].as_u64(), c["replaced_chars"].as_u64()),
        (Some(1), Some(1)),
        "the emoji became ?"
    );
    assert_eq!(m["sets"][1]["split"], "250");
    assert_eq!(m["sets"][1]["rows"], 6);
    assert_eq!(m["sets"][1]["files"][0]["md5"], md5.as_str());
    assert_eq!(m["sets"][1]["verf"], "a_20241212_T1_250_00.verf");
    assert!(m["spec_fingerprint"].as_str().unwrap().len() == 16);
}

#[test]
fn build_is_reproducible_and_replaces_an_old_set_only_when_the_new_one_is_complete() {
    let fx = Fixture::new("build-repro", SPEC);
    let (a, b) = nine_rows();
    fx.hour(
        "03",
        &[
            ("part-00000", a.clone().into_bytes()),
            ("part-00001", b.clone().into_bytes()),
        ],
    );
    fx.build("2024121203").expect_code(0);
    let first: Vec<(String, Vec<u8>)> = names(&fx.out("03"))
        .into_iter()
        .map(|n| (n.clone(), fs::read(fx.out("03").join(&n)).unwrap()))
        .collect();
    fx.build("2024121203").expect_code(0);
    for (n, bytes) in &first {
        if n != "manifest.json" {
            assert_eq!(
                &fs::read(fx.out("03").join(n)).unwrap(),
                bytes,
                "{n} differs after a rebuild"
            );
        }
    }
    // A rebuild that fails (3 broken lines > max_bad_rows = 2) leaves the old set whole.
    fx.hour(
        "03",
        &[(
            "part-00002",
            [line(&["x"]), line(&["y"]), line(&["z"])].concat().into_bytes(),
        )],
    );
    fx.build("2024121203")
        .expect_code(4)
        .stderr_has("3 rows rejected, more than max_bad_rows = 2");
    assert_eq!(
        names(&fx.out("03")),
        first.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
    );
    let day = fx.w.join("var/hourly/T1/20241212");
    assert_eq!(names(&day), ["03"], "no building directory is left behind");
}

#[test]
fn build_rejects_bad_lines_with_file_line_and_reason() {
    let fx = Fixture::new("build-rejects", SPEC);
    let mut data = line(&["1", "250", "ok", "clk"]).into_bytes();
    data.extend(line(&["2", "250", "too few"]).as_bytes());
    data.extend(b"3\x01250\x01bad \xff utf8\x01clk\n");
    data.extend(line(&["4", "\\N", "no province", "clk"]).as_bytes());
    fx.hour("05", &[("part-00000", data)]);
    fx.build("2024121205")
        .expect_code(4)
        .stderr_has("3 rows rejected, more than max_bad_rows = 2")
        .stderr_has("part-00000:2: 3 fields, expected 4");
    assert!(!fx.out("05").exists(), "no set is published past the tolerance");
    fx.w.assert_absent("var/rejects/T1/20241212/05.rej.gz", "rejects belong to a set");
    let rej = String::from_utf8_lossy(&gunzip(&fx.w.join("var/rejects/T1/20241212/05.failed.rej.gz"))).into_owned();
    let rows: Vec<&str> = rej.lines().collect();
    assert_eq!(rows.len(), 3, "{rej}");
    assert_eq!(rows[0], "part-00000\t2\t3 fields, expected 4\t2\u{1}250\u{1}too few");
    assert!(rows[1].starts_with("part-00000\t3\tinvalid UTF-8 in field 3 at byte 10\t"));
    assert!(rows[2].starts_with("part-00000\t4\tsplit_by column prov is NULL\t"));

    // Within the tolerance the set is built and the manifest adds up.
    let mut data = line(&["1", "250", "ok", "clk"]).into_bytes();
    data.extend(line(&["2", "250"]).as_bytes());
    fx.hour("05", &[("part-00000", data)]);
    fx.build("2024121205")
        .expect_code(0)
        .stderr_has("2 rows in, 1 out, 0 filtered, 1 rejected");
    let m: Value = serde_json::from_slice(&fs::read(fx.out("05").join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["counts"]["rejected"], 1);
}

#[test]
fn rejects_belong_to_their_set_and_a_failed_rebuild_keeps_the_old_ones() {
    let fx = Fixture::new("build-rejects-set", SPEC);
    let rejects = |name: &str| -> Vec<String> {
        let p = fx.w.join("var/rejects/T1/20241212").join(name);
        if !p.exists() {
            return Vec::new();
        }
        String::from_utf8_lossy(&gunzip(&p)).lines().map(String::from).collect()
    };
    let ok = line(&["1", "250", "ok", "clk"]);
    // One bad row: the hour is built, its rejects beside it.
    fx.hour(
        "05",
        &[("part-00000", format!("{ok}{}", line(&["2", "250"])).into_bytes())],
    );
    fx.build("2024121205").expect_code(0);
    let set = names(&fx.out("05"));
    assert_eq!(rejects("05.rej.gz").len(), 1);
    // Three: the rebuild fails; the old set and its rejects stay, the new ones are kept apart.
    let bad = [line(&["x"]), line(&["y"]), line(&["z"])].concat();
    fx.hour("05", &[("part-00000", format!("{ok}{bad}").into_bytes())]);
    fx.build("2024121205")
        .expect_code(4)
        .stderr_has("all of them are in ")
        .stderr_has("05.failed.rej.gz");
    assert_eq!(names(&fx.out("05")), set);
    assert_eq!(rejects("05.rej.gz").len(), 1, "the old set's rejects, as they were");
    assert_eq!(rejects("05.failed.rej.gz").len(), 3);
    // Clean input: the new set replaces the old with no rejects at all, and nothing failed is left.
    fx.hour("05", &[("part-00000", ok.into_bytes())]);
    fx.build("2024121205").expect_code(0);
    let left: Vec<String> = names(&fx.w.join("var/rejects/T1/20241212"));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_split_value_too_long_for_the_verf_is_a_rejected_row_not_a_failed_hour() {
    // `a_20241212_T1_<split>_00_0001.dat.gz`: 29 characters and the split value; 19 fit in 48.
    let fx = Fixture::new("build-long-split", SPEC);
    let (fits, long) = ("p".repeat(19), "p".repeat(20));
    let data = [
        line(&["1", "250", "ok", "clk"]),
        line(&["2", &fits, "just fits", "clk"]),
        line(&["3", &long, "one too many", "clk"]),
    ]
    .concat();
    fx.hour("07", &[("part-00000", data.into_bytes())]);
    fx.build("2024121207")
        .expect_code(0)
        .stderr_has("3 rows in, 2 out, 0 filtered, 1 rejected");
    assert!(fx
        .out("07")
        .join(format!("a_20241212_T1_{fits}_00_0001.dat.gz"))
        .exists());
    let rej = String::from_utf8_lossy(&gunzip(&fx.w.join("var/rejects/T1/20241212/07.rej.gz"))).into_owned();
    assert!(
        rej.starts_with(&format!(
            "part-00000\t3\tsplit_by column prov is `{long}`: a file name with it would be longer than the .verf's 48-character column\t"
        )),
        "{rej}"
    );
}

#[test]
fn build_unmappable_characters_fail_naming_file_line_column_and_character() {
    let fx = Fixture::new(
        "build-unmappable",
        &SPEC.replace("unmappable = \"replace\"", "unmappable = \"fail\""),
    );
    fx.hour(
        "06",
        &[(
            "part-00000",
            [line(&["1", "250", "fine", "clk"]), line(&["2", "250", "bad😀", "clk"])]
                .concat()
                .into_bytes(),
        )],
    );
    fx.build("2024121206").expect_code(4).stderr_has(
        "part-00000:2: column title: character '😀' (U+1F600) cannot be encoded in gbk (unmappable = \"fail\")",
    );
    assert!(!fx.out("06").exists());
    assert_eq!(
        names(&fx.w.join("var/hourly/T1/20241212")),
        Vec::<String>::new(),
        "nothing under a final name, no temp left"
    );
}

#[test]
fn build_waits_for_missing_unready_and_empty_hours_with_exit_3() {
    let fx = Fixture::new("build-notready", SPEC);
    fx.build("2024121207")
        .expect_code(3)
        .stderr_has("no input for this hour")
        .stderr_has("hour=07 does not exist");
    fx.w.create(fx.hour_dir("07").join("part-00000"), line(&["1", "250", "a", "clk"]));
    fx.build("2024121207")
        .expect_code(3)
        .stderr_has("hour not ready: no _SUCCESS in");
    fs::remove_file(fx.hour_dir("07").join("part-00000")).unwrap();
    fx.w.create(fx.hour_dir("07").join("_SUCCESS"), "");
    fx.build("2024121207")
        .expect_code(3)
        .stderr_has("hour is empty")
        .stderr_has("allow_empty = true");
}

#[test]
fn build_of_a_day_builds_the_hours_that_are_there_and_exits_with_the_worst_code() {
    let fx = Fixture::new("build-day", SPEC);
    for hh in 0..24 {
        if hh != 13 {
            fx.hour(
                &format!("{hh:02}"),
                &[("part-00000", line(&[&hh.to_string(), "250", "t", "clk"]).into_bytes())],
            );
        }
    }
    let r = fx.build("20241212");
    r.expect_code(3).stderr_has("T1 2024121213: no input for this hour");
    assert_eq!(names(&fx.w.join("var/hourly/T1/20241212")).len(), 23);

    let r =
        fx.w.run_fixed(&["build", "--iface", "T1", "--period", "20241212", "--json"]);
    let j = r.json();
    assert_eq!(j["code"], 3);
    assert_eq!(j["hours"].as_array().unwrap().len(), 24);
    assert_eq!(j["hours"][13]["code"], 3);
    assert_eq!(j["hours"][0]["rows_out"], 1);
}

#[test]
fn build_corrupt_and_truncated_gzip_exit_4_naming_the_file() {
    let fx = Fixture::new("build-corrupt", SPEC);
    let good = gzip(line(&["1", "250", "a", "clk"]).repeat(2000).as_bytes());
    let truncated = good[..good.len() / 2].to_vec();
    fx.hour("08", &[("part-00000.gz", truncated)]);
    fx.build("2024121208")
        .expect_code(4)
        .stderr_has("part-00000.gz: gzip data unreadable within its first")
        .stderr_has("whole line(s))");
    let mut corrupt = good.clone();
    for b in &mut corrupt[20..60] {
        *b ^= 0x5a;
    }
    fx.hour("08", &[("part-00000.gz", corrupt)]);
    fx.build("2024121208").expect_code(4).stderr_has("part-00000.gz");
    assert_eq!(names(&fx.w.join("var/hourly/T1/20241212")), Vec::<String>::new());
}

/// Hadoop's `BlockCompressorStream` framing of raw snappy blocks, one chunk per block.
fn hadoop_snappy(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for block in data.chunks(1000) {
        let z = snap::raw::Encoder::new().compress_vec(block).unwrap();
        out.extend_from_slice(&(block.len() as u32).to_be_bytes());
        out.extend_from_slice(&(z.len() as u32).to_be_bytes());
        out.extend_from_slice(&z);
    }
    out
}

#[test]
fn build_reads_every_hadoop_text_codec_and_refuses_what_it_cannot_decode() {
    use std::io::Write;
    let (a, b) = nine_rows();
    let text = format!("{a}{b}");
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    bz.write_all(text.as_bytes()).unwrap();
    let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zl.write_all(text.as_bytes()).unwrap();
    let mut padded = gzip(text.as_bytes());
    padded.extend([0u8; 512]);
    // The same nine rows in each codec Hadoop writes, named as Hadoop names them.
    let codecs: Vec<(&str, Vec<u8>)> = vec![
        ("000000_0", text.clone().into_bytes()),
        ("000000_0.gz", padded),
        ("000000_0.bz2", bz.finish().unwrap()),
        ("000000_0.deflate", zl.finish().unwrap()),
        ("000000_0.zst", zstd::encode_all(text.as_bytes(), 3).unwrap()),
        ("000000_0.snappy", hadoop_snappy(text.as_bytes())),
        ("000000_0.lz4", {
            let mut out = Vec::new();
            out.extend_from_slice(&(text.len() as u32).to_be_bytes());
            let z = lz4_flex::block::compress(text.as_bytes());
            out.extend_from_slice(&(z.len() as u32).to_be_bytes());
            out.extend_from_slice(&z);
            out
        }),
    ];
    let mut reference = None;
    for (i, (name, body)) in codecs.iter().enumerate() {
        let fx = Fixture::new(&format!("build-codec-{i}"), SPEC);
        fx.hour("03", &[(name, body.clone())]);
        fx.build("2024121203")
            .expect_code(0)
            .stderr_has("9 rows in, 8 out, 1 filtered, 0 rejected");
        let got: Vec<Vec<u8>> = names(&fx.out("03"))
            .iter()
            .filter(|n| n.ends_with(".dat.gz"))
            .map(|n| fs::read(fx.out("03").join(n)).unwrap())
            .collect();
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(&got, r, "{name}: the same bytes as from plain text"),
        }
    }

    // Compressed in a way chama cannot decode: exit 4 naming the codec, never read as text.
    for (name, body, codec) in [
        ("000000_0", b"\xfd7zXZ\x00\x00\x04junk".to_vec(), "xz"),
        ("000000_0.lzo_deflate", b"\x01\x02\x03".to_vec(), "lzo"),
        (
            "000000_0.gz",
            text.clone().into_bytes(),
            "named .gz but does not start like gzip data",
        ),
    ] {
        let fx = Fixture::new("build-codec-bad", SPEC);
        fx.hour("03", &[(name, body)]);
        fx.build("2024121203").expect_code(4).stderr_has(name).stderr_has(codec);
        assert!(!fx.out("03").exists(), "{name}: nothing built");
    }
    // A corrupt bzip2 file names its codec.
    let fx = Fixture::new("build-codec-corrupt", SPEC);
    let mut bz = codecs[2].1.clone();
    let n = bz.len();
    bz.truncate(n / 2);
    fx.hour("03", &[("000000_0.bz2", bz)]);
    fx.build("2024121203")
        .expect_code(4)
        .stderr_has("000000_0.bz2: bzip2 data unreadable within its first");
}

#[test]
fn build_sequence_past_seq_width_is_an_error_not_a_wrap() {
    let spec = SPEC
        .replace("lines_per_file = 3", "lines_per_file = 1")
        .replace("[output]\n", "[output]\nseq_width = 1\n");
    let fx = Fixture::new("build-seq", &spec);
    fx.hour(
        "09",
        &[("part-00000", line(&["1", "250", "a", "clk"]).repeat(10).into_bytes())],
    );
    fx.build("2024121209")
        .expect_code(4)
        .stderr_has("sequence 10 does not fit in seq_width = 1 digits");
    assert!(!fx.out("09").exists());
}

#[test]
fn build_dry_run_prints_files_and_verf_and_writes_nothing() {
    let fx = Fixture::new("build-dry", SPEC);
    let (a, b) = nine_rows();
    fx.hour("03", &[("part-00000", a.into_bytes()), ("part-00001", b.into_bytes())]);
    let r =
        fx.w.run_fixed(&["build", "--iface", "T1", "--period", "2024121203", "--dry-run"]);
    r.expect_code(0)
        .stdout_has("would write ")
        .stdout_has("a_20241212_T1_250_00_0002.dat.gz (3 rows, ")
        .stdout_has("a_20241212_T1_250_00.verf:");
    assert!(!fx.w.join("var").exists(), "a dry run writes nothing");
    // The dry run's .verf is the real one.
    fx.build("2024121203").expect_code(0);
    let verf = fs::read_to_string(fx.out("03").join("a_20241212_T1_250_00.verf")).unwrap();
    assert!(r.stdout().contains(&verf));
}

/// A small tmpfs as the work directory; unmounted when dropped.
struct SmallFs(PathBuf);

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn build_on_a_full_disk_exits_1_and_leaves_no_partial_file() {
    let fx = Fixture::new("build-full", SPEC);
    let mnt = fx.w.join("var");
    fs::create_dir_all(&mnt).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("mount");
    assert!(
        st.success(),
        "this test needs root to mount a small tmpfs (CI runs as root)"
    );
    let _guard = SmallFs(mnt.clone());
    // ~2 MB of incompressible text cannot fit in 64 KiB.
    let rows: String = (0..20_000)
        .map(|i| {
            line(&[
                &format!("{i}"),
                "250",
                &format!("{:x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                "clk",
            ])
        })
        .collect();
    fx.hour("10", &[("part-00000", rows.into_bytes())]);
    let r = fx.build("2024121210");
    r.expect_code(1).stderr_has("No space left on device");
    let day = mnt.join("hourly/T1/20241212");
    let left = names(&day);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn build_of_the_bundled_day_succeeds_from_the_default_layout() {
    let w = Workdir::new("build-bundled");
    let root = repo_root();
    w.create(
        "chama.toml",
        format!(
            "work_dir = \"var\"\ninterfaces_dir = \"{}/interfaces\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/testdata/dumps\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
            root.display(),
            root.display()
        ),
    );
    let r = w.run(&["build", "--iface", "CM001", "--period", "20241212"]);
    r.expect_code(0);
    let hours = names(&w.join("var/hourly/CM001/20241212"));
    assert_eq!(hours.len(), 24);
    let m: Value =
        serde_json::from_slice(&fs::read(w.join("var/hourly/CM001/20241212/00/manifest.json")).unwrap()).unwrap();
    let c = &m["counts"];
    assert_eq!(
        c["rows_in"].as_u64().unwrap(),
        c["rows_out"].as_u64().unwrap() + c["filtered"].as_u64().unwrap() + c["rejected"].as_u64().unwrap()
    );
    assert!(
        c["rejected"].as_u64().unwrap() > 0,
        "the bundled day has broken lines on purpose"
    );
    assert!(m["sets"].as_array().unwrap().len() >= 10, "one set per province");
}

/// A Parquet file of string columns `id, prov, title, et` plus an int64 `n`.
fn parquet_bytes(rows: &[[&str; 4]]) -> Vec<u8> {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let col = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| if r[i] == "\\N" { None } else { Some(r[i]) })
                .collect::<Vec<_>>(),
        ))
    };
    let n: ArrayRef = Arc::new(Int64Array::from(
        (0..rows.len() as i64).map(|i| i * 1000).collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_from_iter([
        ("ID", col(0)),
        ("prov", col(1)),
        ("title", col(2)),
        ("et", col(3)),
        ("n", n),
    ])
    .unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

const PARQUET_SPEC: &str = r#"name = "T1"

[input]
path = "t1/dt={date_iso}/hour={hour}"
format = "parquet"

[transform]
sql = '''
SELECT id, prov, title, concat(et, '-', n) AS et
FROM input
WHERE et <> 'imp'
'''

[output]
lines_per_file = 2
split_by = "prov"
file_name = "a_{date}_T1_{split}_{batch}_{seq}.dat.gz"
verf_name = "a_{date}_T1_{split}_{batch}.verf"
"#;

#[test]
fn build_reads_parquet_columns_by_name_with_integers_in_decimal() {
    let fx = Fixture::new("build-parquet", PARQUET_SPEC);
    let rows = [
        ["1", "250", "首页", "clk"],
        ["2", "250", "\\N", "imp"],
        ["3", "250", "x", "clk"],
        ["4", "100", "y", "pageview"],
        ["5", "250", "z", "clk"],
    ];
    fx.hour("11", &[("part-00000.parquet", parquet_bytes(&rows))]);
    fx.w.run(&["spec", "check"])
        .expect_code(0)
        .stdout_has("resolved at run time");
    fx.build("2024121211")
        .expect_code(0)
        .stderr_has("5 rows in, 4 out, 1 filtered, 0 rejected");
    let out = fx.out("11");
    assert_eq!(
        gunzip(&out.join("a_20241212_T1_250_00_0001.dat.gz")),
        "1|250|首页|clk-0\n3|250|x|clk-2000\n".as_bytes()
    );
    assert_eq!(
        gunzip(&out.join("a_20241212_T1_250_00_0002.dat.gz")),
        "5|250|z|clk-4000\n".as_bytes()
    );
    assert_eq!(
        gunzip(&out.join("a_20241212_T1_100_00_0001.dat.gz")),
        "4|100|y|pageview-3000\n".as_bytes()
    );
}

#[test]
fn build_truncated_parquet_and_missing_columns_exit_4_naming_the_file() {
    let fx = Fixture::new("build-parquet-bad", PARQUET_SPEC);
    let good = parquet_bytes(&[["1", "250", "a", "clk"]]);
    fx.hour("12", &[("part-00000.parquet", good[..good.len() - 20].to_vec())]);
    fx.build("2024121212")
        .expect_code(4)
        .stderr_has("part-00000.parquet: not a readable Parquet file");
    assert_eq!(names(&fx.w.join("var/hourly/T1/20241212")), Vec::<String>::new());

    // Columns named by the spec must be in the file.
    let spec = PARQUET_SPEC
        .replace(
            "format = \"parquet\"",
            "format = \"parquet\"\ncolumns = [\"id\", \"prov\", \"title\", \"et\", \"n\", \"extra\"]",
        )
        .replace("SELECT id,", "SELECT extra, id,");
    let fx = Fixture::new("build-parquet-col", &spec);
    fx.hour("12", &[("part-00000.parquet", good)]);
    fx.build("2024121212")
        .expect_code(4)
        .stderr_has("part-00000.parquet: has no column `extra`");
}

#[test]
fn build_of_an_allowed_empty_hour_writes_a_manifest_of_zeros_and_no_set() {
    for (name, spec) in [
        ("text", SPEC.to_string()),
        (
            "parquet",
            PARQUET_SPEC.replace(
                "format = \"parquet\"",
                "format = \"parquet\"\nready_marker = \"_SUCCESS\"",
            ),
        ),
    ] {
        let spec = spec.replace("[input]\n", "[input]\nallow_empty = true\n");
        let fx = Fixture::new(&format!("build-empty-{name}"), &spec);
        fx.w.create(fx.hour_dir("14").join("_SUCCESS"), "");
        fx.build("2024121214")
            .expect_code(0)
            .stderr_has("0 rows in, 0 out, 0 filtered, 0 rejected; 0 set(s), 0 file(s)");
        assert_eq!(names(&fx.out("14")), ["manifest.json"], "{name}");
        let m: Value = serde_json::from_slice(&fs::read(fx.out("14").join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["counts"]["rows_in"], 0);
        assert_eq!(m["sets"].as_array().unwrap().len(), 0);
        fx.w.run(&["pull", "--iface", "T1", "--period", "2024121214"])
            .expect_code(0)
            .stderr_has("0 file(s), 0 copied");
        assert!(
            fx.w.join("var/staging/T1/20241212/14/_SUCCESS").exists(),
            "{name}: the staged hour is ready"
        );
    }
}
