//! `mtls check`: every lint rule against a failing fixture and a passing one, all made here
//! with the `openssl` CLI (an implementation independent of mtls). Each failing case
//! checks the exit code, the rule id and the certificate's subject, in the text output and
//! in `--format json`; each passing case checks that the rule is not reported.

use crate::support;

use std::path::Path;

use support::cli::{mtls, openssl};
use support::pki::TestPki;

/// The fixtures: TestPki's files plus those each rule needs, keys 0600.
fn fixtures() -> TestPki {
    let pki = TestPki::new();
    let dir = pki.dir();
    // Three CA levels below the root, for chains and truststores of every length.
    pki.issue("sub1", "sub CA 1", "v3_intermediate", "RootCA");
    pki.issue("sub2", "sub CA 2", "v3_intermediate", "sub1");
    pki.issue("sub3", "sub CA 3", "v3_intermediate", "sub2");
    pki.issue_with("sha1", "sha1 server", "server", "inca", &["-md", "sha1"]);
    pki.issue_with_dates(
        "future",
        "future client",
        "client",
        "RootCA",
        Some(("20990101000000Z", "20990201000000Z")),
    );
    // An X.509 v1 certificate: no configuration, so no extensions.
    ok(openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "server.key",
            "-subj",
            "/CN=v1 cert",
            "-days",
            "30",
            "-config",
            "/dev/null",
            "-out",
            "v1.pem",
        ],
    ));
    // An RSA 1024 CA.
    ok(openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-keyout",
            "weak.key",
            "-subj",
            "/CN=weak root",
            "-days",
            "30",
            "-config",
            "/dev/null",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-out",
            "weak.pem",
        ],
    ));
    ok(openssl(
        dir,
        &[
            "pkey",
            "-in",
            "server.key",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            "encrypted.key",
        ],
    ));
    ok(openssl(
        dir,
        &[
            "x509",
            "-in",
            "RootCA.pem",
            "-outform",
            "DER",
            "-out",
            "RootCA.der",
        ],
    ));
    pki.concat("ts_client.pem", &["RootCA.pem", "client.pem"]);
    pki.concat("ts_twice.pem", &["RootCA.pem", "RootCA.pem"]);
    pki.concat("ts_three.pem", &["RootCA.pem", "sub1.pem", "sub2.pem"]);
    pki.concat(
        "ts_four.pem",
        &["RootCA.pem", "sub1.pem", "sub2.pem", "sub3.pem"],
    );
    pki.concat("chain_reversed.pem", &["RootCA.pem", "inca.pem"]);
    pki.concat("chain_ok.pem", &["inca.pem", "RootCA.pem"]);
    pki.concat("chain_client.pem", &["inca.pem", "client.pem"]);
    let root = std::fs::read_to_string(pki.path("RootCA.pem")).unwrap();
    let copies = (1024 * 1024) / root.len() + 1;
    std::fs::write(pki.path("ts_big.pem"), root.repeat(copies)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "key") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    pki
}

#[track_caller]
fn ok(run: support::cli::Run) {
    run.success();
}

fn args<'a>(extra: &[&'a str], json: bool) -> Vec<&'a str> {
    let mut all = vec!["check"];
    all.extend_from_slice(extra);
    if json {
        all.extend(["--format", "json"]);
    }
    all
}

/// `mtls check ARGS --format json`, parsed.
#[track_caller]
fn json(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let run = mtls(dir, &args(extra, true));
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.all()));
    (run.status.code(), doc)
}

/// The check fails (exit 1) with `rule` on the certificate `subject` (or on `file` for a
/// finding about a whole file), in both formats.
#[track_caller]
fn fails(dir: &Path, extra: &[&str], rule: &str, subject: Option<&str>) {
    outcome(dir, extra, rule, subject, 1);
}

/// The check reports `rule` on `subject` as a warning only: exit 0.
#[track_caller]
fn warns(dir: &Path, extra: &[&str], rule: &str, subject: &str) {
    outcome(dir, extra, rule, Some(subject), 0);
}

