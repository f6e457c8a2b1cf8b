//! Tests that kill what cargo-mutants found unchecked (tests/README.md, "Mutation testing").

use super::certificate::describe_window;
use super::*;
use crate::pki::secret::SecretPem;
use crate::pki::truststore::{Truststore, MAX_TRUSTSTORE_BYTES};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

/// Certificates rcgen cannot make (it generates no RSA key under 2048 bits and no
/// curve ACM refuses), made once with `openssl req -x509 -newkey ... -days 36500
/// -sha256 -nodes`: RSA 1024, EC secp224r1 (224 bits), EC secp256k1 (256 bits, a
/// curve ACM does not import). Valid until 2126.
const RSA_1024: &str = "-----BEGIN CERTIFICATE-----
MIICAjCCAWugAwIBAgIUYp0cdnSNDehHOg1kpigpsChTHnowDQYJKoZIhvcNAQEL
BQAwEjEQMA4GA1UEAwwHcnNhMTAyNDAgFw0yNjEyMDIyMjQ0NDRaGA8yMTI2MTEw
ODIyNDQ0NFowEjEQMA4GA1UEAwwHcnNhMTAyNDCBnzANBgkqhkiG9w0BAQEFAAOB
jQAwgYkCgYEA0HdPLVV42P8nahVIyNzIDU6ysNp6eLDn+A01KGIFwj5a8SQUdQKS
MndIgqESr8/BV8Nsf+MBZnVAoP7bMDzMrurp2gnvycYdhKZwuptLmUuKLwe7Xs+o
cRZvTBWjxLGLC3lLvme4gsOaKa8IcUxwf98jM2q7SOCiinYkndaHsxUCAwEAAaNT
MFEwHQYDVR0OBBYEFAM1ElInjWdiAyitE9dGMXUElgrOMB8GA1UdIwQYMBaAFAM1
ElInjWdiAyitE9dGMXUElgrOMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQEL
BQADgYEAv37zhoSJeg7SrI4Ux6Eypa485uNoDxmTABRiE9Sut2qUQVTSibLLdWk2
RQ0zmiwl2E2Rlb/rwbBxLWaxCmcqO9NBZ619fhcuJrUq16DMQyL8nM0abobhnsOy
NXvV6+i0XYPeqaKI+eOU8lYbSST6NlZCjC4/GMr6V9xW5w+CeA0=
-----END CERTIFICATE-----
";
const EC_P224: &str = "-----BEGIN CERTIFICATE-----
MIIBYjCCARCgAwIBAgIUf9MHcvbParcGUV9yYDHLDBgn4hswCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEcDIyNDAgFw0yNjEyMDIyMjQ0NDRaGA8yMTI2MTEwODIyNDQ0
NFowDzENMAsGA1UEAwwEcDIyNDBOMBAGByqGSM49AgEGBSuBBAAhAzoABGv3tkvL
P+6GDYdL9aXGzv8mfuWXb8k4dUQdfI2M3XSMMZwzs28/DvwLnEEGsSyZUiIpp2bE
K/X1o1MwUTAdBgNVHQ4EFgQU/GGFgdIjUgM16HBMaA0D7OP5m9gwHwYDVR0jBBgw
FoAU/GGFgdIjUgM16HBMaA0D7OP5m9gwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjO
PQQDAgNAADA9AhwRKMjV29Wars0QmKQ7DpF9zSjrv3aOxX1PlcrcAh0AhhLUFtbI
Dq5Vgm25Fgc4OE8IJ2+fd9LvhhwlcQ==
-----END CERTIFICATE-----
";
const EC_SECP256K1: &str = "-----BEGIN CERTIFICATE-----
MIIBcjCCARigAwIBAgIULUldTyBO+6CKtv+nmf83XzrHGtcwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEazI1NjAgFw0yNjEyMDIyMjQ0NDRaGA8yMTI2MTEwODIyNDQ0
NFowDzENMAsGA1UEAwwEazI1NjBWMBAGByqGSM49AgEGBSuBBAAKA0IABB2qWgWl
dHONZ56ytyWyTu9IxLYQfFjLm0XNamdkMoBXXZl7RkTKkCR6rplFw0fX8TSRHe78
gexXkh5gyT/eO+GjUzBRMB0GA1UdDgQWBBTD8bcFCANi2w6p/KjZhI2aDfOssDAf
BgNVHSMEGDAWgBTD8bcFCANi2w6p/KjZhI2aDfOssDAPBgNVHRMBAf8EBTADAQH/
MAoGCCqGSM49BAMCA0gAMEUCIQDmQsO3rd5yCWIBd/p1XZVdoA+qSsECDmWJ1fej
tiVZkgIgVx0Q42HKuLDLzkrFjy1WxuEw0GWuW0A+9F/Y6i2gUV8=
-----END CERTIFICATE-----
";

