//! AWS refusing a call: the error names the step, the script line, the API call and AWS's
//! message, and nothing was changed on AWS before the inputs were known to be valid.

use crate::support;

use support::cli::{mtls_env, openssl, run_setup};
use support::moto::Moto;
use support::realism::{workdir_with_pki, Inventory, Realism};
use support::realism_acm::{CertificateDeadEnd, DeadEnd};

const DOMAIN: &str = "api.example.com";

#[test]
fn an_aws_refusal_names_step_line_call_and_message() {
    // moto checks credentials like AWS once its allowance of unchecked calls is used up. One
    // unchecked call: the run's STS GetCallerIdentity, which keys the domain lock it takes
    // before the script starts; the script's first call is then refused.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "1")]);
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

/// setup.rhai itself, given a root CA that API Gateway would refuse in the truststore (a
/// SHA-1 signature; API Gateway developer guide, rest-api-mutual-tls: SHA-256 or stronger),
/// stops before its first AWS call: moto records no request at all.
#[test]
fn setup_with_a_sha1_root_stops_before_any_aws_call() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    // The same root (key, subject, extensions), signed again with SHA-1: the chain of the
    // other files still holds, only the root's own signature changes.
    openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "RootCA.pem",
            "-signkey",
            "RootCA.key",
            "-sha1",
            "-out",
            "RootCA-sha1.pem",
        ],
    )
    .success();
    std::fs::rename(
        dir.path().join("RootCA-sha1.pem"),
        dir.path().join("RootCA.pem"),
    )
    .unwrap();
    let text = openssl(
        dir.path(),
        &["x509", "-in", "RootCA.pem", "-noout", "-text"],
    )
    .success();
    assert!(
        text.stdout
            .contains("Signature Algorithm: sha1WithRSAEncryption"),
        "the root was not re-signed with SHA-1:\n{}",
        text.stdout
    );

    let out = run_setup(dir.path(), &moto.env(), &[]);
    assert!(!out.status.success(), "{}", out.all());
    assert!(out.stderr.contains("SHA-256 or stronger"), "{}", out.stderr);
    let requests: Vec<String> = moto
        .recorded_requests()
        .iter()
        .map(|r| r.describe())
        .collect();
    assert!(
        requests.is_empty(),
        "AWS was called before the truststore was checked: {requests:?}"
    );
}

/// ACM ends a requested certificate in FAILED or VALIDATION_TIMED_OUT and never leaves it
/// (ACM API reference, CertificateDetail). Setup stops with the status, the reason and what
/// to do; the next run leaves that certificate aside, requests a new one and completes.
#[test]
fn an_ownership_certificate_acm_will_not_issue_stops_setup_saying_what_to_do() {
    for dead_end in [DeadEnd::Failed, DeadEnd::ValidationTimedOut] {
        let moto = Moto::start();
        let realism = Realism::start(&moto, vec![CertificateDeadEnd::new(1, dead_end)]);
        let dir = workdir_with_pki(DOMAIN);
        let out = run_setup(dir.path(), &realism.env(), &[]);
        assert!(!out.status.success(), "{}\n{}", out.all(), realism.report());
        assert!(
            !realism.events_of(CertificateDeadEnd::NAME).is_empty(),
            "{}",
            realism.report()
        );
        let status = dead_end.status();
        let err = &out.stderr;
        for needle in [
            format!("is {status}"),
            "will not become ISSUED".to_string(),
            "acm DescribeCertificate".to_string(),
            "run the same command again".to_string(),
            "aws acm delete-certificate".to_string(),
        ] {
            assert!(err.contains(&needle), "{status}: no {needle:?} in:\n{err}");
        }
        let why = match dead_end {
            DeadEnd::Failed => "(CAA_ERROR)",
            DeadEnd::ValidationTimedOut => "within 72 hours",
        };
        assert!(err.contains(why), "{status}: no {why:?} in:\n{err}");
        let dead = Inventory::of(&moto, DOMAIN).requested;
        assert_eq!(dead.len(), 1, "{dead:?}");

        // As the help says: the same command again requests a new certificate and completes.
        let again = run_setup(dir.path(), &realism.env(), &[]);
        assert!(
            again.status.success(),
            "{}\n{}",
            again.all(),
            realism.report()
        );
        let inv = Inventory::of(&moto, DOMAIN);
        assert_eq!(inv.requested.len(), 2, "{inv:#?}");
        assert!(inv.requested.contains(&dead[0]), "{inv:#?}");
        assert_eq!(
            inv.problems(DOMAIN),
            vec![format!("requested certificates: {:?}", inv.requested)],
            "only the dead certificate is left over: {inv:#?}"
        );
        let rt = tokio::runtime::Runtime::new().unwrap();
        let aws = rt
            .block_on(mtls::aws::Aws::connect(&moto.settings()))
            .unwrap();
        let domain = rt
            .block_on(aws.apigateway().domain_name(DOMAIN))
            .unwrap()
            .expect("the custom domain");
        let ownership = domain
            .ownership_verification_certificate_arn
            .unwrap_or_default();
        assert!(
            inv.requested.contains(&ownership) && ownership != dead[0],
            "the domain proves ownership with {ownership:?}, not the new certificate: {inv:#?}"
        );
    }
}