#[track_caller]
fn outcome(dir: &Path, extra: &[&str], rule: &str, subject: Option<&str>, code: i32) {
    let run = mtls(dir, &args(extra, false));
    let shown = format!("mtls {}:\n{}", extra.join(" "), run.all());
    assert_eq!(run.status.code(), Some(code), "{shown}");
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(rule))
        .collect();
    assert!(!lines.is_empty(), "no {rule} finding: {shown}");
    if let Some(subject) = subject {
        let line = lines.iter().find(|l| l.contains(subject));
        let line = line.unwrap_or_else(|| panic!("{rule} does not name {subject}: {shown}"));
        assert!(line.contains("(SHA-256 "), "no fingerprint: {shown}");
    }
    let (json_code, doc) = json(dir, extra);
    assert_eq!(json_code, Some(code), "{doc}");
    let found = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["rule"] == rule
                && match subject {
                    Some(s) => f["subject"].as_str().is_some_and(|x| x.contains(s)),
                    None => f["subject"].is_null(),
                }
        })
        .unwrap_or_else(|| panic!("no {rule} on {subject:?} in JSON: {doc}"));
    if subject.is_some() {
        assert_eq!(found["sha256"].as_str().unwrap().len(), 95, "{doc}");
    }
}

/// The check passes as far as `rule` goes: not reported, exit 0 (these fixtures are clean
/// otherwise).
#[track_caller]
fn passes(dir: &Path, extra: &[&str], rule: &str) {
    let run = mtls(dir, &args(extra, false));
    assert_eq!(
        run.status.code(),
        Some(0),
        "mtls {}:\n{}",
        extra.join(" "),
        run.all()
    );
    assert!(!run.stdout.contains(rule), "{}", run.all());
    assert!(run.stdout.contains("0 errors, 0 warnings"), "{}", run.all());
}

#[test]
fn certificate_rules() {
    let pki = fixtures();
    let d = pki.dir();
    fails(d, &["--cert", "v1.pem"], "cert-v3", Some("CN=v1 cert"));
    passes(d, &["--cert", "server.pem"], "cert-v3");
    fails(
        d,
        &["--truststore", "weak.pem"],
        "cert-key",
        Some("CN=weak root"),
    );
    passes(d, &["--truststore", "RootCA.pem"], "cert-key");
    fails(
        d,
        &["--cert", "sha1.pem"],
        "cert-signature",
        Some("CN=sha1 server"),
    );
    passes(d, &["--cert", "server.pem"], "cert-signature");
    fails(
        d,
        &["--cert", "expired_client.pem"],
        "cert-expired",
        Some("CN=expired client"),
    );
    passes(d, &["--cert", "client.pem"], "cert-expired");
    fails(
        d,
        &["--cert", "future.pem"],
        "cert-not-yet-valid",
        Some("CN=future client"),
    );
    passes(d, &["--cert", "client.pem"], "cert-not-yet-valid");
    // The certificate rules hold for a truststore's and a chain's certificates too.
    fails(
        d,
        &["--cert", "server.pem", "--chain", "sha1.pem"],
        "cert-signature",
        Some("CN=sha1 server"),
    );
    passes(
        d,
        &[
            "--truststore",
            "RootCA.pem",
            "--cert",
            "server.pem",
            "--chain",
            "chain_ok.pem",
        ],
        "error ",
    );
}