/// A certificate issued by rcgen, with what it takes to issue from it.
struct Issued {
    cert: ParsedCert,
    params: CertificateParams,
    key: KeyPair,
}

/// `cn` with `key`, valid from yesterday for 30 days, shaped by `edit` (CA, SANs, ...),
/// signed by `issuer` (self-signed without).
fn issue(
    cn: &str,
    key: KeyPair,
    edit: impl FnOnce(&mut CertificateParams),
    issuer: Option<&Issued>,
) -> Issued {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
    edit(&mut params);
    let cert = match issuer {
        Some(i) => params.signed_by(&key, &rcgen::Issuer::from_params(&i.params, &i.key)),
        None => params.self_signed(&key),
    }
    .unwrap();
    Issued {
        cert: ParsedCert {
            der: cert.der().to_vec(),
        },
        params,
        key,
    }
}

fn p256() -> KeyPair {
    KeyPair::generate().unwrap()
}

fn rsa(size: rcgen::RsaKeySize) -> KeyPair {
    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size).unwrap()
}

fn ec(alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).unwrap()
}

fn ca(limit: BasicConstraints) -> impl FnOnce(&mut CertificateParams) {
    move |p| p.is_ca = IsCa::Ca(limit)
}

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

fn store(certs: &[&Issued]) -> Truststore {
    let pem: String = certs
        .iter()
        .map(|i| crate::pki::pem::encode_certificate(&i.cert.der))
        .collect();
    Truststore::from_pem("ts.pem", &pem).unwrap()
}

fn fixture(pem: &str) -> ParsedCert {
    ParsedCert::from_pem("fixture.pem", pem).unwrap()
}

#[test]
fn a_finding_prints_as_one_line_naming_its_certificate() {
    let finding = Finding {
        rule: "cert-expired",
        severity: Severity::Error,
        file: "server.pem".into(),
        subject: Some("CN=api".into()),
        sha256: Some("AB:CD:EF:01:23".into()),
        message: "it has expired".into(),
        fix: "renew it",
    };
    assert_eq!(
        finding.to_string(),
        "error[cert-expired] server.pem: CN=api (SHA-256 AB:CD:EF:01...): it has expired; renew it"
    );
    let unnamed = Finding {
        sha256: None,
        ..finding.clone()
    };
    assert_eq!(unnamed.certificate(), "CN=api");
    let whole_file = Finding {
        subject: None,
        sha256: None,
        ..finding
    };
    assert_eq!(whole_file.certificate(), "-");
    assert_eq!(format!("{:>8}", Severity::Warning), " warning");
}

#[test]
fn warnings_alone_are_not_errors() {
    assert!(!has_errors(&[]));
    let root = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
    let found = truststore("ts.pem", &store(&[&root, &root])).unwrap();
    assert_eq!(ids(&found), ["truststore-duplicate"]);
    assert!(!has_errors(&found));
}

/// ACM user guide, import-certificate-prerequisites: RSA 2048+ and EC P-256/P-384/P-521.
#[test]
fn key_sizes_and_curves_at_each_side_of_the_limits() {
    for (pem, rule) in [
        (RSA_1024, "cert-key"),
        (EC_P224, "cert-key"),
        (EC_SECP256K1, "cert-curve"),
    ] {
        let found = certificate("f.pem", &fixture(pem)).unwrap();
        assert_eq!(ids(&found), [rule], "{found:?}");
    }
    for key in [
        rsa(rcgen::RsaKeySize::_2048),
        rsa(rcgen::RsaKeySize::_3072),
        ec(&rcgen::PKCS_ECDSA_P384_SHA384),
        ec(&rcgen::PKCS_ECDSA_P521_SHA512),
    ] {
        let made = issue("ok", key, |_| {}, None);
        assert_eq!(certificate("ok.pem", &made.cert).unwrap(), []);
    }
}

