//! The code itself keeps key text in its lane: `SecretPem`'s bytes are taken in exactly
//! two places, the 0600 file writer and ACM's ImportCertificate private key field. A new
//! caller anywhere else (an S3 body, a log line) makes this test fail until it is reviewed.

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

#[test]
fn secret_bytes_leave_only_through_the_key_file_and_acm_import() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut callers = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains(".expose_to_file_or_acm()") {
                let rel = file.strip_prefix(&src).unwrap().display().to_string();
                callers.push(format!("{rel}:{}", i + 1));
            }
        }
    }
    callers.sort();
    let places: Vec<&str> = callers
        .iter()
        .map(|c| c.split(':').next().unwrap())
        .collect();
    assert_eq!(places, ["aws/acm.rs", "workdir.rs"], "{callers:?}");
}
