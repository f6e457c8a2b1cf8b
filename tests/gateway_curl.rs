//! curl, a real client, against the rehearsal gateway: the walkthrough's step 15 on loopback.

use crate::support;

use mtls::gateway::Gateway;
use support::pki::TestPki;

/// What curl did: its exit code, the HTTP status it saw ("000" when none) and the body.
struct Curl {
    exit: Option<i32>,
    status: String,
    body: String,
    stderr: String,
}

/// Runs curl off the runtime's threads so that the gateway keeps serving meanwhile.
async fn curl(pki: &TestPki, gateway: &Gateway, path: &str, extra: &[&str]) -> Curl {
    let port = gateway.local_addr().port();
    let mut args: Vec<String> = vec![
        "--silent".into(),
        "--show-error".into(),
        "--max-time".into(),
        "10".into(),
        "--cacert".into(),
        pki.path("RootCA.pem").display().to_string(),
        "--resolve".into(),
        format!("localhost:{port}:127.0.0.1"),
        "--write-out".into(),
        "\n%{http_code}".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(format!("https://localhost:{port}{path}"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .output()
            .expect("run curl")
    })
    .await
    .expect("curl task");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
    Curl {
        exit: out.status.code(),
        status: status.to_string(),
        body: body.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn identity(pki: &TestPki, name: &str) -> [String; 4] {
    [
        "--cert".into(),
        pki.path(&format!("{name}.pem")).display().to_string(),
        "--key".into(),
        pki.path(&format!("{name}.key")).display().to_string(),
    ]
}

async fn curl_as(pki: &TestPki, gateway: &Gateway, name: &str, path: &str, extra: &[&str]) -> Curl {
    let id = identity(pki, name);
    let mut args: Vec<&str> = id.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    curl(pki, gateway, path, &args).await
}

/// The handshake was refused for the reason given: curl's exit code (56: the alert came at
/// its first read, TLS 1.3; 98: a client certificate was required) and the TLS alert the
/// gateway sent, as OpenSSL names it. Any other failure (a broken fixture, a timeout) is
/// not a refusal.
#[track_caller]
fn assert_refused(result: &Curl, what: &str, exit: i32, alert: &str) {
    assert_eq!(
        result.exit,
        Some(exit),
        "{what}: curl exit {:?}, body {:?}: {}",
        result.exit,
        result.body,
        result.stderr
    );
    assert!(
        result.stderr.contains(alert),
        "{what}: no {alert:?} in {}",
        result.stderr
    );
    assert_eq!(result.status, "000", "{what}: no HTTP status expected");
    assert!(result.body.is_empty(), "{what}: no body expected");
}

/// `openssl verify` of `leaf` against `ca`, with more options (`-no_check_time`): the fixture is
/// sound where a test says it is, so a refusal is the gateway's doing.
#[track_caller]
fn assert_openssl_verifies(pki: &TestPki, ca: &str, leaf: &str, extra: &[&str]) {
    let mut args = vec!["verify", "-CAfile", ca];
    args.extend_from_slice(extra);
    args.push(leaf);
    let out = std::process::Command::new("openssl")
        .args(&args)
        .current_dir(pki.dir())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl refuses {leaf} under {ca}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn client_from_the_truststore_gets_the_pets() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");

    assert_openssl_verifies(&pki, "RootCA.pem", "client.pem", &[]);
    let pets = curl_as(&pki, &gateway, "client", "/pets", &[]).await;
    assert_eq!(pets.exit, Some(0), "curl failed: {}", pets.stderr);
    assert_eq!(pets.status, "200");
    let json: serde_json::Value = serde_json::from_str(&pets.body).expect("JSON body");
    let list = json.as_array().expect("a JSON array");
    assert_eq!(list.len(), 3);
    let dog = list.iter().find(|p| p["type"] == "dog").expect("a dog");
    assert_eq!(dog["price"].as_f64(), Some(249.99));
    assert_eq!(dog["id"].as_u64(), Some(1));

    let cat = curl_as(&pki, &gateway, "client", "/pets/2", &[]).await;
    assert_eq!(cat.status, "200");
    let cat: serde_json::Value = serde_json::from_str(&cat.body).expect("JSON body");
    assert_eq!(cat["type"], "cat");

    let missing = curl_as(&pki, &gateway, "client", "/pets/9", &[]).await;
    assert_eq!(missing.status, "404");
    assert_eq!(missing.body, r#"{"message":"Not Found"}"#);

    let elsewhere = curl_as(&pki, &gateway, "client", "/owners", &[]).await;
    assert_eq!(elsewhere.status, "404");

    let post = curl_as(&pki, &gateway, "client", "/pets", &["-X", "POST"]).await;
    assert_eq!(post.status, "405");

    let headers = curl_as(
        &pki,
        &gateway,
        "client",
        "/pets",
        &["--head", "--request", "GET"],
    )
    .await;
    assert!(
        headers
            .body
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "headers: {}",
        headers.body
    );
    assert!(
        headers.body.starts_with("HTTP/1.1 200"),
        "headers: {}",
        headers.body
    );

    gateway.shutdown().await;
}

#[tokio::test]
async fn tls_1_2_works_too() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let pets = curl_as(
        &pki,
        &gateway,
        "client",
        "/pets",
        &["--tlsv1.2", "--tls-max", "1.2"],
    )
    .await;
    assert_eq!(pets.exit, Some(0), "curl failed: {}", pets.stderr);
    assert_eq!(pets.status, "200");

    let anonymous = curl(&pki, &gateway, "/pets", &["--tlsv1.2", "--tls-max", "1.2"]).await;
    assert_refused(
        &anonymous,
        "TLS 1.2 without a client certificate",
        98,
        "alert certificate required",
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let result = curl(&pki, &gateway, "/pets", &[]).await;
    assert_refused(
        &result,
        "no client certificate",
        56,
        "alert certificate required",
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn client_of_another_ca_is_refused() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    // Sound under its own CA: refused only for not chaining to the truststore.
    assert_openssl_verifies(&pki, "OtherCA.pem", "other_client.pem", &[]);
    let result = curl_as(&pki, &gateway, "other_client", "/pets", &[]).await;
    assert_refused(&result, "client of an unrelated CA", 56, "alert unknown ca");
    gateway.shutdown().await;
}

#[tokio::test]
async fn expired_client_is_refused() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    // Sound but for its dates (openssl told not to check them): refused for its dates.
    assert_openssl_verifies(
        &pki,
        "RootCA.pem",
        "expired_client.pem",
        &["-no_check_time"],
    );
    let result = curl_as(&pki, &gateway, "expired_client", "/pets", &[]).await;
    assert_refused(
        &result,
        "expired client certificate",
        56,
        "alert certificate expired",
    );
    gateway.shutdown().await;
}
