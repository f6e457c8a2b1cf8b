//! Names in the working folder: resolved by their text, then followed on real paths, so
//! that no link leads out of the folder and only regular files are read.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::Workdir;
use crate::error::Error;

/// A file named on the command line (`mtls serve --key FILE`): the folder that holds it as a
/// working folder, and the file's name in it. Read through these, it follows the rules every
/// file mtls reads follows: a regular file, no link out of its folder, capped in size, and a
/// key 0600 and text.
pub fn named_file(path: &Path) -> Result<(Workdir, String), Error> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Io {
            action: "read",
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path does not end in a UTF-8 file name",
            ),
        })?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((Workdir::new(folder), name.to_string()))
}

/// What a name in the folder is, once links are followed (inside the folder only).
pub(super) enum Entry {
    Missing,
    File { real: PathBuf, meta: fs::Metadata },
}

impl Workdir {
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
    pub(super) fn parts<'n>(&self, name: &'n str) -> Result<Vec<&'n str>, Error> {
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
    pub(super) fn real_root(&self) -> Result<Option<PathBuf>, Error> {
        match fs::canonicalize(&self.root) {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.io("open the working folder", &self.root, source)),
        }
    }

    /// Follows `name` one component at a time from the real folder, refusing links that
    /// lead out of it or nowhere, and anything at the end that is not a regular file.
    pub(super) fn locate(&self, name: &str) -> Result<Entry, Error> {
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
    pub(super) fn step(
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
}

pub(super) fn kind_of(meta: &fs::Metadata) -> &'static str {
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
pub(super) fn permission_bits(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
pub(super) fn permission_bits(_meta: &fs::Metadata) -> u32 {
    0o600
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workdir::{Secrecy, Workdir};

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
}
