//! Batches: many files of one folder written together, durable once, at the end.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::write::{create_exclusive, key_bytes, read_umask, rename_into_place, set_file_mode};
use super::{Secrecy, Workdir};
use crate::error::Error;
use crate::pki::SecretPem;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workdir::Workdir;

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
}
