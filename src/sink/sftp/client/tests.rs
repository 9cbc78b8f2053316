//! The client against OpenSSH's own `sftp-server` on a pipe: the real server, without sshd.

use super::*;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// OpenSSH's own `sftp-server` on a pipe: the real server, without sshd.
struct Pipe {
    child: Child,
    to: ChildStdin,
    from: ChildStdout,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.from.read(buf)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.to.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.to.flush()
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A session with OpenSSH's `sftp-server`; `None` (and a note) where it is not installed,
/// unless CHAMA_REQUIRE_SFTP is set (as scripts/test.sh does).
fn server() -> Option<Client<Pipe>> {
    Some(Client::start(spawn(None, &[])?).expect("SFTP session"))
}

/// OpenSSH's `sftp-server` on a pipe, with `args` (`-P fstat`: a server that refuses
/// FSTAT), behind a login shell that prints `greeting` first.
fn spawn(greeting: Option<&str>, args: &[&str]) -> Option<Pipe> {
    let Some(bin) = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        assert!(
            std::env::var("CHAMA_REQUIRE_SFTP").is_err(),
            "CHAMA_REQUIRE_SFTP is set but OpenSSH's sftp-server is not installed"
        );
        eprintln!("no OpenSSH sftp-server here (run scripts/test.sh): skipping");
        return None;
    };
    let mut command = match greeting {
        None => {
            let mut c = Command::new(bin);
            c.args(args);
            c
        }
        Some(text) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("echo '{text}'; exec {bin} {}", args.join(" "))]);
            c
        }
    };
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().ok()?;
    let (to, from) = (child.stdin.take()?, child.stdout.take()?);
    Some(Pipe { child, to, from })
}

