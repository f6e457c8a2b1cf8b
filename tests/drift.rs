//! Drift (issue "day two"): what changed on AWS behind mtls's back is reported by
//! `mtls plan --refresh` as a change (exit 2 with `--detailed-exitcode`, the drift check for
//! CI), and repaired by `mtls run`, after which the refreshed plan is empty again.

use crate::support;

use std::path::Path;

use mtls::aws::acm::CertificateImport;
use mtls::aws::{Aws, Tags};
use mtls::pki::{SecretPem, Truststore};
use support::cli::{mtls_env, run_setup, Run, SetupArgs};
use support::moto::Moto;
use support::realism::Realism;
use support::realism_domain::OwnershipExpired;

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
    drift_check_env(&moto.env(), dir)
}

/// [`drift_check`] with the environment `env` (a realism proxy's).
fn drift_check_env(env: &[(String, String)], dir: &Path) -> Run {
    let args = SetupArgs::plan().args(&["--refresh", "--detailed-exitcode"]);
    mtls_env(dir, &args.to_vec(), env)
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
    // The certificate is what drifted: replaced by server.pem (a new import), the domain
    // moved to it, the one imported over ours deleted.
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 1 to update, 1 to replace, 19 to keep, 1 to delete"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("-/+ acm certificate"),
        "{}",
        plan.stdout
    );

    // client.pem comes from another CA than server.pem: server.pem is imported as a new
    // certificate (a re-import across issuers would leave the domain
    // PENDING_CERTIFICATE_REIMPORT), the domain moved to it, the replaced one deleted.
    let repair = run_setup(dir, &moto.env(), &[]).success();
    let now = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap()
        .regional_certificate_arn
        .expect("the domain has a certificate");
    assert_ne!(now, arn, "{}", repair.all());
    let presented = rt
        .block_on(aws.acm().certificate_pem(&now))
        .unwrap()
        .certificate;
    assert_eq!(
        presented, ours,
        "server.pem is what the domain presents again:\n{}\nplan:\n{}",
        repair.stdout, plan.stdout
    );
    assert!(rt
        .block_on(aws.acm().describe(&arn))
        .unwrap_err()
        .is_not_found());
    assert_no_drift(&moto, dir);
}

/// An AWS client through the realism proxy.
fn through(realism: &Realism) -> (tokio::runtime::Runtime, Aws) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings = mtls::aws::AwsSettings {
        profile: None,
        region: Some(support::moto::REGION.to_string()),
        endpoint_url: Some(realism.endpoint_url()),
    };
    let aws = rt.block_on(Aws::connect(&settings)).unwrap();
    (rt, aws)
}

/// Uploads the bundle again behind mtls's back: the domain is then a version behind.
fn upload_again(rt: &tokio::runtime::Runtime, aws: &Aws, dir: &Path) -> String {
    let bundle = Truststore::from_pem(
        "RootCA.pem",
        &std::fs::read_to_string(dir.join("RootCA.pem")).unwrap(),
    )
    .unwrap()
    .to_pem();
    rt.block_on(aws.s3().put_object(
        BUCKET,
        TRUSTSTORE_KEY,
        bundle.as_bytes(),
        "application/x-pem-file",
    ))
    .unwrap()
    .version_id
    .expect("the bucket is versioned")
}

#[test]
fn an_expired_ownership_certificate_is_drift_and_run_replaces_it_alone_and_first() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    run_setup(dir, &moto.env(), &[]).success();
    let (rt, aws) = aws(&moto);
    let expired = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap()
        .ownership_verification_certificate_arn
        .expect("the domain has an ownership certificate");
    // Another change waits too: the truststore moved on behind mtls's back.
    let newer = upload_again(&rt, &aws, dir);
    let realism = Realism::start(&moto, vec![OwnershipExpired::new(DOMAIN, &expired)]);
    let env = realism.env();
    // What mtls will read is what the test claims: the domain pending, the certificate expired.
    let (prt, proxy) = through(&realism);
    let seen = prt
        .block_on(proxy.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(
        seen.status.as_deref(),
        Some("PENDING_OWNERSHIP_VERIFICATION")
    );
    assert_eq!(
        prt.block_on(proxy.acm().describe(&expired)).unwrap().status,
        "EXPIRED"
    );

    let plan = drift_check_env(&env, dir);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    assert!(
        plan.stdout
            .contains("domainNameStatus PENDING_OWNERSHIP_VERIFICATION"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("expired or is missing"),
        "{}",
        plan.stderr
    );

    let repair = run_setup(dir, &env, &[]).success();
    // The ownership certificate alone, first; then the rest, once the domain is unlocked.
    assert_eq!(
        OwnershipExpired::updates(&realism),
        [
            vec!["/ownershipVerificationCertificateArn".to_string()],
            vec!["/mutualTlsAuthentication/truststoreVersion".to_string()],
        ],
        "{}\n{}",
        repair.all(),
        realism.report()
    );
    assert!(realism
        .events_of(OwnershipExpired::NAME)
        .iter()
        .all(|e| !e.text.contains(OwnershipExpired::REFUSED)));
    let after = prt
        .block_on(proxy.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(after.status.as_deref(), Some("AVAILABLE"));
    assert_ne!(after.ownership_verification_certificate_arn, Some(expired));
    assert_eq!(after.truststore_version, Some(newer));
    let again = drift_check_env(&env, dir);
    assert_eq!(again.status.code(), Some(0), "{}", again.all());
}

#[test]
fn a_deleted_validation_record_is_drift_and_run_restores_it() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    run_setup(dir, &moto.env(), &[]).success();
    let (rt, aws) = aws(&moto);
    let zone = rt
        .block_on(aws.route53().find_public_zone(DOMAIN))
        .unwrap()
        .expect("the zone setup made");
    let validation = |rt: &tokio::runtime::Runtime| {
        rt.block_on(aws.route53().records(&zone.id))
            .unwrap()
            .into_iter()
            .find(|r| r.record_type == "CNAME" && r.name.starts_with('_'))
    };
    let record = validation(&rt).expect("the validation CNAME setup published");
    // Someone cleans up the zone: ACM can no longer renew the ownership certificate
    // (ACM user guide, dns-renewal-validation).
    rt.block_on(aws.route53().delete_record(&zone.id, &record))
        .unwrap();
    assert_eq!(validation(&rt), None);

    let plan = drift_check(&moto, dir);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    let name = record.name.trim_end_matches('.');
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.contains(name) && l.trim_start().starts_with('+')),
        "{}",
        plan.stdout
    );
    run_setup(dir, &moto.env(), &[]).success();
    assert_eq!(validation(&rt), Some(record));
    assert_no_drift(&moto, dir);
}
