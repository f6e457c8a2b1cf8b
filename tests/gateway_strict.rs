//! `mtls serve` trusts exactly what API Gateway and `mtls check` trust: attacks of the third
//! adversarial round, with curl and openssl as the real peers.
//!
//! Each case first shows, with `openssl verify`, that its fixture is what it claims (a
//! chain openssl refuses, or one it accepts but for its length), then asserts how the
//! gateway answers: a refused start naming the rule, or a handshake refused with the TLS
//! alert rustls sends for it. A case that got 200 before the change fails here.

use crate::support;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mtls::gateway::{Gateway, GatewayError, ServeConfig};
use support::pki::TestPki;

/// What curl did.
struct Curl {
    exit: Option<i32>,
    status: String,
    stderr: String,
}

/// curl as `cert` (a PEM file that may hold the chain after the leaf) with `key`, for
/// /pets at `port`, trusting RootCA.pem for the server.
async fn curl(pki: &TestPki, port: u16, cert: &str, key: &str, max_time: &str) -> Curl {
    let args: Vec<String> = vec![
        "--silent".into(),
        "--show-error".into(),
        "--max-time".into(),
        max_time.into(),
        "--cacert".into(),
        pki.path("RootCA.pem").display().to_string(),
        "--resolve".into(),
        format!("localhost:{port}:127.0.0.1"),
        "--cert".into(),
        pki.path(cert).display().to_string(),
        "--key".into(),
        pki.path(key).display().to_string(),
        "--output".into(),
        "/dev/null".into(),
        "--write-out".into(),
        "%{http_code}".into(),
        format!("https://localhost:{port}/pets"),
    ];
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl").args(&args).output().expect("run curl")
    })
    .await
    .expect("curl task");
    Curl {
        exit: out.status.code(),
        status: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The handshake was refused with rustls's alert for a certificate its verifier refused
/// (`access denied`): curl exits 35 (TLS 1.2, during the handshake) or 56 (TLS 1.3, where
/// the client learns of it at its first read), with no HTTP status.
#[track_caller]
fn assert_access_denied(result: &Curl, what: &str) {
    assert!(
        matches!(result.exit, Some(35) | Some(56)),
        "{what}: curl exit {:?}, status {}: {}",
        result.exit,
        result.status,
        result.stderr
    );
    assert_eq!(result.status, "000", "{what}: {}", result.stderr);
    assert!(
        result.stderr.contains("alert access denied"),
        "{what}: {}",
        result.stderr
    );
}

/// `openssl verify` of `leaf` against `ca_file`, with `untrusted` intermediates.
fn openssl_verifies(pki: &TestPki, ca_file: &str, untrusted: Option<&str>, leaf: &str) -> bool {
    let mut args = vec!["verify", "-CAfile", ca_file];
    if let Some(chain) = untrusted {
        args.extend(["-untrusted", chain]);
    }
    args.push(leaf);
    Command::new("openssl")
        .args(&args)
        .current_dir(pki.dir())
        .output()
        .expect("run openssl")
        .status
        .success()
}

fn config(pki: &TestPki, truststore: &str) -> ServeConfig {
    ServeConfig {
        truststore: pki.path(truststore),
        ..pki.serve_config()
    }
}

/// The start is refused with the rule's id among the findings.
async fn refused_start(pki: &TestPki, truststore: &str, rule: &str) {
    match Gateway::start(&config(pki, truststore)).await {
        Err(GatewayError::TruststoreRules { findings, .. }) => {
            assert!(findings.contains(&format!("[{rule}]")), "{findings}");
        }
        Err(other) => panic!("{truststore}: another error: {other}"),
        Ok(gateway) => {
            gateway.shutdown().await;
            panic!("{truststore}: the gateway started");
        }
    }
}

/// `cat RootCA.pem client.pem > ts.pem`, then a certificate for CN=admin signed with
/// client.key: openssl refuses the chain, and the gateway refuses to start on ts.pem
/// (a client certificate is no issuer), so admin never gets in.
#[tokio::test]
async fn a_client_certificate_in_the_truststore_is_no_issuer() {
    let pki = TestPki::new();
    pki.issue("admin", "admin", "client", "client");
    pki.concat("ts_client.pem", &["RootCA.pem", "client.pem"]);
    assert!(!openssl_verifies(&pki, "ts_client.pem", None, "admin.pem"));
    assert!(openssl_verifies(&pki, "ts_client.pem", None, "client.pem"));
    refused_start(&pki, "ts_client.pem", "truststore-not-ca").await;
}

/// Roots that may not issue what is under them: with pathlen:0 over an intermediate, or
/// without keyCertSign. A truststore holding them is refused at start; a pathlen:0 root
/// alone (the intermediate sent by the client) passes the lint, so the handshake is
/// refused instead.
#[tokio::test]
async fn roots_that_cannot_issue_are_not_trusted() {
    let pki = TestPki::new();
    pki.broken_cas();
    pki.concat("pl0chain.pem", &["pl0client.pem", "pl0sub.pem"]);
    assert!(!openssl_verifies(
        &pki,
        "pl0root.pem",
        Some("pl0sub.pem"),
        "pl0client.pem"
    ));
    assert!(!openssl_verifies(
        &pki,
        "nkcsroot.pem",
        None,
        "nkcsclient.pem"
    ));
    refused_start(&pki, "ts_pathlen.pem", "ca-path-len").await;
    refused_start(&pki, "nkcsroot.pem", "ca-key-cert-sign").await;
    refused_start(&pki, "ts_badsig.pem", "truststore-signature").await;

    let gateway = Gateway::start(&config(&pki, "pl0root.pem"))
        .await
        .expect("a pathlen:0 root alone is a valid truststore");
    let port = gateway.local_addr().port();
    let result = curl(&pki, port, "pl0chain.pem", "pl0client.key", "10").await;
    assert_access_denied(
        &result,
        "a client under an intermediate of a pathlen:0 root",
    );
    gateway.shutdown().await;
}

/// A 5-long client chain is refused; so is the same chain plus a fake intermediate that
/// names the root as its issuer (never verifiable: signed by another key) and makes the
/// chain 3 long by names.
#[tokio::test]
async fn a_fake_intermediate_does_not_shorten_a_chain() {
    let pki = TestPki::new();
    pki.broken_cas();
    pki.issue("sub1", "sub CA 1", "v3_intermediate", "RootCA");
    pki.issue("sub2", "sub CA 2", "v3_intermediate", "sub1");
    pki.issue("sub3", "sub CA 3", "v3_intermediate", "sub2");
    pki.issue("five", "five levels", "client", "sub3");
    // "sub CA 3" again, issued under RootCA's name by fakeroot's key.
    pki.issue("fake3", "sub CA 3", "v3_intermediate", "fakeroot");
    pki.concat(
        "five_chain.pem",
        &["five.pem", "sub3.pem", "sub2.pem", "sub1.pem"],
    );
    pki.concat(
        "five_fake.pem",
        &["five.pem", "sub3.pem", "sub2.pem", "sub1.pem", "fake3.pem"],
    );
    pki.concat("intermediates.pem", &["sub3.pem", "sub2.pem", "sub1.pem"]);
    // Sound but for its length: openssl, which has no length limit, accepts it.
    assert!(openssl_verifies(
        &pki,
        "RootCA.pem",
        Some("intermediates.pem"),
        "five.pem"
    ));
    assert!(!openssl_verifies(&pki, "RootCA.pem", None, "fake3.pem"));

    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let port = gateway.local_addr().port();
    for chain in ["five_chain.pem", "five_fake.pem"] {
        let result = curl(&pki, port, chain, "five.key", "10").await;
        assert_access_denied(&result, chain);
    }
    let good = curl(&pki, port, "client.pem", "client.key", "10").await;
    assert_eq!(good.status, "200", "{}", good.stderr);
    gateway.shutdown().await;
}

/// An idle-TCP flood bigger than the gateway's descriptor limit does not starve a good
/// client: `mtls serve` under `ulimit -n 256`, 1000 idle connections, then curl.
#[tokio::test]
async fn an_idle_flood_does_not_starve_good_clients() {
    let pki = TestPki::new();
    let serve = format!(
        "ulimit -n 256 && exec {} serve --cert server.pem --key server.key --chain inca.pem \
         --truststore RootCA.pem --listen 127.0.0.1:0",
        env!("CARGO_BIN_EXE_mtls")
    );
    let mut child = Command::new("sh")
        .args(["-c", &serve])
        .current_dir(pki.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mtls serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read stderr");
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    // Keep reading what it logs, so that a full pipe never blocks it.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));

    // A bounded flood: 1000 connections that never send a byte, four times the
    // gateway's descriptors. Without a cap it stops accepting at about 256 and the
    // kernel's queue fills: a connect then times out.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let flood: Vec<TcpStream> = (0..1000)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("flood connection {i} not accepted: {e}"))
        })
        .collect();
    let started = Instant::now();
    let good = curl(&pki, port, "client.pem", "client.key", "5").await;
    assert_eq!(
        good.status,
        "200",
        "a good client starved by the flood (exit {:?}, after {:?}): {}",
        good.exit,
        started.elapsed(),
        good.stderr
    );
    // The oldest idle connection was let go to make room: it reads the end of the stream.
    let mut first = &flood[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut byte = [0u8; 1];
    let read = first.read(&mut byte);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the oldest idle connection is still open: {read:?}"
    );
    drop(flood);
    let _ = child.kill();
    let _ = child.wait();
}