#[test]
fn expiring_lists_what_expires_within_the_window() {
    let pki = fixtures();
    let d = pki.dir();
    // TestPki's certificates are valid for 30 days.
    fails(
        d,
        &["--expiring", "40d", "--cert", "server.pem"],
        "cert-expiring",
        Some("CN=localhost"),
    );
    fails(
        d,
        &[
            "--expiring",
            "40d",
            "--truststore",
            "RootCA.pem",
            "--cert",
            "server.pem",
            "--chain",
            "inca.pem",
        ],
        "cert-expiring",
        Some("CN=mtls test intermediate CA"),
    );
    passes(
        d,
        &["--expiring", "10d", "--cert", "server.pem"],
        "cert-expiring",
    );
    passes(
        d,
        &["--expiring", "240h", "--truststore", "RootCA.pem"],
        "cert-expiring",
    );
    fails(
        d,
        &["--expiring", "1d", "--cert", "expired_client.pem"],
        "cert-expired",
        Some("CN=expired client"),
    );
    // Only expiry is listed: a SHA-1 certificate that does not expire soon passes.
    passes(
        d,
        &["--expiring", "1d", "--cert", "sha1.pem"],
        "cert-signature",
    );
    let bad = mtls(d, &["check", "--expiring", "30", "--cert", "server.pem"]).failure();
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stderr.contains("30d or 12h"), "{}", bad.all());
}

#[test]
fn acm_import_rules() {
    let pki = fixtures();
    let d = pki.dir();
    let good = [
        "--cert",
        "server.pem",
        "--key",
        "server.key",
        "--chain",
        "chain_ok.pem",
    ];
    for rule in [
        "acm-key-unusable",
        "acm-key-mismatch",
        "acm-chain-order",
        "acm-chain-end-entity",
        "domain-not-covered",
    ] {
        passes(d, &good, rule);
    }
    fails(
        d,
        &["--cert", "server.pem", "--key", "encrypted.key"],
        "acm-key-unusable",
        Some("CN=localhost"),
    );
    fails(
        d,
        &["--cert", "server.pem", "--key", "client.key"],
        "acm-key-mismatch",
        Some("CN=localhost"),
    );
    fails(
        d,
        &["--cert", "server.pem", "--chain", "chain_reversed.pem"],
        "acm-chain-order",
        Some("CN=mtls test root CA"),
    );
    fails(
        d,
        &["--cert", "server.pem", "--chain", "chain_client.pem"],
        "acm-chain-end-entity",
        Some("CN=mtls test client"),
    );
    fails(
        d,
        &["--cert", "server.pem", "--chain", "server.pem"],
        "acm-chain-end-entity",
        Some("CN=localhost"),
    );
    fails(
        d,
        &["--cert", "server.pem", "--domain", "api.example.com"],
        "domain-not-covered",
        Some("CN=localhost"),
    );
    passes(
        d,
        &["--cert", "server.pem", "--domain", "LOCALHOST"],
        "domain-not-covered",
    );
    passes(
        d,
        &["--cert", "server.pem", "--domain", "127.0.0.1"],
        "domain-not-covered",
    );
}

/// `--domain` is taken as certificates carry names: a Unicode name matches its punycode
/// SAN; a value that is no domain is refused before any file is read.
#[test]
fn check_domain_is_compared_in_ascii_and_nonsense_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    support::cli::self_signed_p256(
        d,
        "idn",
        "/CN=xn--bcher-kva.example",
        &["-addext", "subjectAltName=DNS:xn--bcher-kva.example"],
    );
    for domain in ["bücher.example", "BÜCHER.example.", "xn--bcher-kva.example"] {
        passes(
            d,
            &["--cert", "idn.pem", "--domain", domain],
            "domain-not-covered",
        );
    }
    fails(
        d,
        &["--cert", "idn.pem", "--domain", "bucher.example"],
        "domain-not-covered",
        Some("CN=xn--bcher-kva.example"),
    );
    for bad in ["", "a..example", "two words.example"] {
        let run = support::cli::mtls(d, &["check", "--cert", "idn.pem", "--domain", bad]);
        // A usage error exits 1 like any error (2 means "changes" for plans).
        assert_eq!(run.status.code(), Some(1), "{bad:?}: {}", run.all());
        assert!(run.all().contains("--domain"), "{bad:?}: {}", run.all());
        assert!(!run.all().contains("domain-not-covered"), "{}", run.all());
    }
    // Refused before any file is read: a missing certificate is not even mentioned.
    let run = support::cli::mtls(d, &["check", "--cert", "missing.pem", "--domain", "a..b"]);
    assert_eq!(run.status.code(), Some(1), "{}", run.all());
    assert!(run.all().contains("--domain"), "{}", run.all());
    assert!(!run.all().contains("missing.pem"), "{}", run.all());
}

