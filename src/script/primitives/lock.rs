//! Locks across runs (other processes, and other runs in this process), so that two runs
//! at once cannot both find a resource missing and both create it (two zones, two APIs,
//! two certificates for one domain), nor write the same files.
//!
//! A lock is an `flock` on a file in a folder only this user can enter ([`lock_folder`]),
//! named after what it guards: a domain by the account, region and endpoint that hold its
//! resources (never by how the endpoint is spelled, nor by `TMPDIR`), a folder or a fleet
//! by its real path. `flock` locks belong to an open file, so two runs in one process
//! exclude each other exactly as two processes do. The kernel releases a lock when its
//! file is closed, however the process ends (`kill -9` included); the file is removed on
//! release (`kill -9` leaves it, unlocked, for the next run to reuse).
//!
//! - A live run takes, before its first file or AWS change, the lock of its working folder
//!   and of every domain its plan's steps named ([`take_before_run`]), and holds them until
//!   it ends (on an error and on Ctrl-C too: [`RunLocks::release_all`]). A second run waits
//!   for the first, then finds what it made. A plan never waits.
//! - [`hold_domain`]: asked by every step of a domain; in a plan it notes the domain for
//!   [`take_before_run`], in a run it takes a lock the plan did not foresee.
//! - [`Scoped`]: a resource that several domains share (a hosted zone named on the command
//!   line, the truststore bucket), held only while one step finds and creates it; also a
//!   fleet of client certificates in a folder (`issue_clients`), held while it is issued.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::script::Context;

/// How long a run waits for another one before it gives up.
const WAIT_AT_MOST: Duration = Duration::from_secs(45 * 60);

/// How much of a lock file is read to say who holds it: "pid N" is all mtls writes.
const HOLDER_AT_MOST: u64 = 128;

/// The locks of one run: the domains its plan named, and the locks it holds.
#[derive(Default)]
pub(crate) struct RunLocks {
    /// Domains whose steps ran in a plan (lowercase): a live run locks them first.
    wanted: RefCell<BTreeSet<String>>,
    /// Locks this run holds until it ends, by key.
    held: RefCell<BTreeMap<String, Held>>,
    /// The run's account, region and endpoint, once read ([`aws_scope`]).
    scope: std::cell::OnceCell<String>,
}

impl RunLocks {
    /// The domains the steps of this run (a plan) asked to hold, in order.
    pub(crate) fn wanted_domains(&self) -> Vec<String> {
        self.wanted.borrow().iter().cloned().collect()
    }

    /// Releases every lock the run holds (at its end, whatever the result).
    pub(crate) fn release_all(&self) {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        for (_, h) in held {
            h.release();
        }
    }
}

/// A lock taken: its file (the `flock` lives as long as it is open) and its path.
struct Held {
    file: File,
    path: PathBuf,
}

impl Held {
    /// Removes the file, then closes it: a run waiting on this file finds, once it has the
    /// lock, that the path is gone, and starts over with a new file.
    fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Before a live run's first file or AWS change: takes the lock of its working folder
/// (when `writes`) and of each of `domains` (those its plan's steps named), in one order
/// for every run, so that two runs never each hold what the other waits for.
pub(crate) fn take_before_run(
    ctx: &Context,
    domains: &[String],
    writes: bool,
) -> Result<(), Error> {
    if writes {
        let folder = real_path(ctx.workdir.root());
        let key = format!("folder {}", folder.display());
        let what = format!("the files of {}", folder.display());
        let lock = acquire(ctx, &key, "folder", &what)?;
        ctx.locks.held.borrow_mut().insert(key, lock);
    }
    for domain in domains {
        hold_domain(ctx, domain)?;
    }
    Ok(())
}

/// Takes the lock of everything mtls makes for `domain` (in a live run), waiting while
/// another run holds it, and keeps it until the run ends. In a plan, notes the domain: the
/// live run takes its lock before it changes anything.
pub(super) fn hold_domain(ctx: &Context, domain: &str) -> Result<(), Error> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    ctx.locks.wanted.borrow_mut().insert(domain.clone());
    ctx.effects.prepare(|| {
        let key = domain_key(ctx, &domain)?;
        if ctx.locks.held.borrow().contains_key(&key) {
            return Ok(());
        }
        let lock = acquire(ctx, &key, &domain, &format!("the resources of {domain}"))?;
        ctx.locks.held.borrow_mut().insert(key, lock);
        Ok(())
    })
}

/// A lock held until it is dropped (the end of a step).
pub(in crate::script::primitives) struct Scoped(Option<Held>);

impl Drop for Scoped {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.release();
        }
    }
}

