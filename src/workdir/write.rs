//! Writes: atomic (a temporary file in the same folder, flushed, renamed), keys 0600 from
//! their first byte, every folder mtls makes 0700 whatever the umask.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Secrecy, Workdir};
use crate::error::Error;
use crate::pki::SecretPem;

impl Workdir {
    /// Writes a private key atomically: 0600, in a folder mtls makes 0700.
    pub fn write_secret(&self, name: &str, key: &SecretPem, replace: bool) -> Result<(), Error> {
        self.write(name, key_bytes(key), Secrecy::Secret, replace)
    }

    /// Writes `contents` to `name` atomically with the permissions `secrecy` asks for.
    ///
    /// When `replace` is false an existing file is never overwritten: the rename is
    /// refused instead, so two runs racing cannot clobber each other's key. With
    /// `replace`, a link at `name` is replaced by the new file; what it pointed to is
    /// never written.
    pub fn write(
        &self,
        name: &str,
        contents: &[u8],
        secrecy: Secrecy,
        replace: bool,
    ) -> Result<(), Error> {
        let parts = self.parts(name)?;
        let (file_name, folders) = parts
            .split_last()
            .ok_or_else(|| Error::PathOutsideWorkdir {
                path: name.to_string(),
                workdir: self.root.display().to_string(),
            })?;
        let dir = self.make_folders(name, folders)?;
        let path = dir.join(file_name);
        if let Ok(meta) = fs::symlink_metadata(&path) {
            if meta.is_dir() {
                return Err(Error::NotARegularFile {
                    path: name.to_string(),
                    kind: "folder",
                });
            }
            if meta.file_type().is_symlink() && !replace {
                // Only reached for a link whose target is missing (one to a file counts as
                // existing, and callers keep it): say so rather than "File exists".
                self.locate(name)?;
            }
        }
        let io_err = |action: &'static str| {
            let shown = path.display().to_string();
            move |source| Error::Io {
                action,
                path: shown,
                source,
            }
        };
        // tempfile creates the file 0600, so a key is never readable by others, not even
        // for the instant between creation and chmod.
        let mut tmp = tempfile::Builder::new()
            .prefix(".mtls-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io_err("create a temporary file for"))?;
        tmp.write_all(contents).map_err(io_err("write"))?;
        tmp.as_file().sync_all().map_err(io_err("flush"))?;
        set_mode(tmp.path(), secrecy.file_mode()).map_err(io_err("set permissions of"))?;
        if replace {
            tmp.persist(&path).map_err(|e| io_err("replace")(e.error))?;
        } else {
            tmp.persist_noclobber(&path)
                .map_err(|e| io_err("create")(e.error))?;
        }
        // The rename is durable once the folder's entry is.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Makes (or follows) the folders of a name, inside the real working folder; returns
    /// the real path of the last one.
    pub(super) fn make_folders(&self, name: &str, folders: &[&str]) -> Result<PathBuf, Error> {
        if self.real_root()?.is_none() {
            make_folder(&self.root, true)
                .map_err(|e| self.io("create the folder", &self.root, e))?;
        }
        let root = self.real_root()?.ok_or_else(|| {
            Error::internal("create the working folder", "missing after creating it")
        })?;
        let mut here = root.clone();
        for part in folders {
            here = match self.step(name, &root, &here, part)? {
                Some(next) => next,
                None => {
                    let next = here.join(part);
                    make_folder(&next, false)
                        .map_err(|e| self.io("create the folder", &next, e))?;
                    next
                }
            };
            let meta = fs::metadata(&here).map_err(|e| self.io("read", &here, e))?;
            if !meta.is_dir() {
                return Err(Error::NotARegularFile {
                    path: name.to_string(),
                    kind: "file where a folder is needed",
                });
            }
        }
        Ok(here)
    }
}

/// The umask, from `/proc/self/status` (setting it to read it would race with other
/// threads creating files).
pub(super) fn read_umask() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// Creates a new file (never an existing one, never through a link) with `mode`.
pub(super) fn create_exclusive(path: &Path, mode: u32) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

#[cfg(unix)]
pub(super) fn set_file_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub(super) fn set_file_mode(_file: &fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Renames `tmp` to `dest`; without `replace`, never over an existing file (or link).
pub(super) fn rename_into_place(tmp: &Path, dest: &Path, replace: bool) -> std::io::Result<()> {
    if replace {
        return fs::rename(tmp, dest);
    }
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
        };
        let (from, to) = (c(tmp)?, c(dest)?);
        // SAFETY: both paths are NUL-terminated strings that live across the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        // File systems without RENAME_NOREPLACE: fall back to link + unlink below.
        if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(err);
        }
    }
    fs::hard_link(tmp, dest)?;
    fs::remove_file(tmp)
}

/// The one place key text is taken, for the 0600 writers above (`write_secret`, `Batch`).
pub(super) fn key_bytes(key: &SecretPem) -> &[u8] {
    key.expose_to(&KeyFileWriter(()))
}

/// The capability to take a key's bytes for a 0600 key file: the private field means only
/// this module can make one (see `KeyDestination` in src/pki/secret.rs).
pub struct KeyFileWriter(());
/// The mode of every folder mtls makes: only its owner may list or enter it. A folder made
/// for a certificate may later hold a key (`issue_clients`, a `--var cert=x/y/z.pem`
/// beside its key), and a listing shows device names, so no folder is made wider.
const FOLDER_MODE: u32 = 0o700;

/// Creates one folder (or the whole path) with [`FOLDER_MODE`], whatever the umask.
pub(super) fn make_folder(path: &Path, recursive: bool) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(FOLDER_MODE);
    }
    builder.create(path)?;
    // DirBuilder's mode is filtered by the umask (never widened): set it exactly.
    set_mode(path, FOLDER_MODE)
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
    use crate::workdir::{Secrecy, Workdir};

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

    #[cfg(unix)]
    #[test]
    fn folders_made_for_keys_are_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let wd = Workdir::new(dir.path().join("new"));
        wd.write("keys/a.key", b"k", Secrecy::Secret, false)
            .unwrap();
        for folder in ["new", "new/keys"] {
            let mode = fs::metadata(dir.path().join(folder))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700, "{folder}");
        }
    }
}
