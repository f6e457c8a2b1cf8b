//! RFC 5280 conformance of what mtls issues, judged by an independent linter: DigiCert's
//! pkilint (`lint_pkix_cert`, pinned in `.ci/pkilint-requirements.txt`). Any finding of
//! WARNING or worse fails the test.

use crate::support;

use support::cli::mtls;
use support::pkilint::lint_pkix_cert;

#[test]
fn the_four_certificates_of_pki_rhai_pass_pkilint() {
    let dir = tempfile::tempdir().unwrap();
    mtls(
        dir.path(),
        &["run", "pki.rhai", "--var", "domain=api.example.com"],
    )
    .success();
    let mut problems = Vec::new();
    for name in ["RootCA.pem", "inca.pem", "server.pem", "client.pem"] {
        for f in lint_pkix_cert(&dir.path().join(name)) {
            problems.push(format!(
                "{name}: {} {} at {}: {}",
                f.severity, f.code, f.node, f.message
            ));
        }
    }
    assert!(problems.is_empty(), "pkilint:\n{}", problems.join("\n"));
}

/// The test above can fail: a certificate whose countryName is a UTF8String (what mtls made
/// before; RFC 5280's X520countryName is a two-letter PrintableString) is reported.
#[test]
fn pkilint_reports_a_utf8_country_name() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, country: rcgen::DnValue| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["api.example.com".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, country);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "api.example.com");
        let path = dir.path().join(name);
        std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
        path
    };
    let utf8 = write("utf8.pem", rcgen::DnValue::Utf8String("JP".to_string()));
    let findings = lint_pkix_cert(&utf8);
    assert!(
        findings
            .iter()
            .any(|f| matches!(f.severity.as_str(), "ERROR" | "FATAL")
                && f.message.contains("X520countryName")),
        "{findings:?}"
    );
    // The same certificate with a PrintableString country has no such finding.
    let printable = write(
        "printable.pem",
        rcgen::DnValue::PrintableString("JP".try_into().unwrap()),
    );
    let findings = lint_pkix_cert(&printable);
    assert!(
        findings
            .iter()
            .all(|f| !f.message.contains("X520countryName")),
        "{findings:?}"
    );
}
