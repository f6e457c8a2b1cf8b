//! The check that no private key reaches AWS except in ACM ImportCertificate's `PrivateKey`
//! field (tests/support/key_scan.rs, run on every `Moto`'s recording when it is dropped):
//! - `find_key_material` against keys and certificates made here with `openssl`, in the
//!   shapes they take on the wire (PEM, DER, base64 in JSON as the AWS SDK sends blobs,
//!   base64 inside base64, percent-encoded);
//! - requests sent to moto over plain HTTP, showing that the check fails when it should and
//!   only then.
//!
//! No key is printed: failures name the shape and the file, never its content.
use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use support::key_scan::find_key_material;
use support::moto::Moto;

/// Keys and certificates made once per test process with the `openssl` CLI; only the bytes
/// are kept (the temporary directory is gone once they are read).
struct Material {
    /// (name, PEM, DER) of every private key.
    keys: Vec<(&'static str, Vec<u8>, Vec<u8>)>,
    /// (name, PEM, DER) of certificates, public keys and a CSR: none is a private key.
    public: Vec<(&'static str, Vec<u8>, Vec<u8>)>,
    /// PKCS#12 files (DER only): they hold a key.
    pkcs12: Vec<u8>,
}

/// Runs `openssl` with `command` split on whitespace, in `dir`.
fn openssl(dir: &Path, command: &str) {
    let args: Vec<&str> = command.split_whitespace().collect();
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn material() -> &'static Material {
    static MATERIAL: OnceLock<Material> = OnceLock::new();
    MATERIAL.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let run = |command: &str| openssl(dir, command);
        let read = |name: &str| std::fs::read(dir.join(name)).expect(name);

        // Keys: RSA 2048 and EC P-256/P-384 in PKCS#8 (genpkey), PKCS#1 (rsa -traditional)
        // and SEC1 (ec); Ed25519; encrypted PKCS#8. `.der` files are the same in DER.
        run("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key");
        run("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key");
        run("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384.key");
        run("genpkey -algorithm ED25519 -out ed25519.key");
        for key in ["rsa", "ec", "ec384", "ed25519"] {
            run(&format!(
                "pkcs8 -topk8 -nocrypt -in {key}.key -outform DER -out {key}.key.der"
            ));
        }
        run("rsa -in rsa.key -traditional -out rsa1.key");
        run("rsa -in rsa.key -traditional -outform DER -out rsa1.key.der");
        for key in ["ec", "ec384"] {
            run(&format!("ec -in {key}.key -out {key}1.key"));
            run(&format!(
                "ec -in {key}.key -outform DER -out {key}1.key.der"
            ));
        }
        let encrypt = "pkcs8 -topk8 -in ec.key -v2 aes256 -passout pass:test";
        run(&format!("{encrypt} -out enc.key"));
        run(&format!("{encrypt} -outform DER -out enc.key.der"));

        // Certificates: self-signed with each key, serial numbers 0 and 1 too (a serial
        // `02 01 00` followed by the signature AlgorithmIdentifier looks like PKCS#8's start),
        // one signed with RSA-PSS; public keys; a CSR; a PKCS#12 file.
        let certs = [
            ("rsa", "rsa.key", "1000", ""),
            ("rsa0", "rsa.key", "0", ""),
            ("rsapss0", "rsa.key", "0", "-sigopt rsa_padding_mode:pss"),
            ("ec", "ec.key", "1000", ""),
            ("ec0", "ec.key", "0", ""),
            ("ec1", "ec.key", "1", ""),
            ("ec384", "ec384.key", "1000", ""),
            ("ed0", "ed25519.key", "0", ""),
            ("ed1", "ed25519.key", "1", ""),
        ];
        for (name, key, serial, extra) in certs {
            run(&format!(
                "req -x509 -new -key {key} -subj /CN={name}.example.com/O=mtls-tests -days 2 \
                 -set_serial {serial} -addext subjectAltName=DNS:api.example.com \
                 -out {name}.pem {extra}"
            ));
            run(&format!(
                "x509 -in {name}.pem -outform DER -out {name}.pem.der"
            ));
        }
        for key in ["rsa", "ec", "ec384", "ed25519"] {
            run(&format!("pkey -in {key}.key -pubout -out {key}.pub"));
            run(&format!(
                "pkey -in {key}.key -pubout -outform DER -out {key}.pub.der"
            ));
        }
        run("req -new -key rsa.key -subj /CN=csr.example.com -out rsa.csr");
        run("req -in rsa.csr -outform DER -out rsa.csr.der");
        run("pkcs12 -export -in ec.pem -inkey ec.key -passout pass:test -out ec.p12");

        let pair =
            |name: &'static str, file: &str| (name, read(file), read(&format!("{file}.der")));
        Material {
            keys: vec![
                pair("RSA PKCS#8", "rsa.key"),
                pair("RSA PKCS#1", "rsa1.key"),
                pair("EC P-256 PKCS#8", "ec.key"),
                pair("EC P-256 SEC1", "ec1.key"),
                pair("EC P-384 PKCS#8", "ec384.key"),
                pair("EC P-384 SEC1", "ec3841.key"),
                pair("Ed25519 PKCS#8", "ed25519.key"),
                pair("encrypted PKCS#8", "enc.key"),
            ],
            public: vec![
                pair("RSA certificate", "rsa.pem"),
                pair("RSA certificate, serial 0", "rsa0.pem"),
                pair("RSA-PSS-signed certificate, serial 0", "rsapss0.pem"),
                pair("EC P-256 certificate", "ec.pem"),
                pair("EC P-256 certificate, serial 0", "ec0.pem"),
                pair("EC P-256 certificate, serial 1", "ec1.pem"),
                pair("EC P-384 certificate", "ec384.pem"),
                pair("Ed25519 certificate, serial 0", "ed0.pem"),
                pair("Ed25519 certificate, serial 1", "ed1.pem"),
                pair("RSA public key", "rsa.pub"),
                pair("EC P-256 public key", "ec.pub"),
                pair("EC P-384 public key", "ec384.pub"),
                pair("Ed25519 public key", "ed25519.pub"),
                pair("RSA CSR", "rsa.csr"),
            ],
            pkcs12: read("ec.p12"),
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The PEM body alone: its base64 lines, without the `-----BEGIN/END ...-----` lines.
fn armourless(pem: &[u8]) -> String {
    String::from_utf8_lossy(pem)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Base64 in lines of `width` characters joined by `separator`.
fn b64_lines(bytes: &[u8], width: usize, separator: &str) -> String {
    b64(bytes)
        .as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(separator)
}

/// The shapes a file can take on its way to AWS: (shape, bytes).
fn shapes(pem: &[u8], der: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let pem_text = String::from_utf8_lossy(pem).into_owned();
    vec![
        ("the PEM file", pem.to_vec()),
        ("the DER file (an S3 PutObject body)", der.to_vec()),
        ("the PEM body without armour", armourless(pem).into_bytes()),
        (
            "the PEM body without armour as a JSON string",
            json!({ "Value": armourless(pem) }).to_string().into_bytes(),
        ),
        (
            "the PEM file as a JSON string",
            json!({ "Value": pem_text }).to_string().into_bytes(),
        ),
        (
            "the PEM file as a blob in JSON (base64, as the AWS SDK sends it)",
            json!({ "Blob": b64(pem) }).to_string().into_bytes(),
        ),
        (
            "the DER file as a blob in JSON",
            json!({ "Blob": b64(der) }).to_string().into_bytes(),
        ),
        (
            "the DER file, base64 of base64 in JSON",
            json!({ "Blob": b64(b64(der).as_bytes()) })
                .to_string()
                .into_bytes(),
        ),
        (
            "the PEM file, base64 of base64 of base64",
            b64(b64(b64(pem).as_bytes()).as_bytes()).into_bytes(),
        ),
        (
            "the DER file, base64 of base64 of base64",
            b64(b64(b64(der).as_bytes()).as_bytes()).into_bytes(),
        ),
        (
            "the DER file in base64 glued to text (misaligned)",
            format!("keyAb{}", b64(der)).into_bytes(),
        ),
        (
            "the DER file in base64, MIME lines",
            b64_lines(der, 76, "\r\n").into_bytes(),
        ),
        // Lines shorter than a run: found only if line breaks do not end a run.
        (
            "the DER file in base64, 16-character lines",
            b64_lines(der, 16, "\n").into_bytes(),
        ),
        (
            "the DER file in base64, 16-character lines in a JSON string",
            json!({ "Value": b64_lines(der, 16, "\n") })
                .to_string()
                .into_bytes(),
        ),
        (
            "the DER file in base64, 16-character indented CRLF lines",
            b64_lines(der, 16, "\r\n    ").into_bytes(),
        ),
        (
            "the DER file in base64, 16-character lines in JSON with escaped slashes",
            json!({ "Value": b64_lines(der, 16, "\r\n") })
                .to_string()
                .replace('/', "\\/")
                .into_bytes(),
        ),
        (
            "the DER file in base64, percent-encoded in a query string",
            format!("Action=Put&Value={}&Version=1", percent_encode(&b64(der))).into_bytes(),
        ),
        (
            "the PEM file, percent-encoded in a form body",
            format!("Action=Put&Value={}", percent_encode(&pem_text)).into_bytes(),
        ),
    ]
}

#[test]
fn every_shape_of_every_private_key_is_found() {
    let material = material();
    for (name, pem, der) in &material.keys {
        for (shape, bytes) in shapes(pem, der) {
            let found = find_key_material(&bytes);
            assert!(found.is_some(), "{name}: {shape} was not found");
            let found = found.unwrap();
            // The description tells what and where, never the key.
            assert!(found.len() < 300, "{name}: {shape}: long description");
            for line in armourless(pem).lines().skip(1).take(3) {
                assert!(!found.contains(line), "{name}: {shape}: key in description");
            }
        }
    }
    assert!(
        find_key_material(&material.pkcs12).is_some(),
        "PKCS#12 file"
    );
    assert!(
        find_key_material(
            json!({ "Blob": b64(&material.pkcs12) })
                .to_string()
                .as_bytes()
        )
        .is_some(),
        "PKCS#12 file as a blob in JSON"
    );
}

#[test]
fn the_description_names_the_kind_of_key() {
    let material = material();
    let describe = |i: usize, pem: bool| {
        let (_, p, d) = &material.keys[i];
        find_key_material(if pem { p } else { d }).expect("found")
    };
    assert!(describe(0, true).contains("-----BEGIN PRIVATE KEY-----"));
    assert!(describe(1, true).contains("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(describe(3, true).contains("-----BEGIN EC PRIVATE KEY-----"));
    assert!(describe(7, true).contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(describe(0, false).contains("PKCS#8 private key DER (rsaEncryption)"));
    assert!(describe(1, false).contains("PKCS#1 RSA private key DER"));
    assert!(describe(2, false).contains("id-ecPublicKey"));
    assert!(describe(3, false).contains("SEC1 EC private key DER"));
    assert!(describe(5, false).contains("SEC1 EC private key DER"));
    assert!(describe(6, false).contains("Ed25519"));
    assert!(describe(7, false).contains("encrypted PKCS#8"));
    let blob = json!({ "Blob": b64(&material.keys[0].1) }).to_string();
    let found = find_key_material(blob.as_bytes()).expect("found");
    assert!(found.contains("in base64 text at byte"), "{found}");
}

#[test]
fn certificates_public_keys_and_csrs_in_any_shape_are_clean() {
    let material = material();
    for (name, pem, der) in &material.public {
        for (shape, bytes) in shapes(pem, der) {
            assert_eq!(
                find_key_material(&bytes),
                None,
                "{name}: {shape} was taken for a private key"
            );
        }
    }
    // A whole truststore / chain in one file, and as one blob.
    let chain: Vec<u8> = material
        .public
        .iter()
        .filter(|(n, _, _)| n.contains("certificate"))
        .flat_map(|(_, pem, _)| pem.clone())
        .collect();
    assert_eq!(find_key_material(&chain), None);
    assert_eq!(
        find_key_material(
            json!({ "CertificateChain": b64(&chain) })
                .to_string()
                .as_bytes()
        ),
        None
    );
}

#[test]
fn a_key_appended_to_a_certificate_file_is_found() {
    let material = material();
    let (_, cert, _) = &material.public[0];
    for (name, key, _) in &material.keys {
        let mut file = cert.clone();
        file.extend_from_slice(key);
        let blob = json!({ "Certificate": b64(&file) }).to_string();
        assert!(
            find_key_material(blob.as_bytes()).is_some(),
            "{name} after a certificate"
        );
        let mut bare = armourless(cert);
        bare.push('\n');
        bare.push_str(&armourless(key));
        assert!(
            find_key_material(json!({ "Value": bare }).to_string().as_bytes()).is_some(),
            "{name}'s base64 after a certificate's, without armour"
        );
    }
}

#[test]
fn ordinary_text_and_binary_are_clean() {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
    assert_eq!(find_key_material(text.as_bytes()), None);
    let words: String = (0..400).map(|i| format!("word{i}")).collect();
    assert_eq!(find_key_material(words.as_bytes()), None);
    let hex = "0123456789abcdef".repeat(16);
    assert_eq!(find_key_material(hex.as_bytes()), None);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    assert_eq!(find_key_material(&bytes), None);
    assert_eq!(find_key_material(b64(&bytes).as_bytes()), None);
    assert_eq!(find_key_material(b""), None);
}

// --- Against moto, over plain HTTP -----------------------------------------------------

/// Sends one request to moto, signed in form only (moto does not check signatures; the
/// credential scope tells it the service). Returns the HTTP status.
fn send(
    moto: &Moto,
    service: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> u16 {
    let url = moto.endpoint_url();
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect to moto");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Length: {}\r\nX-Amz-Date: 20250101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 \
         Credential={}/20250101/{}/{service}/aws4_request, SignedHeaders=host, \
         Signature={}\r\n",
        body.len(),
        support::moto::ACCESS_KEY,
        support::moto::REGION,
        "0".repeat(64),
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let status_line = String::from_utf8_lossy(&response[..response.len().min(20)]).into_owned();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {status_line:?}"))
}

fn create_bucket(moto: &Moto, bucket: &str) {
    let status = send(moto, "s3", "PUT", &format!("/{bucket}"), &[], b"");
    assert_eq!(status, 200, "CreateBucket");
}

fn put_object(moto: &Moto, bucket: &str, key: &str, body: &[u8]) -> u16 {
    send(
        moto,
        "s3",
        "PUT",
        &format!("/{bucket}/{key}"),
        &[("Content-Type", "application/octet-stream")],
        body,
    )
}

/// An ACM ImportCertificate with the fields as the AWS SDK writes them (blobs in base64).
fn import_certificate(moto: &Moto, certificate: &[u8], private_key: &[u8], chain: &[u8]) -> u16 {
    let body = json!({
        "Certificate": b64(certificate),
        "PrivateKey": b64(private_key),
        "CertificateChain": b64(chain),
    })
    .to_string();
    send(
        moto,
        "acm",
        "POST",
        "/",
        &[
            ("X-Amz-Target", "CertificateManager.ImportCertificate"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
    )
}

/// The key's base64 lines that must never show in a message.
fn assert_no_key_in(message: &str, key_pem: &[u8]) {
    for line in armourless(key_pem).lines().skip(1).take(5) {
        assert!(!message.contains(line), "the message shows the key");
    }
}

#[test]
fn a_put_object_body_holding_a_pem_key_is_found() {
    let material = material();
    let (_, key, _) = &material.keys[2];
    let moto = Moto::start();
    create_bucket(&moto, "trust-store-scan");
    assert_eq!(
        put_object(&moto, "trust-store-scan", "server.key", key),
        200
    );

    let findings = moto.scan_for_key_material();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].contains("PUT /trust-store-scan/server.key")
            && findings[0].contains("in the body")
            && findings[0].contains("PEM private key marker"),
        "{}",
        findings[0]
    );
    assert_no_key_in(&findings[0], key);
    moto.reset_recording();
}

#[test]
fn base64_of_a_pkcs8_key_in_a_json_field_is_found() {
    let material = material();
    let (_, key, der) = &material.keys[0];
    let moto = Moto::start();
    create_bucket(&moto, "scan-json");
    let json_body = json!({ "name": "backup", "key": b64(der) }).to_string();
    assert_eq!(
        put_object(&moto, "scan-json", "backup.json", json_body.as_bytes()),
        200
    );
    // The same in a JSON-protocol call that is not ImportCertificate (a tag value).
    let tags = json!({
        "CertificateArn": format!(
            "arn:aws:acm:{}:{}:certificate/00000000-0000-0000-0000-000000000000",
            support::moto::REGION,
            support::moto::ACCOUNT_ID
        ),
        "Tags": [{ "Key": "backup", "Value": b64(der) }],
    })
    .to_string();
    send(
        &moto,
        "acm",
        "POST",
        "/",
        &[
            ("X-Amz-Target", "CertificateManager.AddTagsToCertificate"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        tags.as_bytes(),
    );

    let findings = moto.scan_for_key_material();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        findings[0].contains("PUT /scan-json/backup.json")
            && findings[0].contains("PKCS#8 private key DER (rsaEncryption)")
            && findings[0].contains("in base64 text"),
        "{}",
        findings[0]
    );
    assert!(
        findings[1].contains("(AddTagsToCertificate)")
            && findings[1].contains("PKCS#8 private key DER (rsaEncryption)"),
        "{}",
        findings[1]
    );
    for finding in &findings {
        assert_no_key_in(finding, key);
    }
    moto.reset_recording();
}

#[test]
fn import_certificate_may_carry_the_key_in_private_key_only() {
    let material = material();
    let (_, key, _) = &material.keys[2];
    let (_, cert, _) = &material.public[3];
    let (_, chain, _) = &material.public[0];
    let moto = Moto::start();

    assert_eq!(import_certificate(&moto, cert, key, chain), 200);
    assert_eq!(
        moto.scan_for_key_material(),
        Vec::<String>::new(),
        "the key in PrivateKey is allowed"
    );

    let mut cert_and_key = cert.clone();
    cert_and_key.extend_from_slice(key);
    import_certificate(&moto, &cert_and_key, key, chain);
    let mut chain_and_key = chain.clone();
    chain_and_key.extend_from_slice(key);
    import_certificate(&moto, cert, key, &chain_and_key);

    let findings = moto.scan_for_key_material();
    assert_eq!(findings.len(), 2, "{findings:?}");
    for finding in &findings {
        assert!(
            finding.contains("POST / (ImportCertificate)")
                && finding.contains("besides PrivateKey")
                && finding.contains("PEM private key marker"),
            "{finding}"
        );
        assert_no_key_in(finding, key);
    }
    assert!(findings[0].starts_with("#1 "), "{}", findings[0]);
    assert!(findings[1].starts_with("#2 "), "{}", findings[1]);
    moto.reset_recording();
}

#[test]
fn a_recording_of_certificates_only_is_clean() {
    let material = material();
    let (_, key, _) = &material.keys[0];
    let moto = Moto::start();
    create_bucket(&moto, "trust-store-clean");
    let truststore: Vec<u8> = material
        .public
        .iter()
        .filter(|(n, _, _)| n.contains("certificate"))
        .flat_map(|(_, pem, _)| pem.clone())
        .collect();
    assert_eq!(
        put_object(&moto, "trust-store-clean", "RootCA.pem", &truststore),
        200
    );
    for (i, (_, pem, der)) in material.public.iter().enumerate() {
        assert_eq!(
            put_object(&moto, "trust-store-clean", &format!("{i}.der"), der),
            200
        );
        let blob = json!({ "Blob": b64(pem) }).to_string();
        assert_eq!(
            put_object(
                &moto,
                "trust-store-clean",
                &format!("{i}.json"),
                blob.as_bytes()
            ),
            200
        );
    }
    let (_, cert, _) = &material.public[0];
    let (_, chain, _) = &material.public[3];
    assert_eq!(import_certificate(&moto, cert, key, chain), 200);

    assert!(moto.recorded_requests().len() > 20);
    assert_eq!(moto.scan_for_key_material(), Vec::<String>::new());
    // Dropped with the recording as it is: the check on drop passes too.
}

#[test]
fn dropping_a_moto_that_got_a_key_fails_the_test_without_showing_the_key() {
    let material = material();
    let (_, key, _) = &material.keys[1];
    let outcome = catch_unwind(|| {
        let moto = Moto::start();
        create_bucket(&moto, "scan-drop");
        put_object(&moto, "scan-drop", "server.key", key);
        drop(moto);
    });
    let payload = outcome.expect_err("the drop should panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("private key material was sent to AWS")
            && message.contains("PUT /scan-drop/server.key")
            && message.contains("-----BEGIN RSA PRIVATE KEY-----"),
        "{message}"
    );
    assert_no_key_in(&message, key);
}

#[test]
fn reset_recording_checks_what_it_forgets_unless_the_test_scanned_it() {
    let material = material();
    let (_, key, _) = &material.keys[3];
    let moto = Moto::start();
    create_bucket(&moto, "scan-reset");
    put_object(&moto, "scan-reset", "server.key", key);
    let outcome = catch_unwind(AssertUnwindSafe(|| moto.reset_recording()));
    let payload = outcome.expect_err("reset_recording should panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("PUT /scan-reset/server.key"), "{message}");
    assert!(moto.recorded_requests().is_empty(), "reset all the same");

    // Scanned by the test, then forgotten: no panic; a later unscanned key still counts.
    put_object(&moto, "scan-reset", "again.key", key);
    assert_eq!(moto.scan_for_key_material().len(), 1);
    put_object(&moto, "scan-reset", "later.key", key);
    let outcome = catch_unwind(AssertUnwindSafe(|| moto.reset_recording()));
    let message = outcome
        .expect_err("the unscanned request counts")
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("later.key") && !message.contains("again.key"),
        "{message}"
    );
    put_object(&moto, "scan-reset", "last.key", key);
    assert_eq!(moto.scan_for_key_material().len(), 1);
    moto.reset_recording();
}

#[test]
fn an_aws_chunked_body_is_scanned_once_its_chunks_are_joined() {
    let material = material();
    // SEC1 P-256 DER cut after 4 bytes: neither part matches alone (`30 77 02 01 | 01 04 20`).
    let (_, _, der) = &material.keys[3];
    let signature = "0".repeat(64);
    let mut body = Vec::new();
    for chunk in [&der[..4], &der[4..], &[][..]] {
        body.extend_from_slice(
            format!("{:x};chunk-signature={signature}\r\n", chunk.len()).as_bytes(),
        );
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    assert_eq!(
        find_key_material(&body),
        None,
        "the cut hides the key from a plain scan"
    );

    let moto = Moto::start();
    create_bucket(&moto, "scan-chunked");
    let decoded_length = der.len().to_string();
    send(
        &moto,
        "s3",
        "PUT",
        "/scan-chunked/server.der",
        &[
            ("Content-Encoding", "aws-chunked"),
            ("X-Amz-Decoded-Content-Length", &decoded_length),
            ("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ],
        &body,
    );
    let findings = moto.scan_for_key_material();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].contains("PUT /scan-chunked/server.der")
            && findings[0].contains("in the aws-chunked body: SEC1 EC private key DER"),
        "{}",
        findings[0]
    );
    moto.reset_recording();
}
