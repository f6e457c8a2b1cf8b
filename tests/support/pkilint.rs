//! DigiCert's pkilint, an RFC 5280 certificate linter independent of mtls, for the
//! conformance test of what mtls issues.
//!
//! The versions are pinned in `.ci/pkilint-requirements.txt`; they are installed into a venv
//! of their own at `$MTLS_PKILINT_VENV`, or `target/pkilint-venv` under the crate, once
//! (see `venv.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::venv;

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

/// pkilint, pinned in `.ci/pkilint-requirements.txt`.
const PKILINT: venv::PinnedTool = venv::PinnedTool {
    name: "pkilint",
    venv_var: "MTLS_PKILINT_VENV",
    default_venv: "pkilint-venv",
    requirements: "pkilint-requirements.txt",
    program: "lint_pkix_cert",
};

/// The venv holding pkilint, from `MTLS_PKILINT_VENV` or `target/pkilint-venv`.
pub fn venv_dir() -> PathBuf {
    PKILINT.venv_dir()
}

/// Installs the pinned pkilint into its venv unless it is there; returns the path of
/// `lint_pkix_cert`.
fn ensure_installed() -> PathBuf {
    PKILINT.ensure_installed()
}
