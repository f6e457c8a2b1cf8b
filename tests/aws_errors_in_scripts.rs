//! AWS refusing a call: the error names the step, the script line, the API call and AWS's
//! message, and nothing was changed on AWS before the inputs were known to be valid.

use crate::support;

use support::cli::{mtls_env, run_setup};
use support::moto::Moto;

#[test]
fn an_aws_refusal_names_step_line_call_and_message() {
    // moto checks credentials like AWS once its allowance of unchecked calls is used up.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let tmp = tempfile::tempdir().unwrap();
    let out = run_setup(tmp.path(), &moto.env(), &["--var", "bucket=my-trust-store"]);
    assert!(!out.status.success(), "{}", out.all());
    let err = &out.stderr;
    assert!(
        err.contains("route53 ListHostedZonesByName"),
        "API call missing:\n{err}"
    );
    assert!(
        err.contains("Forbidden: access denied (HTTP 403)"),
        "AWS code and message missing:\n{err}"
    );
    assert!(
        err.contains("help:") && err.contains("IAM"),
        "no hint what to do:\n{err}"
    );
    assert!(
        err.contains("stdlib/dns.rhai"),
        "step's file missing:\n{err}"
    );
    assert!(
        err.contains("ensure_hosted_zone(...) called here"),
        "step missing:\n{err}"
    );
    assert!(
        err.contains("scripts/setup.rhai:"),
        "script line missing:\n{err}"
    );
    assert!(
        err.contains("let zone = ensure_hosted_zone(zone_name);"),
        "source line missing:\n{err}"
    );
    assert!(
        moto.recorded_requests().iter().all(|r| !r.is_mutating()),
        "a refused run changed AWS"
    );
}

#[test]
fn invalid_inputs_are_refused_before_any_aws_call() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let out = run_setup(tmp.path(), &moto.env(), &["--var", "bucket=Not_A_Bucket"]);
    assert!(!out.status.success(), "{}", out.all());
    assert!(out.stderr.contains("Not_A_Bucket"), "{}", out.stderr);
    assert!(out.stderr.contains("bucket names"), "{}", out.stderr);
    assert!(
        moto.recorded_requests().is_empty(),
        "AWS was called before the input was checked"
    );

    // A truststore that API Gateway would refuse (SHA-1 signature) stops the run before AWS.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let openssl = |args: &[&str]| support::cli::openssl(dir, args).success();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "RootCA.key",
        "-out",
        "RootCA.pem",
        "-days",
        "30",
        "-sha1",
        "-subj",
        "/C=JP/ST=Tokyo/O=Example/CN=mtls root CA",
    ]);
    // Make the key mtls-shaped (RSA 4096 is asked by default): ask for rsa2048 instead.
    std::fs::write(
        dir.join("flow.rhai"),
        "let root = gen_root_ca(#{ algorithm: \"rsa2048\" });\ncheck_truststore(root.cert);\n",
    )
    .unwrap();
    let out = mtls_env(dir, &["run", "flow.rhai"], &moto.env());
    assert!(!out.status.success(), "{}", out.all());
    assert!(out.stderr.contains("SHA-256 or stronger"), "{}", out.stderr);
}
