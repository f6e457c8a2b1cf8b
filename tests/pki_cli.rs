//! `mtls run/plan pki.rhai`: the walkthrough's certificates, checked with openssl.

use crate::support;

use std::fs;
use std::path::Path;

use support::cli::{key_fingerprints, mtls, openssl, PKI_FILES};

const DOMAIN: &str = "api.example.com";

fn run_pki(dir: &Path) -> support::cli::Run {
    mtls(
        dir,
        &["run", "pki.rhai", "--var", &format!("domain={DOMAIN}")],
    )
    .success()
}

/// `openssl verify -x509_strict` accepts the client chain and the server chain.
fn verify_both_chains(dir: &Path) {
    let client = openssl(
        dir,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "RootCA.pem",
            "client.pem",
        ],
    );
    assert!(client.success().stdout.contains("client.pem: OK"));
    let server = openssl(
        dir,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "RootCA.pem",
            "-untrusted",
            "inca.pem",
            "server.pem",
        ],
    );
    assert!(server.success().stdout.contains("server.pem: OK"));
}

fn read_all(dir: &Path) -> Vec<Vec<u8>> {
    PKI_FILES
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn run_makes_a_ca_hierarchy_that_openssl_verifies_strictly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = run_pki(dir);

    for f in PKI_FILES {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    verify_both_chains(dir);

    // Extensions, as `openssl x509 -text` shows them.
    let text = |f: &str| {
        openssl(dir, &["x509", "-noout", "-text", "-in", f])
            .success()
            .stdout
    };
    let root = text("RootCA.pem");
    assert!(root.contains("Version: 3 (0x2)"), "{root}");
    assert!(
        root.contains("X509v3 Basic Constraints: critical\n                CA:TRUE\n"),
        "{root}"
    );
    assert!(root.contains("Certificate Sign, CRL Sign"), "{root}");
    assert!(root.contains("Public-Key: (4096 bit)"), "{root}");
    assert!(root.contains("X509v3 Subject Key Identifier"), "{root}");
    let inca = text("inca.pem");
    assert!(inca.contains("CA:TRUE, pathlen:0"), "{inca}");
    assert!(inca.contains("X509v3 Authority Key Identifier"), "{inca}");
    assert!(inca.contains("Public-Key: (2048 bit)"), "{inca}");
    let server = text("server.pem");
    assert!(server.contains("CA:FALSE"), "{server}");
    assert!(
        server.contains("Digital Signature, Key Encipherment"),
        "{server}"
    );
    assert!(server.contains("TLS Web Server Authentication"), "{server}");
    assert!(server.contains(&format!("DNS:{DOMAIN}")), "{server}");
    assert!(
        server.contains(&format!("CN={DOMAIN}")) || server.contains(&format!("CN = {DOMAIN}")),
        "{server}"
    );
    assert!(server.contains("sha256WithRSAEncryption"), "{server}");
    let client = text("client.pem");
    assert!(client.contains("TLS Web Client Authentication"), "{client}");
    assert!(client.contains("CA:FALSE"), "{client}");

    // Serial numbers: all different, at least 64 bits.
    let serials: Vec<String> = ["RootCA.pem", "client.pem", "inca.pem", "server.pem"]
        .iter()
        .map(|f| {
            openssl(dir, &["x509", "-noout", "-serial", "-in", f])
                .success()
                .stdout
        })
        .collect();
    for (i, s) in serials.iter().enumerate() {
        let hex = s.trim().trim_start_matches("serial=");
        assert!(hex.len() >= 16, "serial too short: {hex}");
        assert!(!serials[..i].contains(s), "serial reused: {s}");
    }

    // Every key is readable, consistent, and matches its certificate.
    for stem in ["RootCA", "client", "inca", "server"] {
        let key = format!("{stem}.key");
        openssl(dir, &["rsa", "-check", "-noout", "-in", &key]).success();
        let from_key = openssl(dir, &["pkey", "-in", &key, "-pubout"])
            .success()
            .stdout;
        let from_cert = openssl(
            dir,
            &["x509", "-in", &format!("{stem}.pem"), "-noout", "-pubkey"],
        )
        .success()
        .stdout;
        assert_eq!(
            from_key, from_cert,
            "{stem}: key does not match certificate"
        );
    }

    // Permissions: keys 0600, certificates 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in PKI_FILES {
            let mode = fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
            let want = if f.ends_with(".key") { 0o600 } else { 0o644 };
            assert_eq!(mode, want, "{f} has mode {mode:o}");
        }
    }

    // The summary names each certificate; no output carries key material.
    assert!(out.stdout.contains("Applied: 8 created"), "{}", out.all());
    for line in key_fingerprints(dir) {
        assert!(!out.all().contains(&line), "key material in output");
    }
    assert!(!out.all().contains("PRIVATE KEY"), "{}", out.all());
}