#[test]
fn truststore_rules() {
    let pki = fixtures();
    let d = pki.dir();
    let root = "CN=mtls test root CA";
    fails(
        d,
        &["--truststore", "RootCA.der"],
        "truststore-pem",
        Some(root),
    );
    passes(d, &["--truststore", "RootCA.pem"], "truststore-pem");
    fails(
        d,
        &["--truststore", "ts_client.pem"],
        "truststore-not-ca",
        Some("CN=mtls test client"),
    );
    passes(d, &["--truststore", "ts_three.pem"], "truststore-not-ca");
    warns(
        d,
        &["--truststore", "ts_twice.pem"],
        "truststore-duplicate",
        root,
    );
    passes(d, &["--truststore", "RootCA.pem"], "truststore-duplicate");
    // A client under sub3 makes client, sub3, sub2, sub1, root: five.
    fails(
        d,
        &["--truststore", "ts_four.pem"],
        "truststore-chain-length",
        Some("CN=sub CA 3"),
    );
    passes(
        d,
        &["--truststore", "ts_three.pem"],
        "truststore-chain-length",
    );
    fails(d, &["--truststore", "ts_big.pem"], "truststore-size", None);
    passes(d, &["--truststore", "ts_three.pem"], "truststore-size");
}

#[test]
fn json_document_is_stable() {
    let pki = fixtures();
    let (code, doc) = json(
        pki.dir(),
        &["--truststore", "ts_client.pem", "--cert", "sha1.pem"],
    );
    assert_eq!(code, Some(1));
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&doc),
        ["certificates", "errors", "findings", "warnings"]
    );
    assert_eq!(doc["errors"], 2, "{doc}");
    assert_eq!(doc["warnings"], 0, "{doc}");
    assert_eq!(doc["certificates"], 3, "{doc}");
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{doc}");
    for f in findings {
        assert_eq!(
            keys(f),
            ["file", "fix", "message", "rule", "severity", "sha256", "subject"]
        );
        assert_eq!(f["severity"], "error");
    }
    assert_eq!(findings[0]["rule"], "truststore-not-ca");
    assert_eq!(findings[0]["file"], "ts_client.pem");
    assert_eq!(findings[1]["rule"], "cert-signature");
    // The fingerprint is openssl's.
    let fp = openssl(
        pki.dir(),
        &[
            "x509",
            "-in",
            "sha1.pem",
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    )
    .success();
    assert!(
        fp.stdout
            .trim()
            .ends_with(findings[1]["sha256"].as_str().unwrap()),
        "{}",
        fp.stdout
    );
    // The text output: one line per finding, then the count.
    let text = mtls(
        pki.dir(),
        &[
            "check",
            "--truststore",
            "ts_client.pem",
            "--cert",
            "sha1.pem",
        ],
    );
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", text.stdout);
    assert!(
        lines[0].starts_with("error   truststore-not-ca "),
        "{}",
        text.stdout
    );
    assert!(lines[0].contains("; fix: "), "{}", text.stdout);
    assert_eq!(lines[2], "2 errors, 0 warnings in 3 certificates checked");
    // A clean check is a document too.
    let (code, doc) = json(pki.dir(), &["--truststore", "RootCA.pem"]);
    assert_eq!(code, Some(0));
    assert_eq!(doc["findings"], serde_json::json!([]));
}

