//! Pinned Python tools (moto, pkilint) in venvs of their own, made on first use.
//!
//! A tool's versions are pinned in a requirements file under `.ci/`; its venv is at the
//! directory an environment variable names, or under `target/`. It is installed once: a lock
//! directory keeps parallel test binaries from installing at the same time, and a marker
//! file holding the requirements makes a change of pin reinstall.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A Python tool the tests run, and where its venv lives.
pub struct PinnedTool {
    /// What the tool is called in messages (`moto`).
    pub name: &'static str,
    /// The variable naming its venv (`MTLS_MOTO_VENV`).
    pub venv_var: &'static str,
    /// Its venv under `target/` when the variable is unset (`moto-venv`).
    pub default_venv: &'static str,
    /// Its pinned requirements under `.ci/` (`moto-requirements.txt`).
    pub requirements: &'static str,
    /// The program to run, in the venv's `bin/` (`moto_server`).
    pub program: &'static str,
}

impl PinnedTool {
    /// The venv, from the tool's variable or under `target/`.
    pub fn venv_dir(&self) -> PathBuf {
        match std::env::var_os(self.venv_var) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => crate_dir().join("target").join(self.default_venv),
        }
    }

    /// Installs the pinned requirements into the venv unless they are there; returns the
    /// program's path.
    pub fn ensure_installed(&self) -> PathBuf {
        static IN_PROCESS: Mutex<()> = Mutex::new(());
        let _guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let venv = self.venv_dir();
        let requirements = crate_dir().join(".ci").join(self.requirements);
        let wanted = fs::read_to_string(&requirements)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()));
        let program = venv.join("bin").join(self.program);
        let marker = venv.join(".mtls-requirements");
        let ready =
            || program.exists() && fs::read_to_string(&marker).ok().as_deref() == Some(&*wanted);
        if ready() {
            return program;
        }
        let _lock = DirLock::acquire(&venv.with_extension("lock"));
        if ready() {
            return program;
        }
        let python = std::env::var("MTLS_PYTHON").unwrap_or_else(|_| "python3".to_string());
        if let Some(parent) = venv.parent() {
            let _ = fs::create_dir_all(parent);
        }
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            &format!("create the {} venv", self.name),
        );
        run(
            Command::new(venv.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
            &format!("install {} with pip", self.name),
        );
        fs::write(&marker, &wanted)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
        program
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot {what}: {e} (is python3 with venv installed?)"));
    assert!(
        output.status.success(),
        "cannot {what}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A lock across processes: a directory only one can create; one older than 15 minutes
/// is taken to be left by a killed process.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> DirLock {
        let start = Instant::now();
        if let Some(parent) = path.parent() {
            let _ = fs::create_dir_all(parent);
        }
        loop {
            match fs::create_dir(path) {
                Ok(()) => return DirLock(path.to_path_buf()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(15 * 60));
                    if stale {
                        let _ = fs::remove_dir(path);
                    } else {
                        assert!(
                            start.elapsed() < Duration::from_secs(20 * 60),
                            "waited 20 minutes for {}",
                            path.display()
                        );
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}
