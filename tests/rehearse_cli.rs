//! The local rehearsal as a user runs it: `mtls serve` checked with curl, and
//! `mtls run rehearse.rhai` passing, failing on a broken truststore, and planning.

use crate::support;

use std::io::BufReader;
use std::process::{Command, Stdio};

use support::cli::{listening_port, mtls, openssl, SERVE};

#[test]
fn mtls_serve_answers_curl_with_a_client_certificate_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    mtls(dir, &["run", "pki.rhai", "--var", "domain=localhost"]).success();

    let mut server = Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(SERVE)
        .current_dir(dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let port = listening_port(&mut stderr);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}/pets");
    let curl = |extra: &[&str]| {
        let mut args = vec![
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            "RootCA.pem",
            "--resolve",
            &resolve,
        ];
        args.extend_from_slice(extra);
        args.push(&url);
        Command::new("curl")
            .args(&args)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let ok = curl(&[
        "--cert",
        "client.pem",
        "--key",
        "client.key",
        "-w",
        "\n%{http_code}",
    ]);
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(
        ok.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "200");
    let pets: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(pets.as_array().unwrap().len(), 3);
    assert_eq!(pets[0]["type"], "dog");
    assert_eq!(pets[0]["price"], 249.99);
    let refused = curl(&[]);
    assert!(
        !refused.status.success(),
        "no client certificate, yet curl succeeded"
    );

    // Ctrl-C stops it cleanly.
    Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "mtls serve exited with {status}");
    // Each request was logged with the client certificate's subject.
    let mut log = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
    assert!(log.contains("CN=mtls client"), "{log}");
}

#[test]
fn rehearse_passes_then_fails_when_the_truststore_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = mtls(dir, &["run", "rehearse.rhai"]).success();
    let passes: Vec<_> = good
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("PASS"))
        .collect();
    assert_eq!(passes.len(), 4, "{}", good.stdout);
    assert!(
        good.stdout.contains("trusted client certificate"),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains("HTTP 200"), "{}", good.stdout);
    let denied = good
        .stdout
        .lines()
        .find(|l| l.contains("revoked client certificate"));
    assert!(
        denied
            .is_some_and(|l| l.contains("PASS")
                && l.contains("expected HTTP 403 (explicit deny), got HTTP 403")),
        "{}",
        good.stdout
    );
    // The rehearsal's list is its own: the folder's RootCA.crl.pem is not made.
    assert!(dir.join("revoked/RootCA.crl.pem").exists());
    assert!(!dir.join("RootCA.crl.pem").exists());
    // Run again: the revoked client and its list are kept.
    let again = mtls(dir, &["run", "rehearse.rhai"]).success();
    assert!(
        again.stdout.contains("= revocation list"),
        "{}",
        again.stdout
    );
    let server = openssl(
        dir,
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            "server.pem",
        ],
    )
    .success()
    .stdout;
    assert!(
        server.contains("DNS:localhost") && server.contains("IP Address:127.0.0.1"),
        "{server}"
    );

    // Serving another CA's certificate as the truststore: the trusted client is refused and
    // the untrusted one gets in, so the rehearsal must fail.
    let bad = mtls(
        dir,
        &[
            "run",
            "rehearse.rhai",
            "--var",
            "truststore=untrusted/RootCA.pem",
        ],
    )
    .failure();
    assert!(
        bad.stderr.contains("3 of 4 mTLS checks failed"),
        "{}",
        bad.all()
    );
    assert_eq!(
        bad.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("FAIL"))
            .count(),
        3,
        "{}",
        bad.stdout
    );
}

#[test]
fn rehearse_plan_starts_nothing_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = mtls(tmp.path(), &["plan", "rehearse.rhai"]).success();
    assert!(plan.stdout.contains("local gateway"), "{}", plan.stdout);
    assert_eq!(
        plan.stdout.matches("? https probe").count(),
        4,
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("(known after apply)  trusted client certificate"),
        "{}",
        plan.stdout
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
