//! `mtls functions`, `mtls init` and `--help`: the commands around running scripts.

use crate::support;

use std::fs;

use support::cli::mtls;

#[test]
fn functions_lists_primitives_and_stdlib_steps_with_docs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mtls(tmp.path(), &["functions"]).success();
    for name in [
        "issue_cert(opts: map) -> map",
        "get_var(name: string) -> string",
        "gen_root_ca(opts)",
        "gen_server_cert(ca, domain, opts)",
    ] {
        assert!(out.stdout.contains(name), "{name} missing:\n{}", out.stdout);
    }
    assert!(
        out.stdout.contains("Step 2: the self-signed root CA"),
        "{}",
        out.stdout
    );

    let json = mtls(tmp.path(), &["functions", "--format", "json"]).success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let all = v.as_array().unwrap();
    assert!(
        all.iter().all(|f| !f["doc"].as_str().unwrap().is_empty()),
        "every function has a doc line"
    );
}

#[test]
fn init_writes_editable_copies_that_override_the_bundled_steps() {
    let tmp = tempfile::tempdir().unwrap();
    mtls(tmp.path(), &["init", "flows"]).success();
    let flows = tmp.path().join("flows");
    assert!(flows.join("pki.rhai").is_file());
    assert!(flows.join("stdlib/pki.rhai").is_file());

    // A second init refuses and changes nothing.
    fs::write(flows.join("pki.rhai"), "// mine\n").unwrap();
    let again = mtls(tmp.path(), &["init", "flows"]).failure();
    assert!(again.stderr.contains("already exist"), "{}", again.all());
    assert_eq!(
        fs::read_to_string(flows.join("pki.rhai")).unwrap(),
        "// mine\n"
    );

    // Editing a step in the local stdlib changes what the bundled script does.
    let stdlib = flows.join("stdlib/pki.rhai");
    let text = fs::read_to_string(&stdlib)
        .unwrap()
        .replace("CN: \"mtls root CA\"", "CN: \"Edited root\"");
    fs::write(&stdlib, text).unwrap();
    fs::write(
        flows.join("flow.rhai"),
        "let r = gen_root_ca(#{ algorithm: \"ecdsa-p256\" });\nprint(r.subject);\n",
    )
    .unwrap();
    let out = mtls(&flows, &["plan", "flow.rhai"]).success();
    assert!(out.stdout.contains("CN=Edited root"), "{}", out.all());
    // --stdlib DIR does the same from elsewhere.
    let out = mtls(
        tmp.path(),
        &["plan", "flows/flow.rhai", "--stdlib", "flows/stdlib"],
    )
    .success();
    assert!(out.stdout.contains("CN=Edited root"), "{}", out.all());
}

#[test]
fn help_has_examples() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["plan", "--help"],
        &["functions", "--help"],
        &["init", "--help"],
    ] {
        let out = mtls(tmp.path(), cmd).success();
        assert!(out.stdout.contains("Examples:"), "{cmd:?}:\n{}", out.stdout);
    }
}