/// A login shell or profile that prints before the subsystem starts: the
/// message quotes what it printed, not "a packet of 1416128883 bytes".
#[test]
fn text_before_sftp_is_quoted() {
    let Some(pipe) = spawn(Some("This account is for file transfer only."), &[]) else {
        return;
    };
    let Err(e) = Client::start(pipe) else {
        panic!("a session behind a printing shell started")
    };
    let msg = e.to_string();
    assert!(
        msg.contains(r#"the server printed text before SFTP started: "This account is for file transfer only.""#),
        "{msg}"
    );
}

fn no_pace(_: usize) -> anyhow::Result<()> {
    Ok(())
}

#[test]
fn uploads_resumes_renames_over_and_reads_back_against_openssh() {
    let Some(mut c) = server() else { return };
    assert!(c.ext.posix_rename && c.ext.fsync && c.ext.limits, "{:?}", c.ext);
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    // Larger than many writes and than the writes in flight.
    let data: Vec<u8> = (0..(9 << 20) + 12_345u32).map(|i| (i * 31 + i / 7919) as u8).collect();
    let got = c.upload(&p("a.part"), 0, &mut &data[..], true, &mut no_pace).unwrap();
    assert_eq!(got, Some(data.len() as u64));
    // Resume from a prefix: the rest is written after it.
    let cut = 5_000_001;
    std::fs::write(p("b.part"), &data[..cut]).unwrap();
    let got = c
        .upload(&p("b.part"), cut as u64, &mut &data[cut..], false, &mut no_pace)
        .unwrap();
    assert_eq!(got, Some(data.len() as u64));
    assert!(std::fs::read(p("b.part")).unwrap() == data);
    // An existing name is replaced at once, and the answers come in any order asked.
    std::fs::write(p("a"), b"old").unwrap();
    let r1 = c.start_rename(&p("a.part"), &p("a")).unwrap();
    let r2 = c.start_rename(&p("nothing.part"), &p("c")).unwrap();
    assert!(c.finish(r2).unwrap_err().is_not_found());
    c.finish(r1).unwrap();
    assert!(std::fs::read(p("a")).unwrap() == data);
    let mut back = Vec::new();
    c.download(&p("a"), &mut |b| {
        back.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    assert!(back == data);
    let names: Vec<String> = c.readdir(&p("")).unwrap().into_iter().map(|(n, _)| n).collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["a", "b.part"]);
    assert_eq!(c.stat(&p("a")).unwrap().unwrap().size, Some(data.len() as u64));
    assert!(c.stat(&p("a")).unwrap().unwrap().is_file());
    assert_eq!(c.stat(&p("nope")).unwrap(), None);
    c.remove(&p("a")).unwrap();
    assert!(c.remove(&p("a")).unwrap_err().is_not_found());
    c.mkdir(&p("d"), 0o755).unwrap();
    assert!(c.stat(&p("d")).unwrap().unwrap().is_dir());
    // A directory of more names than two reads bring (OpenSSH sends 100 a read).
    for i in 0..250 {
        std::fs::write(dir.path().join(format!("d/{i:03}")), b"").unwrap();
    }
    let mut names: Vec<String> = c.readdir(&p("d")).unwrap().into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(names, (0..250).map(|i| format!("{i:03}")).collect::<Vec<_>>());
    assert!(c.stat(&p("d/007")).unwrap().unwrap().is_file(), "the session goes on");
}

/// A server without posix-rename: the protocol's rename refuses to replace, so
/// `replace` removes the old file first.
#[test]
fn without_posix_rename_a_replace_removes_then_renames() {
    let Some(mut c) = server() else { return };
    c.ext.posix_rename = false;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    std::fs::write(p("a"), b"old").unwrap();
    std::fs::write(p("a.part"), b"new").unwrap();
    let id = c.start_rename(&p("a.part"), &p("a")).unwrap();
    assert!(c.finish(id).is_err(), "SFTP v3's rename does not replace");
    c.replace(&p("a.part"), &p("a")).unwrap();
    assert_eq!(std::fs::read(p("a")).unwrap(), b"new");
    assert!(!dir.path().join("a.part").exists());
    assert!(c.replace(&p("a.part"), &p("a")).unwrap_err().is_not_found());
    assert_eq!(
        std::fs::read(p("a")).unwrap(),
        b"new",
        "a failed replace leaves the old file"
    );
}

#[test]
fn a_stopped_upload_closes_its_file_and_the_session_goes_on() {
    let Some(mut c) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let data = vec![7u8; 3 << 20];
    let mut calls = 0;
    let e = c
        .upload(&p("x.part"), 0, &mut &data[..], false, &mut |_| {
            calls += 1;
            anyhow::ensure!(calls < 3, "stop");
            Ok(())
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "stop");
    c.remove(&p("x.part")).unwrap();
    assert_eq!(c.stat(&p("x.part")).unwrap(), None);
    // An error of the server names the step.
    let e = c
        .upload(&p("no/such/dir/y"), 0, &mut &b"z"[..], false, &mut no_pace)
        .unwrap_err();
    assert!(e.to_string().starts_with("OPEN for writing: No such file"), "{e}");
}

/// A drop box that refuses WRITE: the error names the request refused.
#[test]
fn a_refused_request_is_named() {
    let Some(pipe) = spawn(None, &["-P", "write"]) else {
        return;
    };
    let mut c = Client::start(pipe).expect("SFTP session");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.part");
    let e = c
        .upload(path.to_str().unwrap(), 0, &mut &b"bytes"[..], false, &mut no_pace)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("the server refused WRITE: "), "{e}");
    assert!(e.contains("(SFTP status 3)"), "{e}");
}

/// A write-only drop box that refuses FSTAT: the upload goes through and says no size
/// (the caller goes by the bytes acknowledged); the next upload does not ask again.
#[test]
fn a_server_that_refuses_fstat_takes_the_upload_without_saying_its_size() {
    let Some(pipe) = spawn(None, &["-P", "fstat"]) else {
        return;
    };
    let mut c = Client::start(pipe).expect("SFTP session");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.part");
    let mut acked = 0;
    let got = c
        .upload(path.to_str().unwrap(), 0, &mut &b"bytes"[..], false, &mut |n| {
            acked += n;
            Ok(())
        })
        .unwrap();
    assert_eq!((got, acked, c.no_fstat), (None, 5, true));
    assert_eq!(std::fs::read(&path).unwrap(), b"bytes");
    let got = c
        .upload(path.to_str().unwrap(), 5, &mut &b" more"[..], false, &mut no_pace)
        .unwrap();
    assert_eq!(got, None);
    assert_eq!(std::fs::read(&path).unwrap(), b"bytes more");
    // Sizes asked all at once; the free space where statvfs is offered.
    let names = [
        path.to_str().unwrap().to_string(),
        dir.path().join("none").to_string_lossy().into_owned(),
    ];
    let sizes: Vec<Option<u64>> = c
        .stat_many(&names)
        .unwrap()
        .into_iter()
        .map(|a| a.and_then(|a| a.size))
        .collect();
    assert_eq!(sizes, [Some(10), None]);
    assert!(c
        .free_space(dir.path().to_str().unwrap())
        .unwrap()
        .is_some_and(|n| n > 0));
}

/// Many files at once: each gets its own result (one whose directory is missing fails
/// alone), and a file whose `sent` stops the upload stops the files after it.
#[test]
fn many_files_go_at_once_each_with_its_own_result() {
    let Some(mut c) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let bodies: Vec<Vec<u8>> = (0..20u32)
        .map(|i| (0..(i * 7919 + 5000)).map(|j| (j * 31 + i) as u8).collect())
        .collect();
    let paths: Vec<String> = (0..20)
        .map(|i| {
            if i == 4 {
                p("no/such/dir/x")
            } else {
                p(&format!("f{i}"))
            }
        })
        .collect();
    let mut inputs: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
    let mut acked = [0usize; 20];
    let mut sents: Vec<_> = acked
        .iter_mut()
        .map(|a| {
            move |n: usize| -> anyhow::Result<()> {
                *a += n;
                Ok(())
            }
        })
        .collect();
    let mut files: Vec<Upload<'_>> = paths
        .iter()
        .zip(inputs.iter_mut())
        .zip(sents.iter_mut())
        .map(|((path, input), sent)| Upload {
            path,
            offset: 0,
            input,
            sent,
        })
        .collect();
    let results = c.upload_many(&mut files, false).unwrap();
    drop(files);
    drop(sents);
    for (i, r) in results.into_iter().enumerate() {
        if i == 4 {
            let e = format!("{:#}", r.unwrap_err());
            assert!(e.starts_with("OPEN for writing: No such file"), "{e}");
            continue;
        }
        assert_eq!(r.unwrap(), Some(bodies[i].len() as u64), "file {i}");
        assert_eq!(acked[i], bodies[i].len(), "file {i} acknowledged");
        assert!(std::fs::read(p(&format!("f{i}"))).unwrap() == bodies[i], "file {i}");
    }
    // The second file's `sent` stops the upload: the first is whole, the rest cut.
    let big: Vec<u8> = vec![7; 6 << 20];
    let mut inputs: Vec<&[u8]> = vec![&big[..], &big[..], &big[..]];
    let mut ok = |_: usize| -> anyhow::Result<()> { Ok(()) };
    let mut stop = |_: usize| -> anyhow::Result<()> { anyhow::bail!("stop") };
    let mut ok2 = |_: usize| -> anyhow::Result<()> { Ok(()) };
    let (a, b, d) = (p("a"), p("b"), p("d"));
    let [i0, i1, i2] = &mut inputs[..] else { unreachable!() };
    let mut files = [
        Upload {
            path: &a,
            offset: 0,
            input: i0,
            sent: &mut ok,
        },
        Upload {
            path: &b,
            offset: 0,
            input: i1,
            sent: &mut stop,
        },
        Upload {
            path: &d,
            offset: 0,
            input: i2,
            sent: &mut ok2,
        },
    ];
    let r = c.upload_many(&mut files, false).unwrap();
    assert_eq!(r[0].as_ref().unwrap(), &Some(big.len() as u64));
    assert_eq!(r[1].as_ref().unwrap_err().to_string(), "stop");
    assert_eq!(r[2].as_ref().unwrap_err().to_string(), "stopped before it was written");
    // The session goes on.
    assert!(c.stat(&a).unwrap().is_some());
}