#[test]
fn unreadable_input_exits_1_with_a_clear_message() {
    let pki = fixtures();
    let d = pki.dir();
    let run = mtls(d, &["check", "--cert", "missing.pem"]).failure();
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("missing.pem"), "{}", run.all());
    assert!(run.stdout.is_empty(), "{}", run.all());
    // Keys others can read are refused, as everywhere else.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        pki.path("client.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let run = mtls(d, &["check", "--cert", "client.pem", "--key", "client.key"]).failure();
    assert!(run.stderr.contains("chmod 600 client.key"), "{}", run.all());
    // Files outside the folder are refused, as in scripts.
    let run = mtls(d, &["check", "--truststore", "../RootCA.pem"]).failure();
    assert_eq!(run.status.code(), Some(1), "{}", run.all());
    // Nothing to check is a usage error.
    let run = mtls(d, &["check"]).failure();
    assert_eq!(run.status.code(), Some(1), "{}", run.all());
    // -C reads from another folder.
    let parent = d.parent().unwrap();
    let name = d.file_name().unwrap().to_str().unwrap();
    let run = mtls(parent, &["check", "-C", name, "--truststore", "RootCA.pem"]);
    assert_eq!(run.status.code(), Some(0), "{}", run.all());
}

/// setup's checks (the primitives `check_truststore` and `check_acm_import`, run by `plan`
/// and `run` before any AWS call) report the same rule and message as `mtls check`.
#[test]
fn scripts_report_the_same_findings() {
    let pki = fixtures();
    let d = pki.dir();
    let cases: [(&str, &[&str]); 3] = [
        (
            "check_truststore(\"ts_client.pem\");",
            &["--truststore", "ts_client.pem"],
        ),
        (
            "check_truststore(\"ts_four.pem\");",
            &["--truststore", "ts_four.pem"],
        ),
        (
            "check_acm_import(\"server.pem\", \"client.key\", \"chain_reversed.pem\");",
            &[
                "--cert",
                "server.pem",
                "--key",
                "client.key",
                "--chain",
                "chain_reversed.pem",
            ],
        ),
    ];
    for (script, check) in cases {
        std::fs::write(pki.path("lint.rhai"), script).unwrap();
        let (_, doc) = json(d, check);
        let findings = doc["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{doc}");
        for command in ["plan", "run"] {
            let run = mtls(d, &[command, "lint.rhai"]).failure();
            for f in findings {
                let rule = f["rule"].as_str().unwrap();
                let message = f["message"].as_str().unwrap();
                assert!(
                    run.stderr.contains(&format!("[{rule}]")),
                    "{script}: {}",
                    run.all()
                );
                assert!(
                    run.stderr.contains(message),
                    "{script}: {message}\n{}",
                    run.all()
                );
            }
        }
    }
    // A warning does not stop a script.
    std::fs::write(pki.path("lint.rhai"), "check_truststore(\"ts_twice.pem\");").unwrap();
    let run = mtls(d, &["run", "lint.rhai"]).success();
    assert!(
        run.stderr.contains("[truststore-duplicate]"),
        "{}",
        run.all()
    );
}

