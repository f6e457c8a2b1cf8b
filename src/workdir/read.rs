//! Reads: capped in size, of regular files only, through one open that is checked again
//! (no gap between a check and the read); keys only 0600, certificates never a key.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::paths::{kind_of, Entry};
use super::{Workdir, MAX_FILE_BYTES, MAX_KEY_BYTES, MAX_SCRIPT_BYTES};
use crate::error::Error;
use crate::pki::pem;
use crate::pki::SecretPem;

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

impl Workdir {
    /// Reads a public file (certificates): text, at most [`MAX_FILE_BYTES`], and never
    /// one that holds a private key, so what a caller does with it cannot leak one.
    pub fn read_public(&self, name: &str) -> Result<String, Error> {
        self.read_public_up_to(name, MAX_FILE_BYTES)
    }

    /// [`Workdir::read_public`] for a public file allowed to be larger than a certificate
    /// (a revocation list of many entries), at most `cap` bytes.
    pub fn read_public_up_to(&self, name: &str, cap: u64) -> Result<String, Error> {
        let bytes = self.read_capped(name, cap)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workdir::Workdir;

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
}
