//! One harness for every CLI test: a scratch directory, files in it (a
//! work directory with its chama.toml), and a `chama` run that reports
//! command, directory, status, stdout and stderr when an expectation fails,
//! and reads its `--json` summary; gzip both ways.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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
        self.has("stderr", &self.stderr(), needle)
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        self.has("stdout", &self.stdout(), needle)
    }

    #[track_caller]
    fn has(&self, stream: &str, text: &str, needle: &str) -> &Self {
        assert!(text.contains(needle), "{stream} lacks {needle:?}\n{}", self.context());
        self
    }

    /// The `--json` summary: the last line of stdout.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let last = self.stdout().lines().last().map(str::to_string).unwrap_or_default();
        serde_json::from_str(&last).unwrap_or_else(|e| panic!("no JSON summary ({e})\n{}", self.context()))
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

    /// A work directory with [`LOCAL_CONFIG`] and the interface specs
    /// `(name, spec)`, each as `interfaces/<name>.toml`.
    pub fn local(name: &str, specs: &[(&str, &str)]) -> Workdir {
        let w = Workdir::new(name);
        w.create("chama.toml", LOCAL_CONFIG);
        for (iface, spec) in specs {
            w.create(format!("interfaces/{iface}.toml"), spec);
        }
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
            .env_remove("CHAMA_QUEUE")
            .env_remove("KRB5CCNAME");
        // The test realm's Kerberos configuration, when scripts/krb.sh runs one.
        if let Ok(conf) = std::env::var("CHAMA_TEST_KRB5_CONFIG") {
            cmd.env("KRB5_CONFIG", conf);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_cmd(self.command(args))
    }

    /// Fails with `why` when `rel` (under this directory) exists, saying what is there.
    pub fn assert_absent(&self, rel: impl AsRef<Path>, why: &str) {
        let p = self.join(rel);
        if p.exists() {
            let there = if p.is_dir() {
                names_in(&p).join(", ")
            } else {
                "a file".into()
            };
            panic!("{why}: {} exists ({there})", p.display());
        }
    }

    /// `run` at a fixed clock (`SOURCE_DATE_EPOCH`), so that two runs write
    /// the same bytes (gzip headers, manifests).
    pub fn run_fixed(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        cmd.env("SOURCE_DATE_EPOCH", "1734000000");
        self.run_cmd(cmd)
    }

    pub fn run_cmd(&self, mut cmd: Command) -> Run {
        let desc = self.describe(&cmd);
        let out = cmd.output().unwrap_or_else(|e| panic!("running chama: {e}\n{desc}"));
        Run { desc, out }
    }

    /// A `chama` started in this directory with stdout and stderr piped,
    /// still running.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn_cmd(cmd)
    }

    /// `cmd` started as it is (its stdio as set), still running.
    pub fn spawn_cmd(&self, mut cmd: Command) -> Spawned {
        let desc = self.describe(&cmd);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting chama: {e}\n{desc}"));
        Spawned { desc, child }
    }

    fn describe(&self, cmd: &Command) -> String {
        format!("$ cd {} && {:?}", self.path().display(), cmd)
    }
}

/// A running `chama` ([`Workdir::spawn`]); what it printed comes with the
/// [`Run`] it ends as.
pub struct Spawned {
    pub desc: String,
    pub child: Child,
}

impl Spawned {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` (`"TERM"`, `"INT"`, `"HUP"`, ...) with kill(1), not waiting.
    #[track_caller]
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed\n{}", self.desc);
    }

    /// Sends `sig` and waits for the end.
    #[track_caller]
    pub fn stop(self, sig: &str) -> Run {
        self.signal(sig);
        self.wait()
    }

    /// SIGKILL (nothing if it has ended already), and waits for the end.
    pub fn kill(mut self) -> Run {
        let _ = self.child.kill();
        self.wait()
    }

    /// Whether it has ended.
    pub fn ended(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for the end: the run, with what it printed where piped.
    pub fn wait(self) -> Run {
        let Spawned { desc, child } = self;
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for chama: {e}\n{desc}"));
        Run { desc, out }
    }
}

/// The names in `dir`, sorted (it must exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The string `key` of every object in the JSON array `list`.
#[track_caller]
pub fn field_strs<'a>(list: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    let items = list.as_array().unwrap_or_else(|| panic!("not an array: {list}"));
    items
        .iter()
        .map(|i| i[key].as_str().unwrap_or_else(|| panic!("no string {key:?} in {i}")))
        .collect()
}

/// The value of the environment variable `var` when `usable` holds for it.
/// Otherwise `None` and a note that the test is skipped, or a failure when
/// `require` is set: `missing` says what is not there.
pub fn env_or_skip(var: &str, usable: impl Fn(&str) -> bool, require: &str, missing: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if usable(&v) => Some(v),
        _ => {
            assert!(std::env::var(require).is_err(), "{require} is set but {missing}");
            eprintln!("skipping: {missing} ({var}; run scripts/test.sh)");
            None
        }
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
