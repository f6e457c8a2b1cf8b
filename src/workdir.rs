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

    /// The names in `folder` (`""` for the working folder itself), links inside the folder
    /// followed; empty when it does not exist. Only a hint of what may exist (for not
    /// asking about thousands of names one by one): callers still read each file through
    /// the checks above.
    pub fn list_folder(&self, folder: &str) -> Result<Vec<String>, Error> {
        let Some(root) = self.real_root()? else {
            return Ok(Vec::new());
        };
        let mut here = root.clone();
        if !folder.is_empty() {
            for part in self.parts(folder)? {
                match self.step(folder, &root, &here, part)? {
                    Some(next) => here = next,
                    None => return Ok(Vec::new()),
                }
            }
        }
        if !fs::metadata(&here).is_ok_and(|m| m.is_dir()) {
            return Ok(Vec::new());
        }
        let entries = fs::read_dir(&here).map_err(|e| self.io("list", &here, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io("list", &here, e))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    /// Whether the public file `name` exists and holds exactly `expected` (so that an
    /// unchanged file is not written again).
    pub fn has_contents(&self, name: &str, expected: &[u8]) -> Result<bool, Error> {
        if !self.exists(name)? {
            return Ok(false);
        }
        match self.read_capped(name, expected.len() as u64) {
            Ok(bytes) => Ok(bytes == expected),
            Err(Error::FileTooLarge { .. }) => Ok(false),
            Err(e) => Err(e),
        }
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
    fn make_folders(&self, name: &str, folders: &[&str]) -> Result<PathBuf, Error> {
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

    fn io(&self, action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

/// One file of a [`Batch`]: key text (0600), other private bytes (0600) or public bytes (0644).
#[derive(Clone, Copy)]
pub enum BatchFile<'a> {
    /// A private key: mode 0600.
    Secret(&'a SecretPem),
    /// Bytes only their owner may read that are not key text (a PKCS#12 bundle): mode 0600.
    Private(&'a [u8]),
    /// A certificate or other public data: mode 0644.
    Public(&'a [u8]),
}

/// The end of the temporary names of a batch: `.<file>.mtls-batch.tmp`.
const BATCH_TMP_SUFFIX: &str = ".mtls-batch.tmp";

/// Many files of one folder written together, durable once, at the end.
///
/// [`Workdir::write`] flushes every file and the folder: two disk syncs per file, which for
/// thousands of files costs far more than making them. A batch writes each file to a
/// temporary name (`.<file>.mtls-batch.tmp`, created exclusively, with its final mode from
/// the start, never following a link), without syncing. [`Batch::commit`] then makes the
/// data of all of them durable at once (`syncfs(2)` on the folder's file system on Linux;
/// elsewhere an fsync of each file from a pool of threads), and only then renames them to
/// their names (never over an existing file unless asked to), a group's files in the
/// order given, and syncs the folder once. So a name, once it exists, always holds the
/// whole file, even after a power cut; an interrupted batch leaves only temporary names,
/// which [`Batch::remove_stale`] clears on the next run, and a batch dropped before its
/// commit removes its own.
pub struct Batch {
    /// The real path of the folder.
    dir: PathBuf,
    /// The folder as the script named it, for messages ("" for the working folder).
    shown: String,
    /// The process's umask when it can be read without changing it (Linux).
    umask: Option<u32>,
    staged: std::sync::Mutex<Vec<Vec<StagedFile>>>,
}

struct StagedFile {
    tmp: PathBuf,
    dest: PathBuf,
    replace: bool,
}

impl Workdir {
    /// A batch of files in `folder` (a relative folder of the working folder, `""` for the
    /// folder itself), made 0700 when it does not exist (batches hold keys).
    pub fn batch(&self, folder: &str) -> Result<Batch, Error> {
        let folders = if folder.is_empty() {
            Vec::new()
        } else {
            self.parts(folder)?
        };
        let dir = self.make_folders(folder, &folders)?;
        Ok(Batch {
            dir,
            shown: folder.to_string(),
            umask: read_umask(),
            staged: std::sync::Mutex::new(Vec::new()),
        })
    }
}

impl Batch {
    fn shown(&self, name: &str) -> String {
        if self.shown.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.shown.trim_end_matches('/'))
        }
    }

    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.display().to_string();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// Removes the temporary files an interrupted batch left for names starting with
    /// `file_prefix`; returns how many.
    pub fn remove_stale(&self, file_prefix: &str) -> Result<usize, Error> {
        let mut removed = 0;
        let entries = fs::read_dir(&self.dir).map_err(self.io("list", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(self.io("list", &self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(BATCH_TMP_SUFFIX))
                .is_some_and(|n| n.starts_with(file_prefix));
            if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
                let path = entry.path();
                fs::remove_file(&path).map_err(self.io("remove", &path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Writes one group of files (a key and its certificate) to their temporary names. May
    /// be called from many threads at once. `replace`: the file may replace an existing one.
    pub fn stage(&self, files: &[(&str, BatchFile<'_>, bool)]) -> Result<(), Error> {
        let mut group = Vec::with_capacity(files.len());
        let result = (|| {
            for (name, file, replace) in files {
                if name.is_empty() || name.contains('/') || name.starts_with('.') {
                    return Err(Error::PathOutsideWorkdir {
                        path: self.shown(name),
                        workdir: self.dir.display().to_string(),
                    });
                }
                let tmp = self.dir.join(format!(".{name}{BATCH_TMP_SUFFIX}"));
                let (bytes, secrecy) = match file {
                    BatchFile::Secret(key) => (key_bytes(key), Secrecy::Secret),
                    BatchFile::Private(bytes) => (*bytes, Secrecy::Secret),
                    BatchFile::Public(bytes) => (*bytes, Secrecy::Public),
                };
                let mut f = create_exclusive(&tmp, secrecy.file_mode())
                    .map_err(self.io("create a temporary file for", &tmp))?;
                group.push(StagedFile {
                    tmp: tmp.clone(),
                    dest: self.dir.join(name),
                    replace: *replace,
                });
                f.write_all(bytes).map_err(self.io("write", &tmp))?;
                // The mode given at creation is exact unless the umask took bits from it.
                if self.umask.map_or(true, |u| secrecy.file_mode() & u != 0) {
                    set_file_mode(&f, secrecy.file_mode())
                        .map_err(self.io("set permissions of", &tmp))?;
                }
            }
            Ok(())
        })();
        if result.is_err() {
            for f in &group {
                let _ = fs::remove_file(&f.tmp);
            }
            return result;
        }
        self.staged
            .lock()
            .map_err(|_| Error::internal("stage a file", "a writer thread panicked"))?
            .push(group);
        Ok(())
    }

    /// Makes every staged file durable, then gives each its name, then makes the names
    /// durable. On an error, the files not yet renamed are removed.
    pub fn commit(self) -> Result<(), Error> {
        use rayon::prelude::*;
        let groups = std::mem::take(
            &mut *self
                .staged
                .lock()
                .map_err(|_| Error::internal("commit files", "a writer thread panicked"))?,
        );
        let dir = fs::File::open(&self.dir).map_err(self.io("open", &self.dir))?;
        let restage = |groups: Vec<Vec<StagedFile>>| {
            if let Ok(mut staged) = self.staged.lock() {
                *staged = groups;
            }
        };
        if let Err(e) = sync_data(&dir, &groups) {
            restage(groups);
            return Err(self.io("flush the files of", &self.dir)(e));
        }
        let failed: Vec<(Vec<StagedFile>, Error)> = groups
            .into_par_iter()
            .filter_map(|group| {
                for (i, f) in group.iter().enumerate() {
                    if let Err(e) = rename_into_place(&f.tmp, &f.dest, f.replace) {
                        let action = if f.replace { "replace" } else { "create" };
                        let err = self.io(action, &f.dest)(e);
                        return Some((group.into_iter().skip(i).collect(), err));
                    }
                }
                None
            })
            .collect();
        let sync = dir.sync_all();
        if let Some((_, first)) = failed.first() {
            let message = first.to_string();
            restage(failed.into_iter().map(|(g, _)| g).collect());
            return Err(Error::Io {
                action: "give their names to",
                path: self.dir.display().to_string(),
                source: std::io::Error::other(message),
            });
        }
        sync.map_err(self.io("flush the folder", &self.dir))
    }
}

impl Drop for Batch {
    /// Removes the temporary files of a batch that was not committed.
    fn drop(&mut self) {
        if let Ok(staged) = self.staged.get_mut() {
            for f in staged.iter().flatten() {
                let _ = fs::remove_file(&f.tmp);
            }
        }
    }
}

/// The umask, from `/proc/self/status` (setting it to read it would race with other
/// threads creating files).
fn read_umask() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// Creates a new file (never an existing one, never through a link) with `mode`.
fn create_exclusive(path: &Path, mode: u32) -> std::io::Result<fs::File> {
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
fn set_file_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Makes the data of every staged file durable: one `syncfs(2)` of the folder's file system
/// on Linux (one journal commit, whatever the number of files), elsewhere an fsync of each
/// file from a pool of threads.
fn sync_data(dir: &fs::File, groups: &[Vec<StagedFile>]) -> std::io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::AsRawFd;
        let _ = groups;
        // SAFETY: syncfs only reads the descriptor, which `dir` keeps open.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use rayon::prelude::*;
        let _ = dir;
        groups
            .par_iter()
            .flatten()
            .try_for_each(|f| fs::File::open(&f.tmp)?.sync_all())
    }
}

/// Renames `tmp` to `dest`; without `replace`, never over an existing file (or link).
fn rename_into_place(tmp: &Path, dest: &Path, replace: bool) -> std::io::Result<()> {
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
fn key_bytes(key: &SecretPem) -> &[u8] {
    key.expose_to(&KeyFileWriter(()))
}

/// The capability to take a key's bytes for a 0600 key file: the private field means only
/// this module can make one (see [`crate::pki::KeyDestination`]).
pub struct KeyFileWriter(());

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

/// The mode of every folder mtls makes: only its owner may list or enter it. A folder made
/// for a certificate may later hold a key (`issue_clients`, a `--var cert=x/y/z.pem`
/// beside its key), and a listing shows device names, so no folder is made wider.
const FOLDER_MODE: u32 = 0o700;

/// Creates one folder (or the whole path) with [`FOLDER_MODE`], whatever the umask.
fn make_folder(path: &Path, recursive: bool) -> std::io::Result<()> {
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
    fn a_batch_names_files_only_at_commit_never_clobbers_and_leaves_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let wd = Workdir::new(dir.path());
        let names = |sub: &str| -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(dir.path().join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let key = SecretPem::new("key".into());
        let batch = wd.batch("fleet").unwrap();
        batch
            .stage(&[
                ("a.key", BatchFile::Secret(&key), false),
                ("a.pem", BatchFile::Public(b"cert"), false),
            ])
            .unwrap();
        assert!(
            !dir.path().join("fleet/a.key").exists(),
            "named before commit"
        );
        batch.commit().unwrap();
        assert_eq!(names("fleet"), ["a.key", "a.pem"]);
        let mode = |n: &str| {
            fs::metadata(dir.path().join(n))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("fleet"), 0o700);
        assert_eq!(mode("fleet/a.key"), 0o600);
        assert_eq!(mode("fleet/a.pem"), 0o644);
        assert_eq!(fs::read(dir.path().join("fleet/a.key")).unwrap(), b"key");

        // An existing name is never replaced unless asked; the failed batch cleans up.
        let batch = wd.batch("fleet").unwrap();
        batch
            .stage(&[("a.pem", BatchFile::Public(b"other"), false)])
            .unwrap();
        assert!(batch.commit().is_err());
        assert_eq!(fs::read(dir.path().join("fleet/a.pem")).unwrap(), b"cert");
        assert_eq!(names("fleet"), ["a.key", "a.pem"]);
        let batch = wd.batch("fleet").unwrap();
        batch
            .stage(&[("a.pem", BatchFile::Public(b"new"), true)])
            .unwrap();
        batch.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("fleet/a.pem")).unwrap(), b"new");

        // A batch dropped before its commit removes its files; stale ones of an
        // interrupted batch are removed by prefix, nothing else.
        let batch = wd.batch("fleet").unwrap();
        batch
            .stage(&[("b.pem", BatchFile::Public(b"x"), false)])
            .unwrap();
        assert!(names("fleet").iter().any(|n| n.ends_with(".tmp")));
        drop(batch);
        assert_eq!(names("fleet"), ["a.key", "a.pem"]);
        for stale in [".dev-1.key.mtls-batch.tmp", ".other-1.key.mtls-batch.tmp"] {
            fs::write(dir.path().join("fleet").join(stale), "").unwrap();
        }
        let batch = wd.batch("fleet").unwrap();
        assert_eq!(batch.remove_stale("dev-").unwrap(), 1);
        assert_eq!(
            names("fleet"),
            [".other-1.key.mtls-batch.tmp", "a.key", "a.pem"]
        );
        // Names with a folder part, or hidden, are not batch file names.
        assert!(batch
            .stage(&[("../x.pem", BatchFile::Public(b"x"), false)])
            .is_err());
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
