//! Locks across processes, so that two runs at once cannot both find a resource missing
//! and both create it (two zones, two APIs, two certificates for one domain).
//!
//! A lock is an `flock` on a file in the system's temporary folder, named after what it
//! guards (`mtls-domain-api.example.com.lock`; with an endpoint override, such as an
//! emulator, its URL is part of the name: another endpoint is another AWS). The kernel
//! releases it when the process ends, however it ends (`kill -9` included), so a lock is
//! never left behind; the file itself is removed on release and at exit (`kill -9` leaves
//! it, unlocked, for the next run to reuse). Live runs take them through
//! [`crate::effects::Effects::prepare`]: a plan never waits.
//!
//! - [`hold_domain`]: everything mtls makes for one domain. Taken by the first step that
//!   reads or changes something of the domain, and held until the process exits: a second
//!   run for the same domain waits for the first to finish, then finds what it made.
//! - [`Scoped`]: a resource that several domains share (a hosted zone named on the command
//!   line, the truststore bucket), held only while one step finds and creates it; also a
//!   fleet of client certificates in a folder (`issue_clients`), held while it is issued.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::script::Context;

/// How long a run waits for another one before it gives up.
const WAIT_AT_MOST: Duration = Duration::from_secs(45 * 60);

/// Domain locks this process holds (until it exits), by key.
static HELD: Mutex<BTreeMap<String, Held>> = Mutex::new(BTreeMap::new());

/// A lock taken: its file (the `flock` lives as long as it is open) and its path.
struct Held {
    file: File,
    path: PathBuf,
}

impl Held {
    /// Removes the file, then closes it: a process waiting on this file finds, once it
    /// has the lock, that the path is gone, and starts over with a new file.
    fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// At exit, the domain locks' files are removed (the locks go with the process).
extern "C" fn release_held_at_exit() {
    if let Ok(mut held) = HELD.try_lock() {
        for (_, h) in std::mem::take(&mut *held) {
            h.release();
        }
    }
}

/// Takes the lock of everything mtls makes for `domain` (in a live run), waiting while
/// another process holds it; then keeps it until this process exits.
pub(super) fn hold_domain(ctx: &Context, domain: &str) -> Result<(), Error> {
    let key = key_of(ctx, "domain", domain);
    ctx.effects.prepare(|| {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if held.contains_key(&key) {
            return Ok(());
        }
        let lock = acquire(ctx, &key, &format!("the resources of {domain}"))?;
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        AT_EXIT.call_once(|| {
            // SAFETY: registers a function with no arguments that only touches statics.
            unsafe { libc::atexit(release_held_at_exit) };
        });
        held.insert(key, lock);
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
    /// Takes the lock `kind`-`name` (in a live run); `what` names it in messages.
    pub(in crate::script::primitives) fn take(
        ctx: &Context,
        kind: &str,
        name: &str,
        what: &str,
    ) -> Result<Self, Error> {
        let key = key_of(ctx, kind, name);
        let mut file = None;
        ctx.effects.prepare(|| {
            file = Some(acquire(ctx, &key, what)?);
            Ok(())
        })?;
        Ok(Scoped(file))
    }
}

/// The key of a lock: what it guards and, when AWS is reached at an endpoint of the
/// user's choosing (`--endpoint-url`, `AWS_ENDPOINT_URL`), that endpoint.
fn key_of(ctx: &Context, kind: &str, name: &str) -> String {
    let endpoint = ctx
        .aws
        .settings
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.is_empty());
    match endpoint {
        Some(e) => format!("{kind}-{}@{e}", name.to_ascii_lowercase()),
        None => format!("{kind}-{}", name.to_ascii_lowercase()),
    }
}

/// The lock file of `key` (characters other than those of DNS names become `_`).
fn path_of(key: &str) -> PathBuf {
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
    std::env::temp_dir().join(format!("mtls-{safe}.lock"))
}

fn open(path: &PathBuf) -> std::io::Result<File> {
    let open = |write: bool| {
        OpenOptions::new()
            .read(true)
            .write(write)
            .create(write)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
    };
    // A file another user made may be read-only to us: flock needs no write access.
    open(true).or_else(|e| open(false).map_err(|_| e))
}

/// Whether the lock was taken (`false`: another process holds it).
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

/// Whether `path` still names the file `file` has open (another process may have
/// removed it, and made a new one, between our open and our lock).
fn still_there(file: &File, path: &PathBuf) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn acquire(ctx: &Context, key: &str, what: &str) -> Result<Held, Error> {
    let path = path_of(key);
    let io = |source| Error::Io {
        action: "lock",
        path: path.display().to_string(),
        source,
    };
    let start = Instant::now();
    let mut told = false;
    let mut file = loop {
        let file = open(&path).map_err(io)?;
        if !try_flock(&file).map_err(io)? {
            if !told {
                told = true;
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
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
                            "a lock is released when its process ends, so one is still running: \
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
