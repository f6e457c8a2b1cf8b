//! The working folder (`-C DIR`): every path a script names is resolved here, and every
//! file the tool writes goes through here.
//!
//! Writes are atomic (a temporary file in the same folder, flushed, then renamed), so an
//! interrupted run never leaves a half-written key or certificate behind. Private keys are
//! created with mode 0600 from the first byte; public files get 0644.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// Who may read a file the tool writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    /// Private key material: mode 0600, never printed.
    Secret,
    /// Certificates and other public data: mode 0644.
    Public,
}

impl Secrecy {
    fn mode(self) -> u32 {
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

    /// Resolves a script-supplied path inside the working folder.
    ///
    /// Absolute paths and `..` are refused: a script may only touch files of its own
    /// folder, so a typo or a hostile script cannot overwrite `~/.ssh/id_rsa`.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, Error> {
        let rel = Path::new(name);
        let escapes = name.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            return Err(Error::PathOutsideWorkdir {
                path: name.to_string(),
                workdir: self.root.display().to_string(),
            });
        }
        Ok(self.root.join(rel))
    }

    /// Whether `name` exists in the working folder.
    pub fn exists(&self, name: &str) -> Result<bool, Error> {
        Ok(self.resolve(name)?.exists())
    }

    /// Reads a file of the working folder as text.
    pub fn read_to_string(&self, name: &str) -> Result<String, Error> {
        let path = self.resolve(name)?;
        fs::read_to_string(&path).map_err(|source| Error::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes `contents` to `name` atomically with the permissions `secrecy` asks for.
    ///
    /// When `replace` is false an existing file is never overwritten: the rename is
    /// refused instead, so two runs racing cannot clobber each other's key.
    pub fn write(
        &self,
        name: &str,
        contents: &[u8],
        secrecy: Secrecy,
        replace: bool,
    ) -> Result<(), Error> {
        let path = self.resolve(name)?;
        let io_err = |action: &'static str| {
            let shown = path.display().to_string();
            move |source| Error::Io {
                action,
                path: shown,
                source,
            }
        };
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err("create the folder of"))?;
        // tempfile creates the file 0600, so a key is never readable by others, not even
        // for the instant between creation and chmod.
        let mut tmp = tempfile::Builder::new()
            .prefix(".mtls-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io_err("create a temporary file for"))?;
        tmp.write_all(contents).map_err(io_err("write"))?;
        tmp.as_file().sync_all().map_err(io_err("flush"))?;
        set_mode(tmp.path(), secrecy.mode()).map_err(io_err("set permissions of"))?;
        if replace {
            tmp.persist(&path).map_err(|e| io_err("replace")(e.error))?;
        } else {
            tmp.persist_noclobber(&path)
                .map_err(|e| io_err("create")(e.error))?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_leave_the_folder() {
        let wd = Workdir::new("/tmp/x");
        for bad in ["", "/etc/passwd", "../up", "a/../../b", "a/.."] {
            assert!(wd.resolve(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["RootCA.key", "./certs/server.pem", "a/b/c.pem"] {
            assert!(wd.resolve(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[cfg(unix)]
    #[test]
    fn writes_secrets_0600_and_never_clobbers_without_replace() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let wd = Workdir::new(dir.path());
        wd.write("k.key", b"one", Secrecy::Secret, false).unwrap();
        wd.write("c.pem", b"pub", Secrecy::Public, false).unwrap();
        let mode = |n: &str| {
            fs::metadata(dir.path().join(n))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("k.key"), 0o600);
        assert_eq!(mode("c.pem"), 0o644);
        assert!(wd.write("k.key", b"two", Secrecy::Secret, false).is_err());
        assert_eq!(fs::read(dir.path().join("k.key")).unwrap(), b"one");
        wd.write("k.key", b"two", Secrecy::Secret, true).unwrap();
        assert_eq!(fs::read(dir.path().join("k.key")).unwrap(), b"two");
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
