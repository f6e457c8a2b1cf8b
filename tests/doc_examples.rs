//! The console examples of README.md and docs/*.md are run against the binary (trycmd, as
//! clap and cargo test their docs): a `$ mtls ...` line in a ```console block runs, and what
//! it prints must match the text below it (`...` stands for lines left out, `[..]` for part
//! of a line). So no example can drift from what mtls does.

#[test]
fn console_examples_in_the_docs_run_as_shown() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("mtls", std::path::Path::new(env!("CARGO_BIN_EXE_mtls")))
        .env("NO_COLOR", "1")
        .case(root.join("README.md"));
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "md") {
                cases.case(entry.path());
            }
        }
    }
}
