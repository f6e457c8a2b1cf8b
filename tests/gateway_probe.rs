//! The probe against the rehearsal gateway: a trusted client gets the pets and the details
//! of the handshake; refusals and network failures come back as data, bad inputs as errors.

use crate::support;

use std::time::Duration;

use mtls::gateway::{probe, Gateway, GatewayError, ProbeOptions};
use support::pki::TestPki;

fn options(pki: &TestPki, gateway: &Gateway, identity: Option<&str>) -> ProbeOptions {
    ProbeOptions {
        cert: identity.map(|name| pki.path(&format!("{name}.pem"))),
        key: identity.map(|name| pki.path(&format!("{name}.key"))),
        ca: Some(pki.path("RootCA.pem")),
        timeout: Duration::from_secs(10),
        resolve: Some(gateway.local_addr()),
    }
}

fn pets_url(gateway: &Gateway) -> String {
    format!("https://localhost:{}/pets", gateway.local_addr().port())
}

#[tokio::test]
async fn trusted_client_gets_pets_and_handshake_details() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");

    let seen = probe(
        &pets_url(&gateway),
        &options(&pki, &gateway, Some("client")),
    )
    .await
    .expect("probe runs");
    assert_eq!(seen.error, None);
    assert_eq!(seen.failed_at, None);
    assert_eq!(seen.status, Some(200));
    let pets: serde_json::Value = serde_json::from_str(&seen.body).expect("JSON body");
    assert_eq!(pets.as_array().map(Vec::len), Some(3));
    assert_eq!(pets[0]["type"], "dog");
    assert_eq!(pets[0]["price"].as_f64(), Some(249.99));
    assert_eq!(
        seen.server_chain,
        vec![
            "CN=localhost".to_string(),
            "CN=mtls test intermediate CA".to_string()
        ]
    );
    assert_eq!(seen.tls_version.as_deref(), Some("TLSv1.3"));
    assert!(seen
        .headers
        .iter()
        .any(|(name, value)| name == "content-type" && value == "application/json"));

    // By IP address too: the server certificate names 127.0.0.1, and no --resolve is needed.
    let by_ip = format!("https://{}/pets/3", gateway.local_addr());
    let fish = probe(
        &by_ip,
        &ProbeOptions {
            resolve: None,
            ..options(&pki, &gateway, Some("client"))
        },
    )
    .await
    .expect("probe runs");
    assert_eq!(fish.error, None);
    assert_eq!(fish.status, Some(200));
    assert!(fish.body.contains("fish"), "{}", fish.body);

    gateway.shutdown().await;
}

#[tokio::test]
async fn refused_clients_are_reported_not_raised() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let url = pets_url(&gateway);

    // TLS 1.3: the client's handshake completes before the server judges it, so this is
    // the case where a careless client would report a response.
    // A client certificate signed with SHA-1, which API Gateway does not accept either.
    pki.issue_with(
        "sha1_client",
        "sha1 client",
        "client",
        "RootCA",
        &["-md", "sha1"],
    );
    for identity in [
        None,
        Some("other_client"),
        Some("expired_client"),
        Some("sha1_client"),
    ] {
        let seen = probe(&url, &options(&pki, &gateway, identity))
            .await
            .expect("probe runs");
        assert_eq!(seen.status, None, "{identity:?}: {seen:?}");
        assert!(
            seen.failed_at.is_some_and(|f| f.is_refusal()),
            "{identity:?}: {seen:?}"
        );
        assert!(seen.body.is_empty(), "{identity:?}");
        let error = seen.error.unwrap_or_default();
        assert!(
            error.contains("alert"),
            "{identity:?}: expected a TLS alert, got {error:?}"
        );
        let hint = match identity {
            None => "requires a client certificate",
            Some(_) => "refused the client certificate",
        };
        assert!(error.contains(hint), "{identity:?}: {error}");
    }

    // A server the CA does not vouch for: refused by the probe itself.
    let wrong_ca = ProbeOptions {
        ca: Some(pki.path("OtherCA.pem")),
        ..options(&pki, &gateway, Some("client"))
    };
    let seen = probe(&url, &wrong_ca).await.expect("probe runs");
    assert_eq!(seen.status, None);
    let error = seen.error.unwrap_or_default();
    assert!(error.contains("TLS handshake failed"), "{error}");
    assert!(seen.server_chain.is_empty());

    gateway.shutdown().await;
}

