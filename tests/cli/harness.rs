//! One harness for every CLI test: a scratch directory, files in it (a
//! work directory with its chama.toml), and a `chama` run that reports
//! command, directory, status, stdout and stderr when an expectation fails,
//! and reads its `--json` summary; gzip both ways.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Workdir {
    dir: tempfile::TempDir,
}

/// The repository root, where `interfaces/` and `testdata/` live.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub desc: String,
    pub out: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }

    fn context(&self) -> String {
        format!(
            "{}\nstatus: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.desc,
            self.out.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts the exit code and returns self for more checks.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\n{}", self.context());
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.context()
        );
        self
    }

    /// The `--json` summary: the last line of stdout.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let last = self.stdout().lines().last().map(str::to_string).unwrap_or_default();
        serde_json::from_str(&last).unwrap_or_else(|e| panic!("no JSON summary ({e})\n{}", self.context()))
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.context()
        );
        self
    }
}

impl Workdir {
    pub fn new(name: &str) -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("chama-{name}-"))
            .tempdir()
            .expect("tempdir");
        Workdir { dir }
    }

    /// A work directory delivering the bundled test day (the repository's
    /// interfaces and `testdata/dumps`) from `var/` to a local `outbox/`.
    pub fn bundled(name: &str) -> Workdir {
        let w = Workdir::new(name);
        w.create("chama.toml", bundled_config());
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes a file (creating its directories) and returns its path.
    pub fn create(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::File::create(&p).unwrap().write_all(contents.as_ref()).unwrap();
        p
    }

    /// A `chama` command run in this directory, with no inherited config.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chama"));
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("CHAMA_CONFIG")
            .env_remove("CHAMA_QUEUE");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_cmd(self.command(args))
    }

    pub fn run_cmd(&self, mut cmd: Command) -> Run {
        let desc = format!("$ cd {} && {:?}", self.path().display(), cmd);
        let out = cmd.output().expect("running chama");
        Run { desc, out }
    }
}

/// A configuration reading the local source `dumps/` (beside it) into
/// `var/`, with a local destination `outbox`.
pub const LOCAL_CONFIG: &str = r#"work_dir = "var"
[sources.default]
kind = "local"
root = "dumps"
[destinations.outbox]
kind = "local"
root = "outbox"
"#;

/// A small spec `name` over two input columns, `id` and `v`, read from
/// `dumps/<name in lower case>/<YYYYMMDDHH>/` (with [`LOCAL_CONFIG`]) and
/// written as they are; `before_output` goes before `[output]` (a `[clean]`
/// section), `output` into it, `after` at the end (a `[delivery]` section).
pub fn id_v_spec(name: &str, before_output: &str, output: &str, after: &str) -> String {
    let n = name.to_lowercase();
    format!(
        "name = \"{name}\"\n[input]\npath = \"{n}/{{date}}{{hour}}\"\ncolumns = [\"id\", \"v\"]\n\
         [transform]\nsql = \"SELECT id, v FROM input\"\n{before_output}[output]\n{output}\
         file_name = \"{n}_{{date}}_{{batch}}_{{seq}}.dat.gz\"\nverf_name = \"{n}_{{date}}_{{batch}}.verf\"\n{after}"
    )
}

/// The configuration of [`Workdir::bundled`].
pub fn bundled_config() -> String {
    let root = repo_root();
    format!(
        "work_dir = \"var\"\ninterfaces_dir = \"{}/interfaces\"\n[sources.default]\nkind = \"local\"\nroot = \"{}/testdata/dumps\"\n[destinations.outbox]\nkind = \"local\"\nroot = \"outbox\"\n",
        root.display(),
        root.display()
    )
}

/// The decompressed bytes of a gzip file (all its members).
pub fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(
            fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        ),
        &mut out,
    )
    .unwrap();
    out
}

/// Gzip `data` as one member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