/// The fixtures of the issuer and chain rules, besides [`fixtures`]: broken CAs
/// ([`TestPki::broken_cas`]), a secp256k1 CA, a certificate with bytes after its DER, an
/// intermediate-only truststore and an RSA 3072 server certificate.
fn issuer_fixtures(pki: &TestPki) {
    let d = pki.dir();
    pki.broken_cas();
    ok(openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
            "-nodes",
            "-keyout",
            "k1.key",
            "-subj",
            "/CN=secp256k1 root",
            "-days",
            "30",
            "-config",
            "/dev/null",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "k1.pem",
        ],
    ));
    // RootCA's DER with two bytes after it, back in a PEM block.
    let mut der = std::fs::read(pki.path("RootCA.der")).unwrap();
    der.extend_from_slice(&[0, 0]);
    std::fs::write(pki.path("trailing.der"), der).unwrap();
    let b64 = openssl(d, &["base64", "-in", "trailing.der"])
        .success()
        .stdout;
    std::fs::write(
        pki.path("ts_trailing.pem"),
        format!("-----BEGIN CERTIFICATE-----\n{b64}-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    pki.concat("ts_inca_only.pem", &["inca.pem"]);
    ok(openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
            "rsa3072.key",
        ],
    ));
    ok(openssl(
        d,
        &[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-key",
            "rsa3072.key",
            "-subj",
            "/CN=rsa 3072 server",
            "-out",
            "rsa3072.csr",
        ],
    ));
    ok(openssl(
        d,
        &[
            "ca",
            "-batch",
            "-notext",
            "-rand_serial",
            "-config",
            "openssl.cnf",
            "-extensions",
            "server",
            "-cert",
            "inca.pem",
            "-keyfile",
            "inca.key",
            "-in",
            "rsa3072.csr",
            "-out",
            "rsa3072.pem",
        ],
    ));
    for key in ["k1.key", "rsa3072.key"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(pki.path(key), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// openssl's own verdict on a chain: `leaf` against the CAs of `truststore` (trusted) with
/// `untrusted` intermediates, so that each fixture is shown broken (or sound) by an
/// implementation independent of mtls.
fn openssl_verifies(dir: &Path, truststore: &str, untrusted: Option<&str>, leaf: &str) -> bool {
    let mut args = vec!["verify", "-CAfile", truststore];
    if let Some(chain) = untrusted {
        args.extend(["-untrusted", chain]);
    }
    args.push(leaf);
    openssl(dir, &args).status.success()
}

/// The rules a CA must pass to issue (keyCertSign, pathLen, each link's signature), the
/// truststore's root, the curves ACM takes, bytes after the DER, and the server key of a
/// REGIONAL domain: each fails on a fixture openssl also refuses, and passes on a sound one.
#[test]
fn issuer_and_chain_rules() {
    let pki = fixtures();
    issuer_fixtures(&pki);
    let d = pki.dir();
    // The fixtures are what they claim, by openssl's verdict.
    assert!(openssl_verifies(
        d,
        "RootCA.pem",
        Some("inca.pem"),
        "server.pem"
    ));
    assert!(!openssl_verifies(
        d,
        "pl0root.pem",
        Some("pl0sub.pem"),
        "pl0client.pem"
    ));
    assert!(!openssl_verifies(d, "nkcsroot.pem", None, "nkcsclient.pem"));
    assert!(!openssl_verifies(d, "RootCA.pem", None, "badsub.pem"));

    fails(
        d,
        &["--truststore", "ts_pathlen.pem"],
        "ca-path-len",
        Some("CN=pathlen0 root"),
    );
    passes(d, &["--truststore", "ts_three.pem"], "ca-path-len");
    fails(
        d,
        &["--truststore", "nkcsroot.pem"],
        "ca-key-cert-sign",
        Some("CN=no keyCertSign root"),
    );
    passes(d, &["--truststore", "RootCA.pem"], "ca-key-cert-sign");
    fails(
        d,
        &["--truststore", "ts_badsig.pem"],
        "truststore-signature",
        Some("CN=badly signed CA"),
    );
    passes(d, &["--truststore", "ts_three.pem"], "truststore-signature");
    fails(
        d,
        &["--truststore", "ts_inca_only.pem"],
        "truststore-root",
        Some("CN=mtls test intermediate CA"),
    );
    passes(d, &["--truststore", "ts_three.pem"], "truststore-root");
    fails(
        d,
        &["--truststore", "k1.pem"],
        "cert-curve",
        Some("CN=secp256k1 root"),
    );
    passes(d, &["--truststore", "RootCA.pem"], "cert-curve");
    fails(
        d,
        &["--truststore", "ts_trailing.pem"],
        "cert-der-trailing",
        Some("CN=mtls test root CA"),
    );
    passes(d, &["--truststore", "RootCA.pem"], "cert-der-trailing");
    let server = |name: &str| {
        [
            "--cert".to_string(),
            format!("{name}.pem"),
            "--key".to_string(),
            format!("{name}.key"),
            "--chain".to_string(),
            "chain_ok.pem".to_string(),
        ]
    };
    let big = server("rsa3072");
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    fails(d, &big, "acm-server-key", Some("CN=rsa 3072 server"));
    let good = server("server");
    let good: Vec<&str> = good.iter().map(String::as_str).collect();
    passes(d, &good, "acm-server-key");
}