#[tokio::test]
async fn network_failures_are_reported_not_raised() {
    let pki = TestPki::new();

    // Nothing listens: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let opts = ProbeOptions {
        ca: Some(pki.path("RootCA.pem")),
        resolve: Some(addr),
        ..ProbeOptions::default()
    };
    let seen = probe(&format!("https://localhost:{}/pets", addr.port()), &opts)
        .await
        .expect("probe runs");
    assert_eq!(seen.status, None);
    assert_eq!(seen.failed_at, Some(mtls::gateway::FailedAt::Connect));
    assert!(seen.error.unwrap_or_default().contains("cannot connect"));

    // Something listens but never speaks TLS: the timeout ends the probe.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let opts = ProbeOptions {
        resolve: Some(addr),
        timeout: Duration::from_millis(300),
        ..opts
    };
    let started = std::time::Instant::now();
    let seen = probe(&format!("https://localhost:{}/pets", addr.port()), &opts)
        .await
        .expect("probe runs");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(seen.status, None);
    assert_eq!(seen.failed_at, Some(mtls::gateway::FailedAt::Timeout));
    assert!(seen.error.unwrap_or_default().contains("timed out"));
    drop(silent);
}

#[tokio::test]
async fn bad_inputs_are_errors() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let url = pets_url(&gateway);
    let good = options(&pki, &gateway, Some("client"));

    let no_ca = ProbeOptions {
        ca: None,
        ..good.clone()
    };
    assert!(matches!(
        probe(&url, &no_ca).await,
        Err(GatewayError::MissingCa)
    ));

    for bad_url in ["http://localhost/pets", "localhost/pets", "https:///pets"] {
        assert!(
            matches!(
                probe(bad_url, &good).await,
                Err(GatewayError::InvalidUrl { .. })
            ),
            "{bad_url}"
        );
    }

    let half = ProbeOptions {
        key: None,
        ..good.clone()
    };
    assert!(matches!(
        probe(&url, &half).await,
        Err(GatewayError::IncompleteIdentity {
            given: "--cert",
            missing: "--key"
        })
    ));

    let mismatched = ProbeOptions {
        key: Some(pki.path("other_client.key")),
        ..good.clone()
    };
    match probe(&url, &mismatched).await {
        Err(GatewayError::KeyMismatch { cert, key }) => {
            assert_eq!(cert, pki.path("client.pem"));
            assert_eq!(key, pki.path("other_client.key"));
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }

    let missing = ProbeOptions {
        cert: Some(pki.path("nope.pem")),
        ..good.clone()
    };
    match probe(&url, &missing).await {
        Err(
            e @ GatewayError::ReadFile {
                option: "--cert", ..
            },
        ) => {
            assert!(e.to_string().contains("nope.pem"), "{e}");
        }
        other => panic!("expected ReadFile, got {other:?}"),
    }

    gateway.shutdown().await;
}

#[tokio::test]
async fn chain_may_come_inside_the_certificate_file() {
    let pki = TestPki::new();
    let mut config = pki.serve_config();
    config.cert = pki.concat("fullchain.pem", &["server.pem", "inca.pem"]);
    config.chain = None;
    let gateway = Gateway::start(&config).await.expect("start gateway");
    let seen = probe(
        &pets_url(&gateway),
        &options(&pki, &gateway, Some("client")),
    )
    .await
    .expect("probe runs");
    assert_eq!(seen.status, Some(200), "{seen:?}");
    assert_eq!(seen.server_chain.len(), 2);
    gateway.shutdown().await;
}
