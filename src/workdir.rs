//! The working folder (`-C DIR`): every path a script names is resolved here, and every
//! file the tool reads or writes goes through here.
//!
//! The folder is a boundary on *real* paths, not only on names: besides absolute paths and
//! `..`, a symbolic link that leads out of the folder (or nowhere) is refused, and so is
//! anything but a regular file (a FIFO would hang the run, `/dev/zero` would fill memory).
//! Reads are capped in size. Writes are atomic (a temporary file in the same folder,
//! flushed, renamed), so an interrupted run never leaves a half-written key behind; keys
//! are 0600 from their first byte, and folders made to hold them are 0700 whatever the
//! umask.

use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::error::Error;
use crate::pki::pem;
use crate::pki::SecretPem;

/// The most mtls reads of any certificate or key file (API Gateway's truststore limit).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The most mtls reads of a private key file (ACM takes 5120 bytes; RSA 4096 PEM is ~3.3 KB).
pub const MAX_KEY_BYTES: u64 = 64 * 1024;

/// The largest script (or stdlib file, or module) mtls loads.
pub const MAX_SCRIPT_BYTES: u64 = 1024 * 1024;

/// Reads a script the user named (anywhere: the path is the user's own choice): a regular
/// file, at most [`MAX_SCRIPT_BYTES`], UTF-8.
pub fn read_script_file(path: &Path) -> Result<String, Error> {
    let shown = path.display().to_string();
    let io = |source| Error::Io {
        action: "read the script",
        path: shown.clone(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(Error::NotARegularFile {
            path: shown,
            kind: kind_of(&meta),
        });
    }
    let too_large = |size| Error::ScriptTooLarge {
        path: shown.clone(),
        size,
        limit: MAX_SCRIPT_BYTES,
    };
    if meta.len() > MAX_SCRIPT_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_SCRIPT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SCRIPT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a script must be UTF-8 text",
        ))
    })
}

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

    fn folder_mode(self) -> u32 {
        match self {
            Secrecy::Secret => 0o700,
            Secrecy::Public => 0o755,
        }
    }
}

/// The folder a run works in.
#[derive(Debug, Clone)]
pub struct Workdir {
    root: PathBuf,
}

/// What a name in the folder is, once links are followed (inside the folder only).
enum Entry {
    Missing,
    File { real: PathBuf, meta: fs::Metadata },
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

