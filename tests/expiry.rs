//! Expiry warnings (issue "day two"): a plan or run names every certificate it meets that
//! expires within `--var expiry_warning_days` (30 by default): local files it keeps, the
//! truststore's CAs, the chain given to ACM, and on AWS (`--refresh` or a run) the ownership
//! verification certificate. Warnings are not changes: `--detailed-exitcode` stays 0.

use crate::support;

use std::path::Path;

use support::cli::{mtls, mtls_env, run_setup, Run, SetupArgs};
use support::moto::Moto;

/// A flow whose client certificate lives 10 days, and whose truststore is the root.
const SHORT_LIVED: &str = r#"
let root = gen_root_ca(#{});
let client = gen_client_cert(root, #{ days: 10 });
check_truststore(root.cert);
"#;

fn plan(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["plan", "flow.rhai", "--detailed-exitcode"];
    args.extend_from_slice(extra);
    mtls(dir, &args)
}

fn warnings(run: &Run) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("a JSON plan");
    json["warnings"]
        .as_array()
        .expect("a warnings array")
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_kept_certificate_close_to_its_end_is_a_warning_not_a_change() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    std::fs::write(dir.join("flow.rhai"), SHORT_LIVED).unwrap();
    mtls(dir, &["run", "flow.rhai"]).success();

    let planned = plan(dir, &[]);
    assert_eq!(planned.status.code(), Some(0), "{}", planned.all());
    assert!(
        planned.stdout.contains("Warnings:\n  ! client.pem (C=JP, ST=Tokyo, O=Example, CN=mtls client) expires in 9 days, on "),
        "{}",
        planned.all()
    );
    assert_eq!(
        planned.stderr.matches("warning: client.pem").count(),
        1,
        "shown once as it happens too: {}",
        planned.stderr
    );
    assert!(
        !planned.stdout.contains("! RootCA.pem"),
        "the root lives 100 years: {}",
        planned.stdout
    );

    let json = plan(dir, &["--format", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", json.all());
    let found = warnings(&json);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("make a new one with --force"),
        "says what to do: {found:?}"
    );

    // A narrower window: no warning. A window of 0 turns them off.
    for days in ["5", "0"] {
        let var = format!("expiry_warning_days={days}");
        let quiet = plan(dir, &["--format", "json", "--var", &var]);
        assert_eq!(warnings(&quiet), Vec::<String>::new(), "{}", quiet.all());
    }
    // A wider one reaches the root, both as a kept file and as the truststore's CA.
    let wide = plan(
        dir,
        &["--format", "json", "--var", "expiry_warning_days=36600"],
    );
    let found = warnings(&wide);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found.iter().any(|w| w.contains("rollover.rhai")),
        "{found:?}"
    );

    // A bad window is refused before anything.
    let bad = plan(dir, &["--var", "expiry_warning_days=soon"]);
    assert_eq!(bad.status.code(), Some(1), "{}", bad.all());
    assert!(bad.all().contains("expiry_warning_days"), "{}", bad.all());
}

#[test]
fn a_refreshed_plan_warns_about_certificates_on_aws() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    run_setup(dir, &moto.env(), &[]).success();

    let refresh = |window: &str| {
        let args = SetupArgs::plan()
            .args(&["--refresh", "--detailed-exitcode", "--format", "json"])
            .var("expiry_warning_days", window);
        mtls_env(dir, &args.to_vec(), &moto.env())
    };
    // moto's ownership certificate lives about a year; the local ones 100 years.
    let none = refresh("30");
    assert_eq!(none.status.code(), Some(0), "{}", none.all());
    assert_eq!(warnings(&none), Vec::<String>::new());

    let ten_years = refresh("3650");
    assert_eq!(ten_years.status.code(), Some(0), "{}", ten_years.all());
    let found = warnings(&ten_years);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .starts_with("the ownership verification certificate of api.example.com (arn:aws:acm:"),
        "{found:?}"
    );
    assert!(found[0].contains("validation CNAME"), "{found:?}");
}