impl Scoped {
    /// Takes the lock `kind`-`name` (in a live run), for the account, region and endpoint
    /// of this run; `what` names it in messages.
    pub(in crate::script::primitives) fn take(
        ctx: &Context,
        kind: &str,
        name: &str,
        what: &str,
    ) -> Result<Self, Error> {
        let mut file = None;
        ctx.effects.prepare(|| {
            let key = format!("{kind} {} {}", name.to_ascii_lowercase(), aws_scope(ctx)?);
            file = Some(acquire(ctx, &key, kind, what)?);
            Ok(())
        })?;
        Ok(Scoped(file))
    }

    /// Takes the lock of the files `prefix`* in `folder` of the working folder (in a live
    /// run): by the folder's real path, however the run spells it.
    pub(in crate::script::primitives) fn take_files(
        ctx: &Context,
        folder: &str,
        prefix: &str,
        what: &str,
    ) -> Result<Self, Error> {
        let mut file = None;
        ctx.effects.prepare(|| {
            let real = real_path(&ctx.workdir.root().join(folder));
            let key = format!("files {}\0{prefix}", real.display());
            file = Some(acquire(
                ctx,
                &key,
                "fleet",
                &format!("{what} in {}", real.display()),
            )?);
            Ok(())
        })?;
        Ok(Scoped(file))
    }
}

/// The key of a domain's lock: the domain, and the AWS that holds its resources.
fn domain_key(ctx: &Context, domain: &str) -> Result<String, Error> {
    Ok(domain_key_in(domain, &aws_scope(ctx)?))
}

fn domain_key_in(domain: &str, scope: &str) -> String {
    format!("domain {domain} {scope}")
}

/// What a resource's name is unique within: the account and region (STS
/// `GetCallerIdentity`; "AWS Security Token Service API Reference, GetCallerIdentity":
/// the account of the credentials, however they are spelled) and, when AWS is reached at
/// an endpoint of the user's choosing (`--endpoint-url`, `AWS_ENDPOINT_URL`: an emulator is
/// another AWS), that endpoint in one spelling.
fn aws_scope(ctx: &Context) -> Result<String, Error> {
    if let Some(scope) = ctx.locks.scope.get() {
        return Ok(scope.clone());
    }
    let aws = ctx.aws_client()?;
    let account = ctx.block_on(aws.account_id())??;
    let endpoint = ctx
        .aws
        .settings
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.trim().is_empty());
    let scope = scope_text(&account, &aws.region(), endpoint.as_deref());
    Ok(ctx.locks.scope.get_or_init(|| scope).clone())
}

fn scope_text(account: &str, region: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(e) => format!("account {account} region {region} at {}", same_endpoint(e)),
        None => format!("account {account} region {region}"),
    }
}

/// The lock file of `domain` for runs in `account` and `region` at `endpoint`: what a
/// program outside mtls locks (`flock`) to keep mtls runs off the domain (the tests do).
#[cfg(feature = "internals")]
pub fn domain_lock_file(
    account: &str,
    region: &str,
    endpoint: Option<&str>,
    domain: &str,
) -> Result<PathBuf, Error> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let key = domain_key_in(&domain, &scope_text(account, region, endpoint));
    Ok(path_of(&lock_folder()?, &domain, &key))
}

/// One spelling of an endpoint URL: scheme and host in lowercase, the port always given,
/// no trailing `/` (`HTTP://127.0.0.1:5631/` and `http://127.0.0.1:5631` are one: the SDK
/// sends every request of both to the same server; "AWS SDKs and Tools Reference Guide,
/// Service-specific endpoints" for `AWS_ENDPOINT_URL`).
pub(crate) fn same_endpoint(url: &str) -> String {
    let url = url.trim();
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return url.trim_end_matches('/').to_ascii_lowercase();
    };
    let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    let path = uri.path().trim_end_matches('/');
    format!("{scheme}://{host}:{port}{path}")
}

/// The real path of `path`: its deepest existing ancestor resolved (links, `..`), the
/// rest appended (a working folder is made on the first write, so may not exist yet).
fn real_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(at) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return absolute,
        }
    }
}

