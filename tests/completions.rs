//! `mtls completions SHELL`: scripts generated from the clap definition, which the shells
//! accept. bash, zsh and fish are all checked (`.ci/run` installs them); a missing zsh or fish
//! fails its test unless `MTLS_TEST_SKIP_SHELLS=1` says, on purpose, to skip it.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mtls");

fn completions(shell: &str) -> String {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .env("NO_COLOR", "1")
        .output()
        .expect("run mtls");
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{shell}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the test of `program`'s parser should run: yes when it is installed; when it is
/// missing, the test fails, unless `MTLS_TEST_SKIP_SHELLS=1` was set on purpose (a silent skip
/// would let CI pass without ever parsing the script).
fn shell_available(program: &str) -> bool {
    if installed(program) {
        return true;
    }
    let skip = std::env::var("MTLS_TEST_SKIP_SHELLS").is_ok_and(|v| v == "1");
    assert!(
        skip,
        "{program} is not installed: install it (`.ci/run` does) or set MTLS_TEST_SKIP_SHELLS=1 to skip this test on purpose"
    );
    eprintln!("{program} is not installed and MTLS_TEST_SKIP_SHELLS=1: skipped");
    false
}

/// Runs `program ARGS` and asserts it succeeds.
fn check(program: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        for word in [
            "run",
            "plan",
            "functions",
            "serve",
            "init",
            "completions",
            "check",
            "expiring",
            // Options as each shell spells them (fish: `-l detailed-exitcode`).
            "detailed-exitcode",
            "dry-run",
        ] {
            assert!(script.contains(word), "{shell}: no {word:?} in:\n{script}");
        }
        assert!(!script.contains('\x1b'), "{shell}: escape codes");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash"));
}

#[test]
fn bash_parses_the_script_and_completes_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("mtls.bash"), completions("bash")).unwrap();
    check("bash", &["-n", "mtls.bash"], tmp.path());

    // What `complete -F _mtls mtls` would offer after `mtls pl<TAB>` and after
    // `mtls plan --det<TAB>`.
    let complete = |words: &str| {
        let line = format!(
            "source ./mtls.bash; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _mtls mtls \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        check("bash", &["-c", &line], tmp.path())
    };
    assert_eq!(complete("mtls pl").trim(), "plan");
    assert!(complete("mtls plan --det")
        .lines()
        .any(|l| l == "--detailed-exitcode"));
    let shells = complete("mtls completions ''");
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.lines().any(|l| l == shell), "{shells}");
    }
}

#[test]
fn zsh_parses_the_script() {
    if !shell_available("zsh") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("_mtls"), completions("zsh")).unwrap();
    check("zsh", &["-n", "_mtls"], tmp.path());
}

#[test]
fn fish_parses_the_script() {
    if !shell_available("fish") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("mtls.fish"), completions("fish")).unwrap();
    check("fish", &["--no-execute", "mtls.fish"], tmp.path());
}
