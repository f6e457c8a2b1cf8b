//! `openssl s_client`, an independent TLS stack, against the rehearsal gateway: the server
//! sends its intermediate, verifies against the root alone, and speaks no TLS below 1.2.

use crate::support;

use mtls::gateway::Gateway;
use support::pki::TestPki;

struct SClient {
    success: bool,
    output: String,
}

/// Runs s_client with stdin empty, so it ends right after the handshake.
async fn s_client(pki: &TestPki, gateway: &Gateway, extra: &[&str]) -> SClient {
    let mut args: Vec<String> = vec![
        "s_client".into(),
        "-connect".into(),
        gateway.local_addr().to_string(),
        "-servername".into(),
        "localhost".into(),
        "-cert".into(),
        pki.path("client.pem").display().to_string(),
        "-key".into(),
        pki.path("client.key").display().to_string(),
        "-CAfile".into(),
        pki.path("RootCA.pem").display().to_string(),
        "-verify_return_error".into(),
        "-showcerts".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("openssl")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run openssl")
    })
    .await
    .expect("openssl task");
    SClient {
        success: out.status.success(),
        output: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[tokio::test]
async fn server_sends_leaf_and_intermediate() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");

    for version in ["-tls1_3", "-tls1_2"] {
        let result = s_client(&pki, &gateway, &[version]).await;
        assert!(
            result.success,
            "{version}: s_client failed:\n{}",
            result.output
        );
        assert!(
            result.output.contains("Verify return code: 0 (ok)"),
            "{version}:\n{}",
            result.output
        );
        // -showcerts prints " N s:SUBJECT" then "   i:ISSUER" for each certificate sent.
        assert!(
            result.output.contains(" 0 s:CN = localhost"),
            "{version}: leaf first:\n{}",
            result.output
        );
        assert!(
            result
                .output
                .contains(" 1 s:CN = mtls test intermediate CA"),
            "{version}: intermediate second:\n{}",
            result.output
        );
        assert!(
            !result.output.contains(" 2 s:"),
            "{version}: only two certificates:\n{}",
            result.output
        );
        assert_eq!(
            result.output.matches("-----BEGIN CERTIFICATE-----").count(),
            2,
            "{version}"
        );
    }
    gateway.shutdown().await;
}

#[tokio::test]
async fn tls_1_1_is_refused() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    // SECLEVEL=0 so that it is the server, not OpenSSL's own policy, that says no.
    let result = s_client(
        &pki,
        &gateway,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    )
    .await;
    assert!(!result.success, "TLS 1.1 was accepted:\n{}", result.output);
    // rustls answers a ClientHello without TLS 1.2 or 1.3 with a fatal alert
    // (handshake_failure) before sending any certificate.
    assert!(
        result.output.contains("SSL alert number"),
        "expected an alert from the server:\n{}",
        result.output
    );
    assert!(
        result.output.contains("no peer certificate available"),
        "{}",
        result.output
    );
    assert!(!result.output.contains("BEGIN CERTIFICATE"));
    gateway.shutdown().await;
}