/// The folder of the lock files: `/tmp/mtls-UID`, made 0700 and refused unless this user
/// owns it and no one else may enter it. Its path depends on nothing in the environment
/// (`TMPDIR`, `XDG_RUNTIME_DIR` may differ between two runs, which must share their locks),
/// and another user can neither list, replace nor plant files in it.
pub fn lock_folder() -> Result<PathBuf, Error> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let path = PathBuf::from(format!("/tmp/mtls-{uid}"));
    let refuse = |problem: String| Error::LockFolder {
        path: path.display().to_string(),
        problem,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(refuse(format!("it cannot be made: {e}"))),
    }
    let meta = std::fs::symlink_metadata(&path).map_err(|e| refuse(e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(refuse("it is not a folder (a link or a file)".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(format!(
            "it belongs to user id {}, not to you ({uid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(format!(
            "others may use it (mode {:o}, not 700)",
            meta.mode() & 0o777
        )));
    }
    Ok(path)
}

/// The lock file of `key`: a readable `label` (what `fuser` users look for) and a digest
/// of the whole key (a path can be long, and hold any character).
fn path_of(folder: &Path, label: &str, key: &str) -> PathBuf {
    let safe: String = label
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let digest: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    folder.join(format!("{safe}-{digest}.lock"))
}

/// Opens (or makes) the lock file at `path`, never following a link and never waiting:
/// `O_NONBLOCK` makes the open of a FIFO return at once, and what is not a regular file
/// is refused before anything is read from it.
fn open(path: &Path) -> Result<File, Error> {
    let broken = |problem: String| Error::BrokenLock {
        path: path.display().to_string(),
        problem,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => broken("it is a symbolic link".into()),
            _ => broken(e.to_string()),
        })?;
    let meta = file.metadata().map_err(|e| broken(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(broken(
            "it is not a regular file (a FIFO, a device or a socket)".into(),
        ));
    }
    Ok(file)
}

/// Whether the lock was taken (`false`: another run holds it).
fn try_flock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a file descriptor this function borrows; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(false),
        _ => Err(err),
    }
}

/// Whether `path` still names the file `file` has open (another run may have removed it,
/// and made a new one, between our open and our lock).
fn still_there(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Who holds the lock, as its holder wrote it: read from the open file, at most
/// [`HOLDER_AT_MOST`] bytes, every character but printable ASCII escaped (no terminal
/// escape reaches the screen).
fn holder(file: &File) -> String {
    let mut bytes = Vec::new();
    let _ = file.take(HOLDER_AT_MOST).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes)
        .trim()
        .chars()
        .flat_map(|c| {
            let plain = c.is_ascii_graphic() || c == ' ';
            let shown: Vec<char> = if plain {
                vec![c]
            } else {
                c.escape_default().collect()
            };
            shown
        })
        .collect()
}

/// Takes the lock `key`, waiting (without holding anything else of this process) while
/// another run holds it; `label` names its file, `what` names it in messages.
fn acquire(ctx: &Context, key: &str, label: &str, what: &str) -> Result<Held, Error> {
    let path = path_of(&lock_folder()?, label, key);
    let io = |source| Error::Io {
        action: "lock",
        path: path.display().to_string(),
        source,
    };
    let start = Instant::now();
    let mut told = false;
    let mut file = loop {
        let file = open(&path)?;
        if !try_flock(&file).map_err(io)? {
            if !told {
                told = true;
                let holder = holder(&file);
                ctx.notice(&format!(
                    "another mtls run{} is changing {what}; waiting for it to finish (lock {})",
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" ({holder})")
                    },
                    path.display()
                ));
            }
            while !try_flock(&file).map_err(io)? {
                if start.elapsed() > WAIT_AT_MOST {
                    return Err(Error::invalid_argument(
                        "lock",
                        what,
                        format!(
                            "another mtls run has held {} for {} minutes",
                            path.display(),
                            WAIT_AT_MOST.as_secs() / 60
                        ),
                        format!(
                            "a lock is released when its run ends, so one is still running: \
                             find it with `fuser {}`, let it finish or stop it, then run again",
                            path.display()
                        ),
                    ));
                }
                // Through the run's runtime, so that Ctrl-C ends the wait.
                ctx.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await })?;
            }
        }
        if still_there(&file, &path) {
            break file;
        }
    };
    // Who holds it, for the message another run shows (best effort).
    if file.set_len(0).is_ok() {
        let _ = writeln!(file, "pid {}", std::process::id());
    }
    Ok(Held { file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_has_one_spelling() {
        let one = same_endpoint("http://127.0.0.1:5631");
        assert_eq!(one, "http://127.0.0.1:5631");
        assert_eq!(same_endpoint("http://127.0.0.1:5631/"), one);
        assert_eq!(same_endpoint(" HTTP://127.0.0.1:5631// "), one);
        assert_eq!(
            same_endpoint("https://Example.com"),
            "https://example.com:443"
        );
        assert_ne!(same_endpoint("http://127.0.0.1:5632"), one);
    }

    #[test]
    fn the_holder_is_capped_and_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        std::fs::write(&path, format!("pid 1\x1b]0;owned\x07{}", "x".repeat(1000))).unwrap();
        let shown = holder(&File::open(&path).unwrap());
        assert!(shown.starts_with("pid 1\\u{1b}]0;owned\\u{7}x"), "{shown}");
        assert!(!shown.contains('\x1b'));
        assert!(shown.len() < 200, "{}", shown.len());
    }

    #[test]
    fn a_fifo_or_a_link_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path this test owns.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = open(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let err = open(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!dir.path().join("elsewhere").exists());
    }
}
