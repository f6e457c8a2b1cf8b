//! `shutdown()` really closes the listener and the open connections, and does so promptly.

use crate::support;

use std::time::{Duration, Instant};

use mtls::gateway::{probe, Gateway, ProbeOptions};
use support::pki::TestPki;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn shutdown_closes_listener_and_connections() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let addr = gateway.local_addr();
    assert_ne!(addr.port(), 0, "local_addr reports the real port");

    let opts = ProbeOptions {
        cert: Some(pki.path("client.pem")),
        key: Some(pki.path("client.key")),
        ca: Some(pki.path("RootCA.pem")),
        resolve: Some(addr),
        ..ProbeOptions::default()
    };
    let url = format!("https://localhost:{}/pets", addr.port());
    let before = probe(&url, &opts).await.expect("probe runs");
    assert_eq!(before.status, Some(200), "{before:?}");

    // A client that connected but never started its handshake must not hold shutdown up
    // for the handshake timeout, and must see its connection closed.
    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    gateway.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );

    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf))
        .await
        .expect("the idle connection is closed, not left hanging");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener still accepts after shutdown"
    );
    let after = probe(&url, &opts).await.expect("probe runs");
    assert_eq!(after.status, None);
    assert!(after.error.is_some());
}

#[tokio::test]
async fn dropping_the_gateway_stops_it_too() {
    let pki = TestPki::new();
    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let addr = gateway.local_addr();
    drop(gateway);
    // The stop is asynchronous: give the accept loop a moment.
    let mut closed = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the listener outlived its Gateway");
}
