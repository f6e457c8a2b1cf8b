//! A plan's unknown values stay unknown through every expression: `+`, string
//! interpolation and `to_string()`. The plan shows `(known after apply)` where they went,
//! `is_known` agrees with the primitives, and what a person reads holds no hidden mark.

use crate::support::cli::mtls;

const SCRIPT: &str = r#"
let id = aws_account_id();
let joined = "trust-store-" + id;
let interpolated = `trust-store-${id}`;
let converted = "trust-store-" + id.to_string();
print(`known: ${is_known(id)} ${is_known(joined)} ${is_known(interpolated)} ${is_known(converted)}`);
print(`typed: ${is_known("trust-store-(known after apply)")}`);
print(`bucket: ${interpolated}`);
s3_ensure_bucket(interpolated);
"#;

#[test]
fn unknowns_survive_concatenation_and_interpolation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.rhai"), SCRIPT).unwrap();
    let run = mtls(dir.path(), &["plan", "u.rhai", "--format", "json"]).success();
    // Every way of building text from an unknown is unknown; text that merely reads like the
    // placeholder is not.
    assert!(
        run.stderr.contains("known: false false false false"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("typed: true"), "{}", run.all());
    assert!(
        run.stderr
            .contains("bucket: trust-store-(known after apply)"),
        "{}",
        run.all()
    );
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON plan");
    let bucket = plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["kind"] == "s3 bucket")
        .unwrap_or_else(|| panic!("no bucket action: {}", run.stdout));
    assert_eq!(bucket["target"], "trust-store-(known after apply)");
    // The marks that keep text unknown never reach what a person reads.
    assert!(!run.all().contains('\u{2063}'), "{}", run.all());
}
