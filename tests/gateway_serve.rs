//! `serve_until_ctrl_c`, the `mtls serve` entry point, serves until SIGINT and then returns
//! Ok with the port closed. Alone in its binary because it signals its own process.
#![cfg(unix)]

mod support {
    pub mod pki;
}

use std::time::Duration;

use mtls::gateway::{probe, serve_until_ctrl_c, ProbeOptions, ServeConfig};
use support::pki::TestPki;

#[tokio::test]
async fn ctrl_c_stops_the_server_cleanly() {
    // Installed first, so that no SIGINT sent below can kill the test process, even one
    // that arrives before the server listens for it.
    let _guard = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .expect("SIGINT handler");

    let pki = TestPki::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = ServeConfig {
        listen: format!("127.0.0.1:{port}").parse().expect("address"),
        ..pki.serve_config()
    };
    let server = tokio::spawn(async move { serve_until_ctrl_c(&config).await });

    let opts = ProbeOptions {
        cert: Some(pki.path("client.pem")),
        key: Some(pki.path("client.key")),
        ca: Some(pki.path("RootCA.pem")),
        resolve: Some(format!("127.0.0.1:{port}").parse().expect("address")),
        ..ProbeOptions::default()
    };
    let url = format!("https://localhost:{port}/pets");
    let mut served = None;
    for _ in 0..100 {
        let seen = probe(&url, &opts).await.expect("probe runs");
        if seen.status.is_some() {
            served = seen.status;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served, Some(200));

    // The server may not be waiting for Ctrl-C yet at the first signal; repeat until it ends.
    let pid = std::process::id().to_string();
    let mut result = None;
    for _ in 0..50 {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        if server.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if server.is_finished() {
        result = Some(server.await.expect("server task"));
    }
    let result = result.expect("serve_until_ctrl_c returned after SIGINT");
    assert!(result.is_ok(), "{result:?}");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}