/// API Gateway developer guide, how-to-specify-certificate-for-custom-domain-name: a
/// REGIONAL custom domain serves RSA 2048, ECDSA P-256 or P-384 (the `acm-server-key`
/// rule).
#[test]
fn a_regional_server_takes_rsa_2048_p256_and_p384_only() {
    let server_key = |key: KeyPair| {
        let made = issue("server", key, |_| {}, None);
        ids(&acm_import(&AcmFiles {
            cert_file: "server.pem",
            cert: &made.cert,
            key: None,
            chain: None,
        })
        .unwrap())
    };
    assert!(server_key(rsa(rcgen::RsaKeySize::_2048)).is_empty());
    assert!(server_key(ec(&rcgen::PKCS_ECDSA_P384_SHA384)).is_empty());
    assert_eq!(
        server_key(rsa(rcgen::RsaKeySize::_3072)),
        ["acm-server-key"]
    );
    assert_eq!(
        server_key(ec(&rcgen::PKCS_ECDSA_P521_SHA512)),
        ["acm-server-key"]
    );
}

/// ACM user guide, import-certificate-prerequisites: the private key is 5 KB (5,120
/// bytes) at most. Trailing newlines keep the key readable and set its length.
#[test]
fn a_key_of_5120_bytes_is_imported_and_one_more_is_not() {
    let server = issue("server", p256(), |_| {}, None);
    let padded = |len: usize| {
        let pem = server.key.serialize_pem();
        SecretPem::new(format!("{pem}{}", "\n".repeat(len - pem.len())))
    };
    for (len, expected) in [(5120, vec![]), (5121, vec!["acm-key-unusable"])] {
        let key = padded(len);
        assert_eq!(key.len(), len);
        let found = acm_import(&AcmFiles {
            cert_file: "server.pem",
            cert: &server.cert,
            key: Some(("server.key", &key)),
            chain: None,
        })
        .unwrap();
        assert_eq!(ids(&found), expected, "{len} bytes");
    }
}

#[test]
fn windows_end_at_1000_years_and_are_described_in_days_or_hours() {
    let day = std::time::Duration::from_secs(86400);
    assert_eq!(parse_window("365000d"), Ok(365_000 * day));
    assert!(parse_window("365001d").is_err());
    assert_eq!(describe_window(30 * day), "30 days");
    assert_eq!(describe_window(day / 2), "12 hours");
    assert_eq!(describe_window(day * 3 / 2), "36 hours");
}

