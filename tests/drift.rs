//! Drift (issue "day two"): what changed on AWS behind mtls's back is reported by
//! `mtls plan --refresh` as a change (exit 2 with `--detailed-exitcode`, the drift check for
//! CI), and repaired by `mtls run`, after which the refreshed plan is empty again.

use crate::support;

use std::path::Path;

use mtls::aws::acm::CertificateImport;
use mtls::aws::{Aws, Tags};
use mtls::pki::{SecretPem, Truststore};
use support::cli::{mtls_env, run_setup, Run};
use support::moto::Moto;

const DOMAIN: &str = "api.example.com";
const BUCKET: &str = "trust-store-123456789012";
const TRUSTSTORE_KEY: &str = "api.example.com/RootCA.pem";

fn aws(moto: &Moto) -> (tokio::runtime::Runtime, Aws) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    (rt, aws)
}

/// `mtls plan setup.rhai --refresh --detailed-exitcode`: the drift check a CI job runs.
fn drift_check(moto: &Moto, dir: &Path) -> Run {
    mtls_env(
        dir,
        &[
            "plan",
            "setup.rhai",
            "--refresh",
            "--detailed-exitcode",
            "--var",
            "domain=api.example.com",
            "--var",
            "probe=false",
        ],
        &moto.env(),
    )
}

#[track_caller]
fn assert_no_drift(moto: &Moto, dir: &Path) {
    let plan = drift_check(moto, dir);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.all());
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to replace"),
        "{}",
        plan.stdout
    );
}

/// The domain's truststore version as moto holds it (the harness keeps mTLS fields).
fn domain_truststore_version(rt: &tokio::runtime::Runtime, aws: &Aws) -> String {
    rt.block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .expect("the domain exists")
        .truststore_version
        .expect("mutual TLS is on")
}

#[test]
fn a_domain_left_on_an_old_truststore_version_is_drift_and_run_repins_it() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    run_setup(dir, &moto.env(), &[]).success();
    assert_no_drift(&moto, dir);
    let (rt, aws) = aws(&moto);
    let pinned = domain_truststore_version(&rt, &aws);

    // Someone uploads the same bundle again (a console "upload", a pipeline): the object has
    // a newer version, the domain still serves the old one.
    let bundle = Truststore::from_pem(
        "RootCA.pem",
        &std::fs::read_to_string(dir.join("RootCA.pem")).unwrap(),
    )
    .unwrap()
    .to_pem();
    let newer = rt
        .block_on(aws.s3().put_object(
            BUCKET,
            TRUSTSTORE_KEY,
            bundle.as_bytes(),
            "application/x-pem-file",
        ))
        .unwrap()
        .version_id
        .expect("the bucket is versioned");
    assert_ne!(newer, pinned);

    let plan = drift_check(&moto, dir);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    assert!(plan.stdout.contains(&newer), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("1 to update"),
        "only the domain moves: {}",
        plan.stdout
    );

    run_setup(dir, &moto.env(), &[]).success();
    assert_eq!(domain_truststore_version(&rt, &aws), newer);
    assert_no_drift(&moto, dir);
}

#[test]
fn a_certificate_replaced_in_acm_is_drift_and_run_imports_server_pem_again() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    run_setup(dir, &moto.env(), &[]).success();
    let (rt, aws) = aws(&moto);
    let arn = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap()
        .regional_certificate_arn
        .expect("the domain has a certificate");
    let served = || {
        rt.block_on(aws.acm().certificate_pem(&arn))
            .unwrap()
            .certificate
    };
    let ours = served();

    // Someone re-imports another certificate over the same ARN (here the client's).
    let other = std::fs::read_to_string(dir.join("client.pem")).unwrap();
    let key = SecretPem::new(std::fs::read_to_string(dir.join("client.key")).unwrap());
    rt.block_on(aws.acm().import_certificate(&CertificateImport {
        certificate_pem: &other,
        private_key: &key,
        chain_pem: None,
        reimport_arn: Some(&arn),
        tags: &Tags::new(),
    }))
    .unwrap();
    assert_ne!(served(), ours);

    let plan = drift_check(&moto, dir);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    assert!(plan.stdout.contains("1 to update"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("~ acm certificate"),
        "the certificate is what drifted: {}",
        plan.stdout
    );

    let repair = run_setup(dir, &moto.env(), &[]).success();
    assert_eq!(
        served(),
        ours,
        "server.pem is what ACM serves again:\n{}\nplan:\n{}",
        repair.stdout,
        plan.stdout
    );
    assert_no_drift(&moto, dir);
}
