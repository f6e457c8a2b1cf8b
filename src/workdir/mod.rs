//! The working folder (`-C DIR`): every path a script names is resolved here, and every
//! file the tool reads or writes goes through here.
//!
//! The folder is a boundary on *real* paths, not only on names: besides absolute paths and
//! `..`, a symbolic link that leads out of the folder (or nowhere) is refused, and so is
//! anything but a regular file (a FIFO would hang the run, `/dev/zero` would fill memory).
//! Reads are capped in size. Writes are atomic (a temporary file in the same folder,
//! flushed, renamed), so an interrupted run never leaves a half-written key behind; keys
//! are 0600 from their first byte, and every folder mtls makes is 0700 whatever the
//! umask.
//!
//! One concept per file: `paths` resolves and vets names (the boundary), `read` reads
//! capped and typed, `write` writes atomically (keys 0600, folders 0700), `batch` writes
//! many files durable at once.

mod batch;
mod paths;
mod read;
mod write;

use std::path::{Path, PathBuf};

use crate::error::Error;

pub use batch::BatchFile;
// Named by the tests; the runs only hold one ([`Workdir::batch`]).
#[cfg(feature = "internals")]
pub use batch::Batch;
pub use paths::named_file;
pub use read::read_script_file;
pub use write::KeyFileWriter;

/// The most mtls reads of any certificate or key file (API Gateway's truststore limit).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The most mtls reads of a private key file (ACM takes 5120 bytes; RSA 4096 PEM is ~3.3 KB).
pub const MAX_KEY_BYTES: u64 = 64 * 1024;

/// The largest script (or stdlib file, or module) mtls loads.
pub const MAX_SCRIPT_BYTES: u64 = 1024 * 1024;

/// Who may read a file the tool writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    /// Private key material: mode 0600 in a folder mtls makes 0700; never printed.
    Secret,
    /// Certificates and other public data: mode 0644.
    Public,
}

impl Secrecy {
    fn file_mode(self) -> u32 {
        match self {
            Secrecy::Secret => 0o600,
            Secrecy::Public => 0o644,
        }
    }
}

/// The folder a run works in.
#[derive(Debug, Clone)]
pub struct Workdir {
    root: PathBuf,
}

impl Workdir {
    /// A working folder at `root`. Nothing is created until the first write, so a plan
    /// on a missing folder leaves no trace.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Workdir { root: root.into() }
    }

    /// The folder itself, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(&self, action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}
