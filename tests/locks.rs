//! Locks no spelling can split and no file can break:
//! - two setups of one domain at once, through differently spelled endpoints and with
//!   different `TMPDIR`s, make one of each resource (the lock is the account, region and
//!   endpoint, in a folder that depends on neither);
//! - a FIFO, a symbolic link, a 3 GB file and terminal escapes at the lock path (the old
//!   one in `TMPDIR`, and the new one) hang nothing, print nothing raw, and where the lock
//!   cannot be used change nothing.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::cli::SetupArgs;
use support::locks::Holder;
use support::moto::{Moto, ACCOUNT_ID, REGION};
use support::realism::*;

const DOMAIN: &str = "api.example.com";

/// A script whose only step makes the hosted zone of `--var domain`: a step of the domain,
/// so its run takes the domain's lock before it starts.
const ZONE_SCRIPT: &str = "print(route53_ensure_zone_for(get_var(\"domain\")).status);\n";

/// The longest any run here may take: a hang fails the test instead of stalling it.
const BOUND: Duration = Duration::from_secs(120);

fn spawn(dir: &Path, args: &[&str], env: &[(String, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtls")
}

/// Waits for `child` at most [`BOUND`]; kills it (and fails) when it takes longer.
fn bounded(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > BOUND {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "mtls hung for {BOUND:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mutating(moto: &Moto) -> Vec<String> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The lock file of `domain` for runs against `moto`.
fn new_lock_path(moto: &Moto, domain: &str) -> PathBuf {
    mtls::script::domain_lock_file(ACCOUNT_ID, REGION, Some(&moto.endpoint_url()), domain).unwrap()
}

/// Where mtls before this change put the lock `kind` of `name`: in `TMPDIR`, named after
/// the endpoint as spelled.
fn old_lock_path(tmpdir: &Path, kind: &str, name: &str, endpoint: &str) -> PathBuf {
    let key = format!("{kind}-{name}@{endpoint}");
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    tmpdir.join(format!("mtls-{safe}.lock"))
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// A 3 GB sparse file that starts with a terminal escape (a window title and a colour).
fn big_escape_file(path: &Path) {
    std::fs::write(path, b"pid 1 \x1b]0;owned\x07\x1b[31mred").unwrap();
    let status = Command::new("truncate")
        .args(["-s", "3G"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn zone_run(dir: &Path, domain: &str, env: &[(String, String)]) -> Child {
    std::fs::write(dir.join("zone.rhai"), ZONE_SCRIPT).unwrap();
    spawn(
        dir,
        &["run", "zone.rhai", "--var", &format!("domain={domain}")],
        env,
    )
}

#[test]
fn two_setups_through_differently_spelled_endpoints_and_tmpdirs_make_one_of_each() {
    let moto = Moto::start();
    // AWS answers in tens of milliseconds: wide enough a window for two runs to both find
    // a resource missing, without a lock.
    let realism = Realism::start(&moto, vec![Latency::new(Duration::from_millis(30))]);
    let (a, b) = (workdir_with_pki(DOMAIN), workdir_with_pki(DOMAIN));
    let (tmp_a, tmp_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let endpoint = realism.endpoint_url();
    let slashed = format!("{endpoint}/");
    let env_a = realism.env_with(&[
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("TMPDIR", tmp_a.path().to_str().unwrap()),
    ]);
    let env_b = realism.env_with(&[
        ("AWS_ENDPOINT_URL", slashed.as_str()),
        ("TMPDIR", tmp_b.path().to_str().unwrap()),
    ]);
    let setup = SetupArgs::run();
    let setup = setup.to_vec();
    let first = spawn(a.path(), &setup, &env_a);
    let second = spawn(b.path(), &setup, &env_b);
    let (first, second) = (bounded(first), bounded(second));
    assert_took_turns(&moto, DOMAIN, &first, &second, &realism.report());
}

#[test]
fn a_fifo_or_a_link_at_the_lock_path_is_an_error_before_anything_changes() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    for (n, (what, make)) in [
        ("fifo", mkfifo as fn(&Path)),
        ("link", |p: &Path| {
            std::os::unix::fs::symlink(p.with_extension("target"), p).unwrap()
        }),
    ]
    .into_iter()
    .enumerate()
    {
        let domain = format!("broken-{n}.example.com");
        let path = new_lock_path(&moto, &domain);
        let _ = std::fs::remove_file(&path);
        make(&path);
        let out = bounded(zone_run(tmp.path(), &domain, &moto.env()));
        let _ = std::fs::remove_file(&path);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out));
        assert!(
            text(&out).contains("the lock file") && text(&out).contains("cannot be used"),
            "{what}: {}",
            text(&out)
        );
        assert!(
            !path.with_extension("target").exists(),
            "{what}: link followed"
        );
        assert_eq!(mutating(&moto), Vec::<String>::new(), "{what}");
    }
}

/// A lock file another run holds, 3 GB long and starting with terminal escapes: the
/// waiting run reads a few bytes of it, shows them escaped, and goes on once it is freed.
#[test]
fn a_held_lock_of_3_gb_with_escapes_is_shown_escaped_and_waited_for() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let domain = "held-big.example.com";
    let path = new_lock_path(&moto, domain);
    big_escape_file(&path);
    let holder = Holder::take(&path);
    let mut child = zone_run(tmp.path(), domain, &moto.env());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let rest = std::thread::spawn(move || {
        let mut line = Vec::new();
        let _ = stderr.read_until(b'\n', &mut line);
        let _ = tx.send(line);
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });
    let notice = rx
        .recv_timeout(BOUND)
        .expect("no notice from the waiting run");
    let notice = String::from_utf8_lossy(&notice).into_owned();
    assert!(notice.contains("waiting for it to finish"), "{notice}");
    assert!(
        !notice.contains('\x1b') && !notice.contains('\x07'),
        "{notice:?}"
    );
    assert!(notice.contains("pid 1 \\u{1b}]0;owned\\u{7}"), "{notice}");
    assert!(notice.len() < 1024, "{} bytes", notice.len());
    assert_eq!(mutating(&moto), Vec::<String>::new());

    drop(holder);
    let out = bounded(child);
    let rest = rest.join().unwrap();
    assert!(out.status.success(), "{}{rest}", text(&out));
    assert_eq!(moto.requests_to("POST", "/2013-04-01/hostedzone").len(), 1);
}

/// What another user could plant at the old lock paths (the shared temporary folder) is
/// not looked at any more: the run neither hangs nor fails, and the files stay as they were.
#[test]
fn a_fifo_a_3_gb_file_and_escapes_at_the_old_lock_paths_are_left_alone() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tempfile::tempdir().unwrap();
    let domain = "old-paths.example.com";
    let endpoint = moto.endpoint_url();
    let fifo = old_lock_path(tmpdir.path(), "domain", domain, &endpoint);
    let big = old_lock_path(tmpdir.path(), "zone", domain, &endpoint);
    mkfifo(&fifo);
    big_escape_file(&big);
    let mut env = moto.env();
    env.push(("TMPDIR".into(), tmpdir.path().display().to_string()));

    let out = bounded(zone_run(tmp.path(), domain, &env));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains('\x1b'), "{}", text(&out));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 3 << 30);
}

/// Two runs in one working folder at once: the second waits for the first before its first
/// file (the folder's lock), then finds every file made and keeps it.
#[test]
fn two_runs_in_one_folder_serialise_before_the_first_file() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = ["run", "pki.rhai", "--var", "domain=api.example.com"];
    let (first, second) = (spawn(tmp.path(), &pki, &[]), spawn(tmp.path(), &pki, &[]));
    let (first, second) = (bounded(first), bounded(second));
    assert!(first.status.success(), "{}", text(&first));
    assert!(second.status.success(), "{}", text(&second));
    let waited = [&first, &second]
        .into_iter()
        .filter(|o| text(o).contains("is changing the files of"))
        .count();
    assert_eq!(waited, 1, "{}\n{}", text(&first), text(&second));
    // The one that waited made nothing: everything was there, as asked.
    assert!(
        [&first, &second]
            .iter()
            .any(|o| text(o).contains("No changes")),
        "{}\n{}",
        text(&first),
        text(&second)
    );
}
