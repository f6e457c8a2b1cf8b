//! The gateway refuses to start on bad input, and says which file or address is wrong;
//! once running, it refuses bad requests with an answer rather than a stall.

use crate::support;

use miette::Diagnostic;
use mtls::gateway::{Gateway, GatewayError, ServeConfig};
use support::pki::TestPki;

async fn start_err(config: &ServeConfig) -> GatewayError {
    match Gateway::start(config).await {
        Ok(gateway) => {
            gateway.shutdown().await;
            panic!("the gateway started with {config:?}");
        }
        Err(e) => e,
    }
}

fn help(e: &GatewayError) -> String {
    e.help().map(|h| h.to_string()).unwrap_or_default()
}

/// No error message may carry key material, whatever file was passed where: no line of
/// the base64 body of any key of the test PKI appears in the message, help or debug form.
fn assert_no_key_material(pki: &TestPki, e: &GatewayError) {
    let text = format!("{e} {} {e:?}", help(e));
    for key in ["server.key", "client.key", "RootCA.key"] {
        let pem = std::fs::read_to_string(pki.path(key)).expect("read key");
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 8)
        {
            assert!(!text.contains(line), "{key} leaked into: {text}");
        }
    }
}

#[tokio::test]
async fn port_in_use_names_the_address() {
    let pki = TestPki::new();
    let first = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let taken = ServeConfig {
        listen: first.local_addr(),
        ..pki.serve_config()
    };
    let e = start_err(&taken).await;
    match &e {
        GatewayError::AddrInUse { addr } => assert_eq!(*addr, first.local_addr()),
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    assert!(
        e.to_string().contains(&first.local_addr().to_string()),
        "{e}"
    );
    assert!(help(&e).contains("--listen 127.0.0.1:0"), "{}", help(&e));
    first.shutdown().await;
}

#[tokio::test]
async fn key_of_another_certificate_is_refused() {
    let pki = TestPki::new();
    let config = ServeConfig {
        key: pki.path("client.key"),
        ..pki.serve_config()
    };
    let e = start_err(&config).await;
    match &e {
        GatewayError::KeyMismatch { cert, key } => {
            assert_eq!(cert, &pki.path("server.pem"));
            assert_eq!(key, &pki.path("client.key"));
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
    assert_no_key_material(&pki, &e);
}

#[tokio::test]
async fn missing_files_are_named_with_their_option() {
    let pki = TestPki::new();
    type SetPath = fn(&mut ServeConfig, std::path::PathBuf);
    let cases: [(&str, SetPath); 4] = [
        ("--cert", |c, p| c.cert = p),
        ("--key", |c, p| c.key = p),
        ("--chain", |c, p| c.chain = Some(p)),
        ("--truststore", |c, p| c.truststore = p),
    ];
    for (option, set) in cases {
        let mut config = pki.serve_config();
        let missing = pki.path(&format!("missing{option}.pem"));
        set(&mut config, missing.clone());
        let e = start_err(&config).await;
        match &e {
            GatewayError::ReadFile {
                option: o, path, ..
            } => {
                assert_eq!(*o, option);
                assert_eq!(path, &missing);
            }
            other => panic!("{option}: expected ReadFile, got {other:?}"),
        }
        let message = e.to_string();
        assert!(message.contains(option), "{message}");
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );
    }
}

#[tokio::test]
async fn files_with_the_wrong_content_are_refused() {
    let pki = TestPki::new();
    let empty = pki.path("empty.pem");
    std::fs::write(&empty, "").expect("write");

    // A key where a certificate belongs, and the other way round.
    let e = start_err(&ServeConfig {
        cert: pki.path("server.key"),
        ..pki.serve_config()
    })
    .await;
    assert!(
        matches!(
            e,
            GatewayError::NoCertificate {
                option: "--cert",
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_key_material(&pki, &e);

    // (A copy readable by its owner only: a key file is checked for that first.)
    let swapped = pki.path("swapped.key");
    std::fs::copy(pki.path("server.pem"), &swapped).expect("copy");
    set_mode(&swapped, 0o600);
    let e = start_err(&ServeConfig {
        key: swapped,
        ..pki.serve_config()
    })
    .await;
    assert!(
        matches!(
            e,
            GatewayError::NoPrivateKey {
                option: "--key",
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_key_material(&pki, &e);

    let e = start_err(&ServeConfig {
        truststore: empty.clone(),
        ..pki.serve_config()
    })
    .await;
    assert!(
        matches!(
            e,
            GatewayError::EmptyTruststore {
                option: "--truststore",
                ..
            }
        ),
        "{e:?}"
    );

    let e = start_err(&ServeConfig {
        truststore: pki.path("RootCA.key"),
        ..pki.serve_config()
    })
    .await;
    assert!(matches!(e, GatewayError::EmptyTruststore { .. }), "{e:?}");
    assert_no_key_material(&pki, &e);

    let e = start_err(&ServeConfig {
        chain: Some(empty),
        ..pki.serve_config()
    })
    .await;
    assert!(
        matches!(
            e,
            GatewayError::NoCertificate {
                option: "--chain",
                ..
            }
        ),
        "{e:?}"
    );

    // Every error tells the user what to do.
    assert!(!help(&e).is_empty());
}

#[tokio::test]
async fn sec1_keys_are_accepted() {
    let pki = TestPki::new();
    let out = std::process::Command::new("openssl")
        .args(["ec", "-in", "server.key", "-out", "server.sec1.key"])
        .current_dir(pki.dir())
        .output()
        .expect("run openssl");
    assert!(out.status.success());
    let text = std::fs::read_to_string(pki.path("server.sec1.key")).expect("read");
    assert!(text.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let config = ServeConfig {
        key: pki.path("server.sec1.key"),
        ..pki.serve_config()
    };
    let gateway = Gateway::start(&config)
        .await
        .expect("start with a SEC1 key");
    gateway.shutdown().await;
}

/// curl with the test client certificate, which must succeed: the HTTP status it saw.
///
/// Run off the runtime's threads so that the gateway keeps serving meanwhile; `--max-time`
/// turns a gateway that stalls into a failure instead of a hung test.
async fn curl_status(pki: &TestPki, gateway: &Gateway, extra: &[&str]) -> String {
    let port = gateway.local_addr().port();
    let mut args: Vec<String> = vec![
        "--silent".into(),
        "--show-error".into(),
        "--max-time".into(),
        "10".into(),
        "--cacert".into(),
        pki.path("RootCA.pem").display().to_string(),
        "--cert".into(),
        pki.path("client.pem").display().to_string(),
        "--key".into(),
        pki.path("client.key").display().to_string(),
        "--resolve".into(),
        format!("localhost:{port}:127.0.0.1"),
        "--output".into(),
        "/dev/null".into(),
        "--write-out".into(),
        "%{http_code}".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(format!("https://localhost:{port}/pets"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .output()
            .expect("run curl")
    })
    .await
    .expect("curl task");
    let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "curl failed ({:?}), status {status}: {stderr}",
        out.status.code()
    );
    status
}

/// API Gateway refuses request headers over 10 KB; the rehearsal answers 431 at once, where
/// it used to wait 30 s for the end of the head and then close without an answer. 150 KB
/// is more than curl 7.x sends over TLS before it waits for the answer, and the gateway
/// must not reset the connection on a client that is still sending.
#[tokio::test]
async fn oversized_request_headers_get_431_and_the_gateway_keeps_serving() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");

    // From a file: one command-line argument cannot hold 150 KB.
    let header = pki.path("big-header.txt");
    std::fs::write(&header, format!("X-Big: {}\n", "a".repeat(150 * 1024))).expect("write");
    let header_arg = format!("@{}", header.display());
    let status = curl_status(&pki, &gateway, &["--header", &header_arg]).await;
    assert_eq!(status, "431", "a 150 KB header");

    let status = curl_status(&pki, &gateway, &[]).await;
    assert_eq!(status, "200", "a normal request after the refused one");

    gateway.shutdown().await;
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `mtls serve` with `key`, refused before it listens; its output.
fn serve_refused(pki: &TestPki, key: &str) -> String {
    let args = [
        "serve",
        "--cert",
        "server.pem",
        "--chain",
        "inca.pem",
        "--truststore",
        "RootCA.pem",
        "--listen",
        "127.0.0.1:0",
        "--key",
        key,
    ];
    // A gateway that starts would serve until Ctrl-C: it gets a while to refuse, then is
    // stopped and the test fails.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(args)
        .current_dir(pki.dir())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mtls serve");
    let deadline = std::time::Instant::now() + support::timing::secs(20.0);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("stop mtls serve");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(!all.contains("listening on"), "{all}");
    all
}

/// The gateway reads its files as every read of mtls does (src/workdir): a key others may
/// read, or a link to a key outside the folder that holds it, is refused with the working
/// folder's own message and what to do.
#[test]
fn serve_refuses_a_key_others_may_read_or_a_key_linked_from_elsewhere() {
    let pki = TestPki::new();
    std::fs::copy(pki.path("server.key"), pki.path("open.key")).expect("copy");
    set_mode(&pki.path("open.key"), 0o644);
    let out = serve_refused(&pki, "open.key");
    assert!(
        out.contains("the --key file open.key cannot be used"),
        "{out}"
    );
    assert!(
        out.contains("open.key is readable by others (mode 0644)"),
        "{out}"
    );
    assert!(out.contains("chmod 600 open.key"), "{out}");

    let elsewhere = tempfile::tempdir().expect("tempdir");
    let outside = elsewhere.path().join("server.key");
    std::fs::copy(pki.path("server.key"), &outside).expect("copy");
    set_mode(&outside, 0o600);
    std::os::unix::fs::symlink(&outside, pki.path("linked.key")).expect("symlink");
    let out = serve_refused(&pki, "linked.key");
    assert!(
        out.contains("linked.key is a link to") && out.contains("outside the working folder"),
        "{out}"
    );
}