    /// Resolves a script-supplied name inside the working folder, by its text alone.
    ///
    /// Absolute paths and `..` are refused: a script may only touch files of its own
    /// folder, so a typo or a hostile script cannot overwrite `~/.ssh/id_rsa`. Reads and
    /// writes also check where links lead; this is for paths handed to other code.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, Error> {
        Ok(self
            .root
            .join(self.parts(name)?.iter().collect::<PathBuf>()))
    }

    /// The normal components of `name`, or the refusal.
    fn parts<'n>(&self, name: &'n str) -> Result<Vec<&'n str>, Error> {
        let outside = || Error::PathOutsideWorkdir {
            path: name.to_string(),
            workdir: self.root.display().to_string(),
        };
        let mut parts = Vec::new();
        for c in Path::new(name).components() {
            match c {
                Component::Normal(p) => parts.push(p.to_str().ok_or_else(outside)?),
                Component::CurDir => {}
                _ => return Err(outside()),
            }
        }
        if parts.is_empty() || name.contains('\0') {
            return Err(outside());
        }
        Ok(parts)
    }

    /// The real path of the folder; `None` while it does not exist.
    fn real_root(&self) -> Result<Option<PathBuf>, Error> {
        match fs::canonicalize(&self.root) {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.io("open the working folder", &self.root, source)),
        }
    }

    /// Follows `name` one component at a time from the real folder, refusing links that
    /// lead out of it or nowhere, and anything at the end that is not a regular file.
    fn locate(&self, name: &str) -> Result<Entry, Error> {
        let parts = self.parts(name)?;
        let Some(root) = self.real_root()? else {
            return Ok(Entry::Missing);
        };
        let mut here = root.clone();
        for part in &parts {
            match self.step(name, &root, &here, part)? {
                Some(next) => here = next,
                None => return Ok(Entry::Missing),
            }
        }
        let meta = fs::metadata(&here).map_err(|e| self.io("read", &here, e))?;
        if !meta.is_file() {
            return Err(Error::NotARegularFile {
                path: name.to_string(),
                kind: kind_of(&meta),
            });
        }
        Ok(Entry::File { real: here, meta })
    }

    /// One component: `Some(real path)` of `here/part`, `None` when it does not exist.
    fn step(
        &self,
        name: &str,
        root: &Path,
        here: &Path,
        part: &str,
    ) -> Result<Option<PathBuf>, Error> {
        let next = here.join(part);
        let meta = match fs::symlink_metadata(&next) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("read", &next, e)),
        };
        if !meta.file_type().is_symlink() {
            return Ok(Some(next));
        }
        let target = fs::read_link(&next).unwrap_or_default();
        match fs::canonicalize(&next) {
            Ok(real) if real.starts_with(root) => Ok(Some(real)),
            Ok(real) => Err(Error::LinkOutsideWorkdir {
                path: name.to_string(),
                target: real.display().to_string(),
                workdir: self.root.display().to_string(),
            }),
            Err(_) => Err(Error::DanglingLink {
                path: name.to_string(),
                target: target.display().to_string(),
            }),
        }
    }

    /// The path of `name` for code that opens it itself (the gateway, the probe): its real
    /// path once links are checked, or the plain path when it does not exist yet.
    pub fn path_for_reading(&self, name: &str) -> Result<PathBuf, Error> {
        match self.locate(name)? {
            Entry::File { real, .. } => Ok(real),
            Entry::Missing => self.resolve(name),
        }
    }

    /// Whether `name` is a file in the working folder (links inside the folder followed).
    pub fn exists(&self, name: &str) -> Result<bool, Error> {
        Ok(matches!(self.locate(name)?, Entry::File { .. }))
    }

    /// The permission bits of `name`, `None` when it does not exist.
    pub fn mode(&self, name: &str) -> Result<Option<u32>, Error> {
        match self.locate(name)? {
            Entry::Missing => Ok(None),
            Entry::File { meta, .. } => Ok(Some(permission_bits(&meta))),
        }
    }

    /// Reads a public file (certificates): text, at most [`MAX_FILE_BYTES`], and never
    /// one that holds a private key, so what a caller does with it cannot leak one.
    pub fn read_public(&self, name: &str) -> Result<String, Error> {
        let bytes = self.read_capped(name, MAX_FILE_BYTES)?;
        let text = self.text(name, bytes)?;
        if let Some(block) = pem::labels(&text)
            .iter()
            .position(|l| pem::is_private_key_label(l))
        {
            let label = pem::labels(&text).swap_remove(block);
            let line = text
                .lines()
                .position(|l| l.trim() == format!("-----BEGIN {label}-----"))
                .map_or(0, |i| i + 1);
            return Err(Error::PrivateKeyInPublicFile {
                path: name.to_string(),
                line,
                label,
            });
        }
        Ok(text)
    }

    /// Reads a public file's bytes as they are, at most [`MAX_FILE_BYTES`]: only to name a
    /// binary (DER) certificate where PEM was expected. Nothing read here is written or sent.
    pub fn read_public_bytes(&self, name: &str) -> Result<Vec<u8>, Error> {
        self.read_capped(name, MAX_FILE_BYTES)
    }

    /// Reads a Rhai module of the folder (for `import`).
    pub fn read_module(&self, name: &str) -> Result<String, Error> {
        let bytes = self.read_capped(name, MAX_SCRIPT_BYTES)?;
        String::from_utf8(bytes).map_err(|_| Error::NotText {
            path: name.to_string(),
            problem: "a module must be UTF-8 text",
        })
    }

    /// Reads a private key file. A key others may read (group or world bits set) is an
    /// error with the `chmod` that fixes it: mtls does not keep using a key in that state.
    pub fn read_secret(&self, name: &str) -> Result<SecretPem, Error> {
        if let Some(mode) = self.mode(name)? {
            if mode & 0o077 != 0 {
                return Err(Error::KeyReadableByOthers {
                    path: name.to_string(),
                    mode: format!("{mode:04o}"),
                });
            }
        }
        let bytes = self.read_capped(name, MAX_KEY_BYTES)?;
        Ok(SecretPem::new(self.text(name, bytes)?))
    }

    fn text(&self, name: &str, bytes: Vec<u8>) -> Result<String, Error> {
        if let Some(problem) = pem::binary_problem(&bytes) {
            return Err(Error::NotText {
                path: name.to_string(),
                problem,
            });
        }
        String::from_utf8(bytes).map_err(|_| Error::NotText {
            path: name.to_string(),
            problem: "it is not UTF-8 text",
        })
    }

    /// Reads at most `cap` bytes of a regular file of the folder.
    fn read_capped(&self, name: &str, cap: u64) -> Result<Vec<u8>, Error> {
        let Entry::File { real, meta } = self.locate(name)? else {
            return Err(Error::FileNotFound {
                path: name.to_string(),
                workdir: self.root.display().to_string(),
            });
        };
        let too_large = || Error::FileTooLarge {
            path: name.to_string(),
            limit: cap,
        };
        if meta.len() > cap {
            return Err(too_large());
        }
        let file = open_no_follow(&real).map_err(|e| self.io("read", &real, e))?;
        // Checked again on the open file: the name may have changed since `locate`.
        let opened = file.metadata().map_err(|e| self.io("read", &real, e))?;
        if !opened.is_file() {
            return Err(Error::NotARegularFile {
                path: name.to_string(),
                kind: kind_of(&opened),
            });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io("read", &real, e))?;
        if bytes.len() as u64 > cap {
            return Err(too_large());
        }
        Ok(bytes)
    }

    /// Writes a private key atomically: 0600, in a folder mtls makes 0700.
    pub fn write_secret(&self, name: &str, key: &SecretPem, replace: bool) -> Result<(), Error> {
        self.write(name, key.expose_to_file_or_acm(), Secrecy::Secret, replace)
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
        let dir = self.make_folders(name, folders, secrecy)?;
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
    fn make_folders(
        &self,
        name: &str,
        folders: &[&str],
        secrecy: Secrecy,
    ) -> Result<PathBuf, Error> {
        if self.real_root()?.is_none() {
            make_folder(&self.root, secrecy, true)
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
                    make_folder(&next, secrecy, false)
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

    fn io(&self, action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "named pipe (FIFO)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if meta.is_dir() {
        "folder"
    } else {
        "special file"
    }
}

#[cfg(unix)]
fn permission_bits(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permission_bits(_meta: &fs::Metadata) -> u32 {
    0o600
}

/// Opens without following a link at the last component and without blocking on a FIFO.
#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<fs::File> {
    fs::File::open(path)
}

/// Creates one folder (or the whole path) with an explicit mode, whatever the umask.
fn make_folder(path: &Path, secrecy: Secrecy, recursive: bool) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(secrecy.folder_mode());
    }
    builder.create(path)?;
    // DirBuilder's mode is filtered by the umask (never widened): set it exactly.
    set_mode(path, secrecy.folder_mode())
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
        for bad in ["", ".", "/etc/passwd", "../up", "a/../../b", "a/.."] {
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

    #[cfg(unix)]
    #[test]
    fn links_inside_the_folder_work_and_links_out_of_it_are_refused() {
        use std::os::unix::fs::symlink;
        let top = tempfile::tempdir().unwrap();
        let outside = top.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret.pem"), "x").unwrap();
        let work = top.path().join("work");
        fs::create_dir(&work).unwrap();
        fs::write(
            work.join("real.pem"),
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        symlink(work.join("real.pem"), work.join("alias.pem")).unwrap();
        symlink(&outside, work.join("sub")).unwrap();
        symlink(outside.join("secret.pem"), work.join("out.pem")).unwrap();
        symlink(work.join("missing"), work.join("dangling.key")).unwrap();
        let wd = Workdir::new(&work);

        assert!(wd.read_public("alias.pem").unwrap().contains("CERTIFICATE"));
        for name in ["out.pem", "sub/secret.pem"] {
            let err = wd.read_public(name).unwrap_err();
            assert!(
                matches!(err, Error::LinkOutsideWorkdir { .. }),
                "{name}: {err}"
            );
        }
        let err = wd
            .write("sub/new.key", b"k", Secrecy::Secret, false)
            .unwrap_err();
        assert!(matches!(err, Error::LinkOutsideWorkdir { .. }), "{err}");
        assert!(!outside.join("new.key").exists());
        let err = wd
            .write("dangling.key", b"k", Secrecy::Secret, false)
            .unwrap_err();
        assert!(matches!(err, Error::DanglingLink { .. }), "{err}");
        // Replacing a link replaces the link, never the file outside.
        wd.write("out.pem", b"new", Secrecy::Public, true).unwrap();
        assert_eq!(fs::read_to_string(outside.join("secret.pem")).unwrap(), "x");
    }

    #[cfg(unix)]
    #[test]
    fn special_oversized_and_key_bearing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wd = Workdir::new(dir.path());
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo.pem"))
            .status()
            .unwrap();
        assert!(status.success());
        let err = wd.read_public("fifo.pem").unwrap_err();
        assert!(matches!(err, Error::NotARegularFile { .. }), "{err}");
        fs::write(
            dir.path().join("big.pem"),
            vec![b'a'; MAX_FILE_BYTES as usize + 1],
        )
        .unwrap();
        assert!(matches!(
            wd.read_public("big.pem").unwrap_err(),
            Error::FileTooLarge { .. }
        ));
        fs::write(dir.path().join("both.pem"), "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n").unwrap();
        let err = wd.read_public("both.pem").unwrap_err();
        assert!(
            err.to_string().contains("RSA PRIVATE KEY at line 4"),
            "{err}"
        );
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
