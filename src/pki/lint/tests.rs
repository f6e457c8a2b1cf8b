//! Unit tests of the rules and checks of this folder, on certificates made by rcgen.

use super::acm::dns_matches;
use super::*;
use crate::pki::secret::SecretPem;
use crate::pki::truststore::Truststore;

/// A certificate made by rcgen: `ca` or not, valid `days` around now (negative: in the
/// past), signed by `issuer` (self-signed without), with its key.
struct Made {
    cert: ParsedCert,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

fn make(cn: &str, ca: bool, days: (i64, i64), issuer: Option<&Made>) -> Made {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec![format!("{}.example", cn.replace(' ', "-"))]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(days.0);
    params.not_after = now + time::Duration::days(days.1);
    params.is_ca = if ca {
        rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained)
    } else {
        rcgen::IsCa::ExplicitNoCa
    };
    let cert = match issuer {
        Some(i) => params
            .signed_by(&key, &rcgen::Issuer::from_params(&i.params, &i.key))
            .unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    Made {
        cert: ParsedCert {
            der: cert.der().to_vec(),
        },
        params,
        key,
    }
}

const NOW: (i64, i64) = (-1, 30);

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

fn store(certs: &[&Made]) -> Truststore {
    let pem: String = certs
        .iter()
        .map(|m| crate::pki::pem::encode_certificate(&m.cert.der))
        .collect();
    Truststore::from_pem("ts.pem", &pem).unwrap()
}

#[test]
fn validity_rules_name_the_certificate() {
    let good = make("good", false, NOW, None);
    assert_eq!(
        ids(&certificate("c.pem", &good.cert).unwrap()),
        Vec::<&str>::new()
    );
    let old = make("old", false, (-30, -1), None);
    let found = certificate("old.pem", &old.cert).unwrap();
    assert_eq!(ids(&found), ["cert-expired"]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=old"));
    assert_eq!(
        found[0].sha256.as_deref(),
        Some(&*crate::pki::sha256_fingerprint(&old.cert.der))
    );
    assert!(
        found[0].message.starts_with("not valid now (valid from"),
        "{}",
        found[0]
    );
    let new = make("new", false, (1, 30), None);
    assert_eq!(
        ids(&certificate("new.pem", &new.cert).unwrap()),
        ["cert-not-yet-valid"]
    );
    let day = std::time::Duration::from_secs(86400);
    assert_eq!(
        ids(&expiring("c.pem", &good.cert, 40 * day).unwrap()),
        ["cert-expiring"]
    );
    assert!(expiring("c.pem", &good.cert, 20 * day).unwrap().is_empty());
    assert_eq!(
        ids(&expiring("old.pem", &old.cert, day).unwrap()),
        ["cert-expired"]
    );
}

#[test]
fn truststore_rules() {
    let root = make("root", true, NOW, None);
    let sub1 = make("sub1", true, NOW, Some(&root));
    let sub2 = make("sub2", true, NOW, Some(&sub1));
    let sub3 = make("sub3", true, NOW, Some(&sub2));
    let leaf = make("leaf", false, NOW, Some(&root));
    assert!(truststore("ts.pem", &store(&[&root, &sub1, &sub2]))
        .unwrap()
        .is_empty());
    let found = truststore("ts.pem", &store(&[&root, &leaf, &root])).unwrap();
    assert_eq!(ids(&found), ["truststore-not-ca", "truststore-duplicate"]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=leaf"));
    assert_eq!(found[1].severity, Severity::Warning);
    let found = truststore("ts.pem", &store(&[&sub3, &root, &sub2, &sub1])).unwrap();
    assert_eq!(ids(&found), ["truststore-chain-length"]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=sub3"));
    assert!(has_errors(&found));
}

#[test]
fn acm_rules() {
    let root = make("root", true, NOW, None);
    let inca = make("inca", true, NOW, Some(&root));
    let server = make("server", false, NOW, Some(&inca));
    let other = make("other", false, NOW, Some(&inca));
    let key = |m: &Made| SecretPem::new(m.key.serialize_pem());
    let check = |k: &Made, chain: &[ParsedCert]| {
        let key = key(k);
        ids(&acm_import(&AcmFiles {
            cert_file: "server.pem",
            cert: &server.cert,
            key: Some(("server.key", &key)),
            chain: Some(("chain.pem", chain)),
        })
        .unwrap())
    };
    let (r, i, s, o) = (&root.cert, &inca.cert, &server.cert, &other.cert);
    assert!(check(&server, &[i.clone(), r.clone()]).is_empty());
    assert_eq!(check(&other, std::slice::from_ref(i)), ["acm-key-mismatch"]);
    assert_eq!(
        check(&server, &[r.clone(), i.clone()]),
        ["acm-chain-order", "acm-chain-order"]
    );
    assert_eq!(
        check(&server, &[s.clone(), i.clone()]),
        ["acm-chain-end-entity"]
    );
    assert_eq!(
        check(&server, &[i.clone(), o.clone()]),
        ["acm-chain-end-entity"]
    );
    let unusable = SecretPem::new(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n".into(),
    );
    let found = acm_import(&AcmFiles {
        cert_file: "server.pem",
        cert: &server.cert,
        key: Some(("server.key", &unusable)),
        chain: None,
    })
    .unwrap();
    assert_eq!(ids(&found), ["acm-key-unusable"]);
    assert!(found[0].message.contains("encrypted"), "{}", found[0]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=server"));
    assert!(domain("s.pem", &server.cert, "server.example")
        .unwrap()
        .is_empty());
    assert!(domain("s.pem", &server.cert, "SERVER.example.")
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&domain("s.pem", &server.cert, "api.example").unwrap()),
        ["domain-not-covered"]
    );
}

#[test]
fn a_ca_issues_within_its_path_length_and_only_with_key_cert_sign() {
    let mut limited = make("limited", true, NOW, None);
    limited.params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
    limited.params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let der = limited
        .params
        .self_signed(&limited.key)
        .unwrap()
        .der()
        .to_vec();
    assert_eq!(cannot_issue(&der, 0), None);
    assert_eq!(cannot_issue(&der, 1), None);
    let two = cannot_issue(&der, 2).unwrap();
    assert!(two.contains("pathLenConstraint is 1"), "{two}");
    limited.params.key_usages = vec![rcgen::KeyUsagePurpose::CrlSign];
    let der = limited
        .params
        .self_signed(&limited.key)
        .unwrap()
        .der()
        .to_vec();
    let usage = cannot_issue(&der, 0).unwrap();
    assert!(usage.contains("keyCertSign"), "{usage}");
    let leaf = make("leaf", false, NOW, None);
    let not_ca = cannot_issue(&leaf.cert.der, 0).unwrap();
    assert!(not_ca.contains("not a CA"), "{not_ca}");
}

#[test]
fn rule_ids_are_unique_and_findings_use_known_ids() {
    for (i, r) in RULES.iter().enumerate() {
        assert!(RULES[..i].iter().all(|o| o.id != r.id), "{} twice", r.id);
        assert!(r
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()));
    }
    assert_eq!(CERT_V3.severity, Severity::Error);
    assert_eq!(TRUSTSTORE_DUPLICATE.severity, Severity::Warning);
}

#[test]
fn windows_parse_days_and_hours() {
    assert_eq!(
        parse_window("30d"),
        Ok(std::time::Duration::from_secs(30 * 86400))
    );
    assert_eq!(
        parse_window("12h"),
        Ok(std::time::Duration::from_secs(12 * 3600))
    );
    for bad in ["30", "d", "-1d", "3w", "", "1.5d", "99999999999999999d"] {
        assert!(parse_window(bad).is_err(), "{bad}");
    }
}

#[test]
fn wildcards_match_one_label() {
    assert!(dns_matches("api.example.com", "api.example.com"));
    assert!(dns_matches("*.example.com", "api.example.com"));
    assert!(!dns_matches("*.example.com", "a.b.example.com"));
    assert!(!dns_matches("*.example.com", "example.com"));
    assert!(!dns_matches("api.example.com", "www.example.com"));
}
