//! `mtls serve --crl`: a revoked client completes the TLS handshake and is denied as API
//! Gateway's revocation authorizer denies it (403, the explicit deny's body), the others are
//! served; a list the truststore does not vouch for, an expired or a malformed one stops the
//! gateway before it listens.

use std::io::BufReader;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use crate::revoke::{expired_crl, fleet_of_three, revoke};
use crate::support;
use support::cli::{listening_port, mtls, SERVE};

/// The body API Gateway sends for an authorizer's explicit deny.
const EXPLICIT_DENY: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;

/// A fleet of three under an ECDSA root, and a server certificate for localhost from an
/// intermediate of that root.
fn fleet_with_server() -> tempfile::TempDir {
    let tmp = fleet_of_three();
    std::fs::write(
        tmp.path().join("server.rhai"),
        r#"let inca = gen_intermediate_ca(#{ key: "RootCA.key", cert: "RootCA.pem" }, #{ algorithm: "ecdsa-p256" });
           gen_server_cert(inca, "localhost", #{ algorithm: "ecdsa-p256", san: ["localhost", "127.0.0.1"] });"#,
    )
    .unwrap();
    mtls(tmp.path(), &["run", "server.rhai"]).success();
    tmp
}

/// A gateway process, stopped when dropped (also when an assertion fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mtls serve ... --crl CRL` and returns it with the port it listens on, and its
/// stderr (kept open: the gateway logs each request there).
fn serve_with(dir: &Path, crl: &str) -> (Server, String, BufReader<ChildStderr>) {
    let mut server = spawn_serve(dir, crl);
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let port = listening_port(&mut stderr);
    (server, port, stderr)
}

fn spawn_serve(dir: &Path, crl: &str) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_mtls"))
            .args(SERVE)
            .args(["--crl", crl])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// curl with a device's certificate: its exit status, then the HTTP status and body.
fn curl_as(dir: &Path, port: &str, device: &str) -> (bool, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            "RootCA.pem",
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            "--cert",
            &format!("{device}.pem"),
            "--key",
            &format!("{device}.key"),
            "-w",
            "\n%{http_code}",
            &format!("https://localhost:{port}/pets"),
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let body = format!("{body}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), code.to_string(), body)
}

#[test]
fn a_revoked_client_completes_the_handshake_and_gets_the_authorizers_403() {
    let tmp = fleet_with_server();
    let dir = tmp.path();
    revoke(dir, &["cert=device-1.pem", "reason=keyCompromise"]).success();
    let (_server, port, _log) = serve_with(dir, "RootCA.crl.pem");

    // curl exits 0: the TLS session was made, and the request answered.
    let (ok, code, body) = curl_as(dir, &port, "device-1");
    assert!(ok, "the revoked client's handshake failed: {code} {body}");
    assert_eq!((code.as_str(), body.as_str()), ("403", EXPLICIT_DENY));
    for device in ["device-2", "device-3"] {
        let (ok, code, body) = curl_as(dir, &port, device);
        assert!(ok && code == "200", "{device}: {code} {body}");
        assert!(body.contains("\"dog\""), "{device}: {body}");
    }
}

/// `mtls serve --crl CRL` must stop before listening, saying why (a gateway still running
/// after a few seconds is stopped, and the test fails).
#[track_caller]
fn refuses_to_start(dir: &Path, crl: &str, expected: &str) {
    let mut server = spawn_serve(dir, crl);
    let deadline = std::time::Instant::now() + support::timing::secs(10.0);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mtls serve --crl {crl} started instead of refusing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let out = support::cli::Run {
        status,
        stdout: String::new(),
        stderr,
    }
    .failure();
    assert!(!out.stderr.contains("listening on"), "{}", out.all());
    assert!(
        out.stderr
            .contains(&format!("the --crl file {crl} cannot be used")),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains(expected),
        "expected {expected:?} in:\n{}",
        out.all()
    );
}

#[test]
fn lists_the_truststore_does_not_vouch_for_expired_or_malformed_stop_the_gateway() {
    let tmp = fleet_with_server();
    let dir = tmp.path();

    // Signed by a root of the same name but another key: not the truststore's CA.
    std::fs::write(
        dir.join("other.rhai"),
        r#"let ca = gen_root_ca(#{ key: "other/RootCA.key", cert: "other/RootCA.pem", algorithm: "ecdsa-p256" });
           revoke_cert(#{ issuer: ca, serial: "01" });"#,
    )
    .unwrap();
    mtls(dir, &["run", "other.rhai"]).success();
    refuses_to_start(
        dir,
        "other/RootCA.crl.pem",
        "signature was not made by the key",
    );

    // The intermediate's list: a CA of the chain, not of the truststore.
    revoke(dir, &["ca=inca", "serial=02"]).success();
    refuses_to_start(dir, "inca.crl.pem", "not signed by a CA of the truststore");

    expired_crl(dir, "RootCA", "expired.crl.pem");
    refuses_to_start(dir, "expired.crl.pem", "expired on 2020-01-02T00:00:00Z");

    std::fs::write(
        dir.join("garbage.crl.pem"),
        "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
    )
    .unwrap();
    refuses_to_start(dir, "garbage.crl.pem", "certificate revocation list");
    std::fs::copy(dir.join("RootCA.pem"), dir.join("cert.crl.pem")).unwrap();
    refuses_to_start(dir, "cert.crl.pem", "CERTIFICATE block");
}
