//! Rules the code's shape must keep, checked on the source itself where the compiler cannot
//! check them:
//! - key text stays in its lane. The compiler sees to most of it: `SecretPem::expose_to`
//!   takes a sealed capability only the 0600 file writer (src/workdir/write.rs), ACM's
//!   ImportCertificate (src/aws/acm.rs) and the PKCS#12 encoder (src/pki/pkcs12.rs, which
//!   encrypts it into a key bag) can make, and the key's DER leaves src/pki/secret.rs only
//!   into that encoder. What it cannot see is checked here: a new method of `SecretPem`
//!   that reads its text, and a key pair serialised again outside src/pki/secret.rs;
//! - the effects backend owns the mode. `Effects::mode()` is private, `may_read()` takes a
//!   capability that only the AWS read gate can make, and scripts have no `is_plan()` (a plan
//!   shows what a run does). What is left is checked here: no primitive, and no AWS or PKI code,
//!   names the `Mode` type or reads the journal (`Effects::plan()`, which carries the mode).
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

/// The lines of a file outside its `#[cfg(test)] mod ... { ... }` blocks (test modules may
/// handle keys as they like), each with its 1-based number. A test module ends at the first
/// `}` indented as its `mod` line.
fn non_test_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push((i + 1, line));
            continue;
        }
        let Some((j, item)) = lines.next() else { break };
        let indent = &item[..item.len() - item.trim_start().len()];
        if !(item.trim_start().starts_with("mod ") && item.ends_with('{')) {
            // A test-only item that is not a module is checked like any other code.
            out.push((j + 1, item));
            continue;
        }
        let close = format!("{indent}}}");
        for (_, inner) in lines.by_ref() {
            if inner == close {
                break;
            }
        }
    }
    out
}

/// The code of a file outside its test modules, as one text.
fn non_test_code(text: &str) -> String {
    non_test_lines(text)
        .into_iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

/// The files of test modules declared in a file of their own (`#[cfg(test)]` then
/// `mod tests;`): test code as a whole, as an inline test module is.
fn test_module_files(files: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        // A mod.rs declares its modules beside it; any other x.rs, in the folder x/.
        let dir = match file.file_stem().and_then(|s| s.to_str()) {
            Some("mod" | "lib" | "main") => file.parent().unwrap().to_path_buf(),
            _ => file.with_extension(""),
        };
        for pair in lines.windows(2) {
            let name = pair[1]
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'));
            if let (true, Some(name)) = (pair[0] == "#[cfg(test)]", name) {
                out.push(dir.join(format!("{name}.rs")));
                out.push(dir.join(name).join("mod.rs"));
            }
        }
    }
    out
}

/// `file:line` of every line of src/'s non-test code that is `wanted`.
fn lines_with(wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tests = test_module_files(&files);
    files.retain(|f| !tests.contains(f));
    let mut callers = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in non_test_lines(&text) {
            if wanted(line) {
                let rel = file.strip_prefix(&src).unwrap().display().to_string();
                callers.push(format!("{rel}:{number}"));
            }
        }
    }
    callers
}

/// Whether `line` names `word` as a whole identifier.
fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        !line[..at].ends_with(ident) && !line[at + word.len()..].starts_with(ident)
    })
}

/// The methods of `SecretPem` (src/pki/secret.rs) whose body reads the key text.
fn secret_text_readers() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pki/secret.rs");
    let text = std::fs::read_to_string(path).unwrap();
    let code = non_test_code(&text);
    let mut readers = Vec::new();
    // Each method runs from its `fn` to the next one; the struct's own braces hold no `fn`.
    for piece in code.split(" fn ").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if piece.contains("self.text") {
            readers.push(name);
        }
    }
    readers
}

#[test]
fn only_the_reviewed_methods_read_the_key_text() {
    // Each returns the text only to a KeyDestination, parsed into a key (rcgen's, rustls's), or as a fact
    // about it (labels, encrypted, length, RSA size, the Debug that shows the length).
    // A new method here is a new way out for key bytes: review it, then add it.
    assert_eq!(
        secret_text_readers(),
        [
            "key_pair",
            "tls_key",
            "expose_to",
            "labels",
            "is_encrypted",
            "len",
            "rsa_modulus_bits",
            "fmt"
        ]
    );
}

#[test]
fn key_pairs_are_serialised_only_into_a_secret() {
    // rcgen's `KeyPair` is not ours, so its `serialize_pem()` / `serialize_der()` cannot be
    // hidden: outside the tests, only `SecretPem::of_key_pair` may call them.
    let mut callers: Vec<String> = ["serialize_pem", "serialize_der", "serialized_der"]
        .iter()
        .flat_map(|m| lines_with(|l| has_word(l, m)))
        .collect();
    callers.sort();
    let places: Vec<&str> = callers
        .iter()
        .map(|c| c.split(':').next().unwrap())
        .collect();
    assert_eq!(places, ["pki/secret.rs"], "{callers:?}");
}

#[test]
fn no_primitive_names_the_mode() {
    // Primitives (src/script/primitives) and the AWS and PKI layers cannot call
    // `Effects::mode()` or `may_read()` (see the top of this file), and scripts have no
    // `is_plan()`: a plan shows what a run does. The journal
    // still carries the mode, as the `Mode` type: they name neither.
    let asks: Vec<String> = lines_with(|l| has_word(l, "Mode") || l.contains(".plan()"))
        .into_iter()
        .filter(|l| {
            ["script/primitives/", "aws/", "pki/"]
                .iter()
                .any(|d| l.starts_with(d))
        })
        .collect();
    assert_eq!(asks, Vec::<String>::new());
}

#[test]
fn the_rules_see_what_they_look_for() {
    // Negative controls of the helpers above, so a rule cannot pass by seeing nothing.
    assert!(has_word("use crate::effects::Mode;", "Mode"));
    assert!(!has_word("let KeyMode = 1; fn mode()", "Mode"));
    assert!(has_word("let s = key.serialize_pem();", "serialize_pem"));
    let file = "a\n#[cfg(test)]\nmod tests {\n    b\n}\nc\n#[cfg(test)]\nfn d() {}\ne\n";
    assert_eq!(non_test_code(file), "a\nc\nfn d() {}\ne\n");
    assert!(!lines_with(|l| l.contains("fn expose_to")).is_empty());
    // Test modules in files of their own are found, and only they.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tests = test_module_files(&files);
    assert!(tests.contains(&src.join("pki/lint/tests.rs")), "{tests:?}");
    assert!(!tests.contains(&src.join("pki/lint/rules.rs")), "{tests:?}");
}
