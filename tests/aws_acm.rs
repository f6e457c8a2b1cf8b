//! The ACM wrappers against moto: the imported server certificate (ARTICLE.md step 7) and the
//! DNS-validated ownership verification certificate (step 8).
use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mtls::aws::acm::{CertificateImport, CertificateKind};
use mtls::aws::{Aws, Tags, Wait};
use mtls::pki::SecretPem;
use support::moto::Moto;

const DOMAIN: &str = "api.example.com";

/// A CA and a server certificate for `cn` made by the openssl CLI in `dir` (never committed).
/// Returns (server.pem, server.key, ca.pem).
fn make_server_cert(dir: &Path, name: &str, cn: &str, bits: u32) -> (String, String, String) {
    let ca_key = dir.join(format!("{name}-ca.key"));
    let ca_pem = dir.join(format!("{name}-ca.pem"));
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let pem = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{cn}\n"
        ),
    )
    .expect("write ext");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca_pem),
        "-days",
        "30",
        "-subj",
        "/CN=mtls test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        &format!("rsa:{bits}"),
        "-nodes",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
        "-subj",
        &format!("/CN={cn}"),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca_pem),
        "-CAkey",
        &p(&ca_key),
        "-set_serial",
        "0x5eed",
        "-days",
        "30",
        "-sha256",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&pem),
    ]);
    let read = |p: &Path| std::fs::read_to_string(p).expect("read pem");
    (read(&pem), read(&key), read(&ca_pem))
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn import_describe_find_and_reimport_keeps_the_arn() {
    let moto = Moto::start();
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let acm = aws.acm();
    let dir = tempfile::tempdir().expect("tempdir");
    // RSA 4096: ListCertificates lists it only because the wrapper asks for every key type.
    let (cert, key, chain) = make_server_cert(dir.path(), "server", DOMAIN, 4096);
    let wanted_tags = tags(&[("mtls:role", "server"), ("mtls:domain", DOMAIN)]);

    let import = CertificateImport {
        certificate_pem: &cert,
        private_key: &SecretPem::new(key.clone()),
        chain_pem: Some(&chain),
        reimport_arn: None,
        tags: &wanted_tags,
    };
    assert!(
        !format!("{import:?}").contains("PRIVATE KEY"),
        "Debug must not show the key"
    );
    let arn = acm.import_certificate(&import).await.expect("import");

    let info = acm.describe(&arn).await.expect("describe");
    assert_eq!(info.arn, arn);
    assert_eq!(info.domain, DOMAIN);
    assert_eq!(info.kind, CertificateKind::Imported);
    assert!(
        info.is_issued(),
        "an imported certificate is ISSUED, got {}",
        info.status
    );
    assert!(info
        .not_after
        .is_some_and(|t| t > time::OffsetDateTime::now_utc()));
    assert!(info.serial.is_some());
    assert_eq!(info.validation_cname, None);

    let found = acm
        .find_certificates(Some(DOMAIN), &tags(&[("mtls:role", "server")]))
        .await
        .expect("find");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].arn, arn);
    assert_eq!(found[0].tags, wanted_tags);
    assert!(acm
        .find_certificates(Some(DOMAIN), &tags(&[("mtls:role", "other")]))
        .await
        .expect("find")
        .is_empty());
    assert!(acm
        .find_certificates(Some("other.example.com"), &Tags::new())
        .await
        .expect("find")
        .is_empty());

    let stored = acm.certificate_pem(&arn).await.expect("get certificate");
    assert_eq!(stored.certificate.trim(), cert.trim());

    // Re-import a renewed certificate into the same ARN; ACM refuses tags there, so none are sent.
    let (cert2, key2, chain2) = make_server_cert(dir.path(), "renewed", DOMAIN, 2048);
    moto.reset_recording();
    let again = acm
        .import_certificate(&CertificateImport {
            certificate_pem: &cert2,
            private_key: &SecretPem::new(key2.clone()),
            chain_pem: Some(&chain2),
            reimport_arn: Some(&arn),
            tags: &wanted_tags,
        })
        .await
        .expect("re-import");
    assert_eq!(again, arn, "re-import keeps the ARN");
    let stored = acm.certificate_pem(&arn).await.expect("get certificate");
    assert_eq!(stored.certificate.trim(), cert2.trim());
    let reimport = moto
        .recorded_requests()
        .into_iter()
        .find(|r| r.rpc_action().as_deref() == Some("ImportCertificate"))
        .expect("recorded ImportCertificate");
    let body = reimport.body_json();
    assert_eq!(body["CertificateArn"], arn.as_str());
    assert!(body.get("Tags").is_none(), "no tags on a re-import");
    assert!(reimport.is_mutating());

    acm.delete(&arn).await.expect("delete");
    let gone = acm.describe(&arn).await.expect_err("deleted");
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn requested_certificate_gives_a_validation_cname_and_becomes_issued() {
    let moto = Moto::start();
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let acm = aws.acm();
    let wanted_tags = tags(&[("mtls:role", "ownership-verification")]);

    let arn = acm
        .request_certificate(DOMAIN, &wanted_tags, Some("mtlsownership1"))
        .await
        .expect("request");
    let same = acm
        .request_certificate(DOMAIN, &wanted_tags, Some("mtlsownership1"))
        .await
        .expect("request again");
    assert_eq!(
        same, arn,
        "the idempotency token returns the same certificate"
    );

    let quick = Wait::new(Duration::from_secs(20), Duration::from_millis(300));
    let record = acm
        .wait_for_validation_record(&arn, &quick)
        .await
        .expect("validation record");
    assert!(
        record.name.starts_with('_') && record.name.ends_with(&format!("{DOMAIN}.")),
        "{record:?}"
    );
    assert!(
        record.value.ends_with(".acm-validations.aws."),
        "{record:?}"
    );

    let issued = acm.wait_until_issued(&arn, &quick).await.expect("issued");
    assert!(issued.is_issued());
    assert_eq!(issued.kind, CertificateKind::AmazonIssued);
    assert_eq!(issued.domain, DOMAIN);

    let found = acm
        .find_certificates(Some(DOMAIN), &wanted_tags)
        .await
        .expect("find");
    assert_eq!(
        found.iter().map(|c| c.arn.as_str()).collect::<Vec<_>>(),
        vec![arn.as_str()]
    );

    let request = moto
        .recorded_requests()
        .into_iter()
        .find(|r| r.rpc_action().as_deref() == Some("RequestCertificate"))
        .expect("recorded RequestCertificate");
    let body = request.body_json();
    assert_eq!(body["ValidationMethod"], "DNS");
    assert_eq!(body["IdempotencyToken"], "mtlsownership1");
    // DescribeCertificate is a POST too, but it does not count as a change.
    assert!(moto
        .recorded_requests()
        .iter()
        .filter(|r| r.rpc_action().as_deref() == Some("DescribeCertificate"))
        .all(|r| r.method == "POST" && !r.is_mutating()));
}

#[tokio::test]
async fn waiting_times_out_with_an_error_that_says_so() {
    // The certificate stays PENDING_VALIDATION for a minute, however slow the machine.
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "60")]);
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let arn = aws
        .acm()
        .request_certificate(DOMAIN, &Tags::new(), None)
        .await
        .expect("request");
    // A 200 ms budget ends first.
    let err = aws
        .acm()
        .wait_until_issued(
            &arn,
            &Wait::new(Duration::from_millis(200), Duration::from_millis(100)),
        )
        .await
        .expect_err("times out");
    assert_eq!(err.code.as_deref(), Some(mtls::aws::local_code::TIMEOUT));
    assert!(err.to_string().contains("PENDING_VALIDATION"), "{err}");
}
