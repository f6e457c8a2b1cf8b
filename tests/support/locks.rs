//! Holding an mtls lock from another process (util-linux `flock`), as another run would.

use std::fs::OpenOptions;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A lock held by a `flock PATH cat` process: released (the process ends) when dropped.
pub struct Holder {
    child: Child,
    pub path: PathBuf,
}

impl Holder {
    /// Takes the lock `path` in another process and returns once it is held.
    pub fn take(path: &Path) -> Holder {
        let child = Command::new("flock")
            .arg(path)
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("run util-linux `flock`");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_locked(path) {
            assert!(
                Instant::now() < deadline,
                "flock did not take {}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Holder {
            child,
            path: path.to_path_buf(),
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // `cat` ends with its input, and `flock` with it: the lock is released.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Whether another open file holds an `flock` on `path` (false when there is no file).
pub fn is_locked(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).open(path) else {
        return false;
    };
    // SAFETY: flock on a file this function owns; released when it is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    rc != 0
}
