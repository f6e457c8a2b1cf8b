//! Rules the code's shape must keep, checked on the source itself:
//! - key text stays in its lane: `SecretPem`'s bytes are taken in exactly two places, the
//!   0600 file writer and ACM's ImportCertificate private key field;
//! - the effects backend owns the mode: no primitive asks whether the run is a plan.
//!
//! A new caller anywhere else makes a test fail until it is reviewed.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line` of every line of src/ (tests modules included) that contains `needle`.
fn lines_with(needle: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut callers = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains(needle) {
                let rel = file.strip_prefix(&src).unwrap().display().to_string();
                callers.push(format!("{rel}:{}", i + 1));
            }
        }
    }
    callers
}

#[test]
fn secret_bytes_leave_only_through_the_key_file_and_acm_import() {
    let mut callers = lines_with(".expose_to_file_or_acm()");
    callers.sort();
    let places: Vec<&str> = callers
        .iter()
        .map(|c| c.split(':').next().unwrap())
        .collect();
    assert_eq!(places, ["aws/acm.rs", "workdir.rs"], "{callers:?}");
}

#[test]
fn no_primitive_asks_for_the_mode() {
    // Primitives (src/script/primitives) and the AWS and PKI layers never ask, and neither
    // can scripts (there is no `is_plan()`: a plan shows what a run does). (The runtime,
    // the CLI and `mtls functions`' scratch engine choose a backend; they do not ask.)
    let mut asks: Vec<String> = lines_with(".is_plan()")
        .into_iter()
        .chain(lines_with("Mode::Plan"))
        .chain(lines_with("Mode::Live"))
        .filter(|l| {
            ["script/primitives/", "aws/", "pki/"]
                .iter()
                .any(|d| l.starts_with(d))
        })
        .collect();
    asks.sort();
    let places: Vec<&str> = asks.iter().map(|c| c.split(':').next().unwrap()).collect();
    assert_eq!(places, Vec::<&str>::new(), "{asks:?}");
}
