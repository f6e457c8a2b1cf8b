//! API Gateway accepts client chains of at most four certificates (client to root); the
//! rehearsal must refuse a fifth level even though webpki alone would accept it.

use crate::support;

use mtls::gateway::{probe, Gateway, ProbeOptions, MAX_CLIENT_CHAIN_LEN};
use support::pki::TestPki;

#[tokio::test]
async fn four_levels_pass_five_do_not() {
    assert_eq!(MAX_CLIENT_CHAIN_LEN, 4);
    let pki = TestPki::new();
    // RootCA -> sub1 -> sub2 -> sub3, each a CA without a path length limit.
    pki.issue("sub1", "sub CA 1", "v3_intermediate", "RootCA");
    pki.issue("sub2", "sub CA 2", "v3_intermediate", "sub1");
    pki.issue("sub3", "sub CA 3", "v3_intermediate", "sub2");
    // client -> sub2 -> sub1 -> RootCA: four certificates.
    pki.issue("four", "four levels", "client", "sub2");
    pki.concat("four_chain.pem", &["four.pem", "sub2.pem", "sub1.pem"]);
    // client -> sub3 -> sub2 -> sub1 -> RootCA: five certificates.
    pki.issue("five", "five levels", "client", "sub3");
    pki.concat(
        "five_chain.pem",
        &["five.pem", "sub3.pem", "sub2.pem", "sub1.pem"],
    );

    // Both chains are sound by openssl, which has no length limit: the five is refused
    // for its length alone.
    pki.concat("sub_1_2.pem", &["sub2.pem", "sub1.pem"]);
    pki.concat("sub_1_2_3.pem", &["sub3.pem", "sub2.pem", "sub1.pem"]);
    for (leaf, untrusted) in [("four.pem", "sub_1_2.pem"), ("five.pem", "sub_1_2_3.pem")] {
        let out = std::process::Command::new("openssl")
            .args([
                "verify",
                "-CAfile",
                "RootCA.pem",
                "-untrusted",
                untrusted,
                leaf,
            ])
            .current_dir(pki.dir())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl refuses {leaf}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let gateway = Gateway::start(&pki.serve_config())
        .await
        .expect("start gateway");
    let url = format!("https://localhost:{}/pets", gateway.local_addr().port());
    let as_client = |name: &str| ProbeOptions {
        cert: Some(pki.path(&format!("{name}_chain.pem"))),
        key: Some(pki.path(&format!("{name}.key"))),
        ca: Some(pki.path("RootCA.pem")),
        resolve: Some(gateway.local_addr()),
        ..ProbeOptions::default()
    };

    let four = probe(&url, &as_client("four")).await.expect("probe runs");
    assert_eq!(four.status, Some(200), "{four:?}");

    let five = probe(&url, &as_client("five")).await.expect("probe runs");
    assert_eq!(five.status, None, "{five:?}");
    let error = five.error.unwrap_or_default();
    assert!(error.contains("refused the client certificate"), "{error}");
    // The alert rustls sends when its verifier (the chain-length rule) refuses a client.
    assert!(error.contains("AccessDenied"), "{error}");

    gateway.shutdown().await;
}
