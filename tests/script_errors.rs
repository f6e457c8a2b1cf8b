//! Script mistakes end in a clear error that points at the file, line and source line.

use crate::support;

use std::fs;

use support::cli::mtls;

fn run_script(text: &str, extra: &[&str]) -> support::cli::Run {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("flow.rhai"), text).unwrap();
    let mut args = vec!["run", "flow.rhai"];
    args.extend_from_slice(extra);
    let out = mtls(tmp.path(), &args);
    // Whatever failed, no half-made file may be left behind.
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "files left behind: {left:?}");
    out
}

#[test]
fn syntax_error_shows_line_and_source() {
    let out = run_script("let a = 1;\nlet b = (2 + ;\n", &[]).failure();
    assert!(out.stderr.contains("flow.rhai:2:"), "{}", out.stderr);
    assert!(out.stderr.contains("let b = (2 + ;"), "{}", out.stderr);
    assert!(out.stderr.contains("syntax error"), "{}", out.stderr);
}

#[test]
fn wrong_argument_type_shows_line_and_source() {
    let out = run_script("let x = 1;\n\nlet root = gen_root_ca(42);\n", &[]).failure();
    assert!(out.stderr.contains("flow.rhai:3:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("let root = gen_root_ca(42);"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("mtls functions"), "{}", out.stderr);
}

#[test]
fn wrong_option_type_names_the_function_and_argument() {
    let out = run_script("gen_root_ca(#{ days: \"forever\" });\n", &[]).failure();
    assert!(
        out.stderr
            .contains("issue_cert: argument `days`: expected an integer"),
        "{}",
        out.stderr
    );
    // The user's line is shown as the call site, the stdlib line as the failure.
    assert!(out.stderr.contains("flow.rhai:1:"), "{}", out.stderr);
    assert!(out.stderr.contains("stdlib/pki.rhai"), "{}", out.stderr);
}

#[test]
fn unknown_option_is_an_error_not_a_silent_default() {
    let out = run_script("gen_root_ca(#{ algoritm: \"ecdsa-p256\" });\n", &[]).failure();
    assert!(
        out.stderr.contains("argument `algoritm`: unknown option"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_var_says_which_flag_to_pass() {
    let out = run_script("// header\nlet d = get_var(\"domain\");\n", &[]).failure();
    assert!(
        out.stderr.contains("missing variable `domain`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--var domain=VALUE"), "{}", out.stderr);
    assert!(out.stderr.contains("flow.rhai:2:"), "{}", out.stderr);
}

#[test]
fn unknown_function_and_variable_are_reported() {
    let out = run_script("gen_rooot_ca(#{});\n", &[]).failure();
    assert!(
        out.stderr.contains("no function gen_rooot_ca"),
        "{}",
        out.stderr
    );
    let out = run_script("print(domian);\n", &[]).failure();
    assert!(out.stderr.contains("domian"), "{}", out.stderr);
    assert!(out.stderr.contains("flow.rhai:1:"), "{}", out.stderr);
}

#[test]
fn runaway_scripts_are_stopped() {
    let out = run_script("let i = 0;\nloop { i += 1; }\n", &[]).failure();
    assert!(out.stderr.contains("too many operations"), "{}", out.stderr);
    let out = run_script("fn f(n) { f(n + 1) }\nf(0);\n", &[]).failure();
    assert!(
        out.stderr.contains("nested too deeply") || out.stderr.contains("too deep"),
        "{}",
        out.stderr
    );
}

#[test]
fn paths_outside_the_working_folder_are_refused() {
    let out = run_script("gen_root_ca(#{ key: \"../RootCA.key\" });\n", &[]).failure();
    assert!(
        out.stderr.contains("outside the working folder"),
        "{}",
        out.stderr
    );
    let out = run_script("gen_root_ca(#{ cert: \"/tmp/RootCA.pem\" });\n", &[]).failure();
    assert!(
        out.stderr.contains("outside the working folder"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_var_flag_and_missing_script_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mtls(tmp.path(), &["run", "pki.rhai", "--var", "domain"]).failure();
    assert!(out.stderr.contains("NAME=VALUE"), "{}", out.stderr);
    let out = mtls(tmp.path(), &["run", "nope.rhai"]).failure();
    assert!(
        out.stderr.contains("no script \"nope.rhai\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("pki.rhai"), "{}", out.stderr);
}
