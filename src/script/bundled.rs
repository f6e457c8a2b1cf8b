//! The stdlib and scripts compiled into the binary, so `mtls run setup.rhai` works from any
//! folder. `mtls init DIR` writes editable copies of these files.

/// A file shipped inside the binary.
#[derive(Debug, Clone, Copy)]
pub struct BundledFile {
    /// Path relative to the repository root (`stdlib/pki.rhai`), shown in errors.
    pub path: &'static str,
    /// The file's text.
    pub source: &'static str,
}

macro_rules! bundle {
    ($($path:literal),* $(,)?) => {
        &[$(BundledFile { path: $path, source: include_str!(concat!("../../", $path)) }),*]
    };
}

/// The step library, one file per part of the walkthrough. Order matters only for
/// `mtls functions`, which lists them in this order.
pub const STDLIB: &[BundledFile] = bundle![
    "stdlib/pki.rhai",
    "stdlib/dns.rhai",
    "stdlib/truststore.rhai",
    "stdlib/acm.rhai",
    "stdlib/api.rhai",
    "stdlib/domain.rhai",
    "stdlib/revocation.rhai",
    "stdlib/probe.rhai",
    "stdlib/adopt.rhai",
];

/// The flows users run.
pub const SCRIPTS: &[BundledFile] = bundle![
    "scripts/pki.rhai",
    "scripts/setup.rhai",
    "scripts/teardown.rhai",
    "scripts/rehearse.rhai",
    "scripts/issue_clients.rhai",
    "scripts/sign_csr.rhai",
    "scripts/revoke.rhai",
    "scripts/rollover.rhai",
];

/// The bundled script called `name` (`setup.rhai`, or `setup`).
pub fn script(name: &str) -> Option<&'static BundledFile> {
    SCRIPTS.iter().find(|f| {
        let file = f.path.trim_start_matches("scripts/");
        file == name || file.strip_suffix(".rhai") == Some(name)
    })
}

/// The names of the bundled scripts, for error messages.
pub fn script_names() -> Vec<&'static str> {
    SCRIPTS
        .iter()
        .map(|f| f.path.trim_start_matches("scripts/"))
        .collect()
}