/// API Gateway developer guide, rest-api-mutual-tls: the truststore holds the whole
/// chain up to the root; a broken link is reported once, on the certificate above
/// which the chain breaks.
#[test]
fn a_missing_issuer_and_a_wrong_signature_are_reported_on_the_certificate_below() {
    let root = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
    let sub1 = issue(
        "sub1",
        p256(),
        ca(BasicConstraints::Unconstrained),
        Some(&root),
    );
    let sub2 = issue(
        "sub2",
        p256(),
        ca(BasicConstraints::Unconstrained),
        Some(&sub1),
    );
    let found = truststore("ts.pem", &store(&[&sub1, &sub2])).unwrap();
    assert_eq!(ids(&found), ["truststore-root"]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=sub1"));
    // Another root of the same name, whose key did not sign sub1.
    let impostor = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
    let found = truststore("ts.pem", &store(&[&impostor, &sub1, &sub2])).unwrap();
    assert_eq!(ids(&found), ["truststore-signature"]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=sub1"));
}

/// RFC 5280 4.2.1.9: a CA with pathLenConstraint 0 may have no CA under it.
#[test]
fn a_path_length_broken_in_a_truststore_is_reported_once_on_the_limited_ca() {
    let root = issue("root", p256(), ca(BasicConstraints::Constrained(0)), None);
    let sub1 = issue(
        "sub1",
        p256(),
        ca(BasicConstraints::Unconstrained),
        Some(&root),
    );
    let sub2 = issue(
        "sub2",
        p256(),
        ca(BasicConstraints::Unconstrained),
        Some(&sub1),
    );
    let found = truststore("ts.pem", &store(&[&root, &sub1, &sub2])).unwrap();
    assert_eq!(ids(&found), ["ca-path-len"]);
    assert_eq!(found[0].subject.as_deref(), Some("CN=root"));
    assert!(
        found[0].message.ends_with("CN=sub1 is under it"),
        "{}",
        found[0]
    );
}

/// API Gateway developer guide, rest-api-mutual-tls: a truststore is 1 MiB at most.
#[test]
fn a_truststore_over_1_mib_is_reported() {
    // Long names make a large certificate, so few copies pass the limit.
    let names = (0..200)
        .map(|i| SanType::DnsName(format!("{i:0>50}.example.com").try_into().unwrap()))
        .collect();
    let big = issue(
        "big",
        p256(),
        |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.subject_alt_names = names;
        },
        None,
    );
    let copies = MAX_TRUSTSTORE_BYTES / big.cert.der.len() + 1;
    let found = truststore("ts.pem", &store(&vec![&big; copies])).unwrap();
    let last = found.last().unwrap();
    assert_eq!(last.rule, "truststore-size");
    assert!(last
        .message
        .ends_with("bytes; API Gateway takes truststores up to 1 MiB"));
}

/// API Gateway developer guide, rest-api-mutual-tls: up to 1 MiB, so exactly 1 MiB
/// passes. Two copies of a root, each with zero bytes after its DER (a block of `3k`
/// DER bytes is 54 bytes of armour, `4k` of base64 and a newline per 64 of them), make
/// a store of exactly that size.
#[test]
fn a_truststore_of_exactly_1_mib_is_allowed() {
    let root = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
    let block = |k: usize| 54 + 4 * k + k.div_ceil(16);
    let smallest = root.cert.der.len().div_ceil(3);
    let (big, small) = (smallest..smallest + 64)
        .find_map(|small| {
            let rest = MAX_TRUSTSTORE_BYTES - block(small);
            let near = (rest - 54) * 16 / 65;
            (near - 16..near + 16)
                .find(|&big| block(big) == rest)
                .map(|big| (big, small))
        })
        .unwrap();
    let padded = |k: usize| {
        let mut der = root.cert.der.clone();
        der.resize(3 * k, 0);
        crate::pki::pem::encode_certificate(&der)
    };
    let store = Truststore::from_pem("ts.pem", &[padded(big), padded(small)].concat()).unwrap();
    assert_eq!(store.to_pem().len(), MAX_TRUSTSTORE_BYTES);
    let found = ids(&truststore("ts.pem", &store).unwrap());
    assert!(!found.contains(&"truststore-size"), "{found:?}");
}

#[test]
fn an_unreadable_truststore_is_a_finding_only_when_it_is_not_one() {
    let path = "ts.pem".to_string();
    let not_pem = Error::BadTruststore {
        path: path.clone(),
        message: "a KEY block".into(),
    };
    let found = truststore_unreadable("ts.pem", &not_pem, None).unwrap();
    assert_eq!(
        (found.rule, found.message.as_str()),
        ("truststore-pem", "not a PEM truststore: a KEY block")
    );
    let der = fixture(RSA_1024).der;
    let binary = Error::NotText {
        path: path.clone(),
        problem: "it is binary",
    };
    let found = truststore_unreadable("ts.der", &binary, Some(&der)).unwrap();
    assert_eq!(
        (found.rule, found.subject.as_deref()),
        ("truststore-pem", Some("CN=rsa1024"))
    );
    let large = Error::FileTooLarge { path, limit: 7 };
    let found = truststore_unreadable("ts.pem", &large, None).unwrap();
    assert_eq!(found.rule, "truststore-size");
    assert!(found.message.starts_with("larger than 7 bytes"), "{found}");
    let other = Error::InvalidInput {
        problems: String::new(),
    };
    assert_eq!(truststore_unreadable("ts.pem", &other, None), None);
}

#[test]
fn ip_address_names_cover_that_address_only() {
    let addresses = ["10.0.0.1", "2001:db8::1"].map(|a| a.parse().unwrap());
    let server = issue(
        "server",
        p256(),
        |p| p.subject_alt_names = addresses.map(SanType::IpAddress).to_vec(),
        None,
    );
    for covered in ["10.0.0.1", "2001:db8::1"] {
        assert_eq!(domain("s.pem", &server.cert, covered).unwrap(), []);
    }
    let found = domain("s.pem", &server.cert, "10.0.0.2").unwrap();
    assert_eq!(ids(&found), ["domain-not-covered"]);
    assert!(
        found[0]
            .message
            .ends_with("its names are IP:10.0.0.1, IP:2001:db8::1"),
        "{}",
        found[0]
    );
}
