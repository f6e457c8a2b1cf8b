//! DigiCert's pkilint, an RFC 5280 certificate linter independent of mtls, for the
//! conformance test of what mtls issues.
//!
//! The versions are pinned in `.ci/pkilint-requirements.txt`; they are installed into a venv
//! of their own at `$MTLS_PKILINT_VENV`, or `target/pkilint-venv` under the crate, once (a
//! lock directory keeps parallel test binaries from installing at the same time; a marker
//! file holding the requirements makes a change of pin reinstall).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One finding of pkilint: its severity (`FATAL`, `ERROR`, `WARNING`, ...), code and message.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub node: String,
}

/// Runs `lint_pkix_cert lint` over the PEM certificate at `path` and returns what it
/// reports at WARNING or worse. Panics when pkilint cannot run or answers something else
/// than its JSON document.
pub fn lint_pkix_cert(path: &Path) -> Vec<Finding> {
    let bin = ensure_installed();
    let out = Command::new(&bin)
        .args(["lint", "--severity", "WARNING", "--format", "JSON"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "pkilint did not answer JSON for {} ({e}; {}):\n{stdout}\n{}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut findings = Vec::new();
    for result in doc["results"].as_array().expect("pkilint results") {
        for f in result["finding_descriptions"].as_array().expect("findings") {
            findings.push(Finding {
                severity: f["severity"].as_str().unwrap_or_default().to_string(),
                code: f["code"].as_str().unwrap_or_default().to_string(),
                message: f["message"].as_str().unwrap_or_default().to_string(),
                node: result["node_path"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    findings
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv holding pkilint, from `MTLS_PKILINT_VENV` or `target/pkilint-venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("MTLS_PKILINT_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => crate_dir().join("target").join("pkilint-venv"),
    }
}

/// Installs the pinned pkilint into its venv unless it is there; returns the path of
/// `lint_pkix_cert`.
fn ensure_installed() -> PathBuf {
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let venv = venv_dir();
    let requirements = crate_dir().join(".ci").join("pkilint-requirements.txt");
    let wanted = fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()));
    let bin = venv.join("bin").join("lint_pkix_cert");
    let marker = venv.join(".mtls-requirements");
    let ready = || bin.exists() && fs::read_to_string(&marker).ok().as_deref() == Some(&*wanted);
    if ready() {
        return bin;
    }
    let lock = venv.with_extension("lock");
    let _lock = DirLock::acquire(&lock);
    if ready() {
        return bin;
    }
    let python = std::env::var("MTLS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    if let Some(parent) = venv.parent() {
        let _ = fs::create_dir_all(parent);
    }
    run(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "create the pkilint venv",
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
        "install pkilint with pip",
    );
    fs::write(&marker, &wanted)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
    bin
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