#[test]
fn second_run_keeps_every_file_byte_for_byte_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_pki(dir);
    let before = read_all(dir);
    let again = run_pki(dir);
    assert_eq!(before, read_all(dir));
    assert!(
        again
            .stdout
            .contains("Applied: 0 created, 0 updated, 0 replaced, 8 kept"),
        "{}",
        again.all()
    );
    assert!(again.stdout.contains("No changes"), "{}", again.all());
    // And a plan now shows nothing to do.
    let plan = mtls(
        dir,
        &["plan", "pki.rhai", "--var", &format!("domain={DOMAIN}")],
    )
    .success();
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to replace, 8 to keep"),
        "{}",
        plan.all()
    );
    for line in key_fingerprints(dir) {
        assert!(
            !plan.all().contains(&line) && !again.all().contains(&line),
            "key material in output"
        );
    }
}

#[test]
fn plan_on_an_empty_folder_writes_nothing_and_lists_eight_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let plan = mtls(
        tmp.path(),
        &[
            "plan",
            "pki.rhai",
            "-C",
            "out",
            "--var",
            &format!("domain={DOMAIN}"),
        ],
    )
    .success();
    assert!(!out_dir.exists(), "a plan created the working folder");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    assert!(plan.stdout.contains("Plan: 8 to create"), "{}", plan.all());
    for f in PKI_FILES {
        assert!(plan.stdout.contains(f), "{f} not in plan:\n{}", plan.stdout);
    }
    assert!(
        plan.stdout.contains("(known after apply)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("CN={DOMAIN}")),
        "{}",
        plan.stdout
    );

    let json = mtls(
        tmp.path(),
        &[
            "plan",
            "pki.rhai",
            "-C",
            "out",
            "--format",
            "json",
            "--var",
            &format!("domain={DOMAIN}"),
        ],
    )
    .success();
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("stdout is one JSON document");
    assert_eq!(v["mode"], "plan");
    assert_eq!(v["summary"]["create"], 8);
    let targets: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["target"].as_str().unwrap())
        .collect();
    for f in PKI_FILES {
        assert!(targets.contains(&f), "{f} not in JSON plan");
    }
    assert!(!out_dir.exists());
}

#[test]
fn changed_domain_is_refused_without_force_and_replaced_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_pki(dir);
    let before = read_all(dir);
    let err = mtls(
        dir,
        &["run", "pki.rhai", "--var", "domain=other.example.com"],
    )
    .failure();
    assert!(
        err.stderr.contains("server.pem exists with subject"),
        "{}",
        err.all()
    );
    assert!(err.stderr.contains("--force"), "{}", err.all());
    assert_eq!(before, read_all(dir), "a refused run changed files");

    let forced = mtls(
        dir,
        &[
            "run",
            "pki.rhai",
            "--force",
            "--var",
            "domain=other.example.com",
        ],
    )
    .success();
    assert!(forced.stdout.contains("8 replaced"), "{}", forced.all());
    let server = openssl(dir, &["x509", "-noout", "-text", "-in", "server.pem"])
        .success()
        .stdout;
    assert!(server.contains("DNS:other.example.com"), "{server}");
    verify_both_chains(dir);
}

#[test]
fn a_replaced_root_is_detected_in_the_certificates_it_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_pki(dir);
    fs::remove_file(dir.join("RootCA.pem")).unwrap();
    fs::remove_file(dir.join("RootCA.key")).unwrap();
    let err = mtls(
        dir,
        &["run", "pki.rhai", "--var", &format!("domain={DOMAIN}")],
    )
    .failure();
    assert!(
        err.stderr
            .contains("client.pem was not issued by RootCA.pem"),
        "{}",
        err.all()
    );
}
