//! The realism proxy itself (tests/support/realism/proxy.rs), on the wire: a request the
//! client sends chunked reaches moto whole, a HEAD answer keeps moto's length, and a
//! [`FaultKind::Reset`] is a TCP reset, not a clean close (the SDK treats both as transient
//! errors, AWS SDKs and Tools reference guide, "Retry behavior"; the fault tests mean the
//! reset). Raw sockets here, so nothing between the test and the proxy frames for them.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use crate::support;
use support::moto::{Moto, ACCESS_KEY, REGION};
use support::realism::{moto_call, secs, Fault, FaultKind, Realism};

/// An `Authorization` header that tells moto (and the proxy) the service; moto checks no
/// signature.
fn authorization(service: &str) -> String {
    format!(
        "Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// Sends `head` (the request line and headers, without the final empty line) and `body` to
/// the proxy, and reads until it closes the connection.
fn exchange(realism: &Realism, head: &str, body: &[u8]) -> std::io::Result<String> {
    let url = realism.endpoint_url();
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(secs(30.0)))?;
    stream.write_all(format!("{head}\r\nHost: {address}\r\n\r\n").as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn a_chunked_request_reaches_moto_whole_and_is_answered_with_its_length() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![]);
    let json = r#"{"name": "chunked-api"}"#;
    let chunked = format!("{:x}\r\n{json}\r\n0\r\n\r\n", json.len());
    let head = format!(
        "POST /restapis HTTP/1.1\r\n{}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
        authorization("apigateway")
    );
    let answer = exchange(&realism, &head, chunked.as_bytes()).expect("an answer");

    // moto answers CreateRestApi 200 (AWS: 201); either way a success, relayed as given.
    assert!(answer.starts_with("HTTP/1.1 20"), "{answer}");
    let (headers, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let headers = headers.to_ascii_lowercase();
    assert!(
        headers.contains(&format!("content-length: {}", body.len())),
        "{answer}"
    );
    assert!(headers.contains("connection: close"), "{answer}");
    assert!(body.contains("chunked-api"), "{answer}");
    // moto got the body decoded (read back from its recording, not from the answer).
    let created = moto.requests_to("POST", "/restapis");
    assert_eq!(created.len(), 1, "{:?}", moto.recorded_requests());
    assert_eq!(created[0].body_json()["name"], "chunked-api");
}

#[test]
fn a_head_answer_keeps_the_length_of_the_object_and_carries_no_body() {
    let moto = Moto::start();
    let port = moto.port();
    assert_eq!(
        moto_call(port, "PUT", "/proxy-head", "s3", b"").map(|(s, _)| s),
        Some(200)
    );
    assert_eq!(
        moto_call(port, "PUT", "/proxy-head/object.pem", "s3", b"twelve bytes").map(|(s, _)| s),
        Some(200)
    );
    let realism = Realism::start(&moto, vec![]);
    let head = format!(
        "HEAD /proxy-head/object.pem HTTP/1.1\r\n{}",
        authorization("s3")
    );
    let answer = exchange(&realism, &head, b"").expect("an answer");

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-length: 12\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\n"),
        "a HEAD answer with a body: {answer}"
    );
}

#[test]
fn a_reset_fault_resets_the_connection_and_moto_never_sees_the_call() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![Fault::new(1, FaultKind::Reset)]);
    let json = r#"{"name": "never-made"}"#;
    let head = format!(
        "POST /restapis HTTP/1.1\r\n{}\r\nContent-Type: application/json\r\nContent-Length: {}",
        authorization("apigateway"),
        json.len()
    );
    let answer = exchange(&realism, &head, json.as_bytes());

    match answer {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
        Ok(text) => panic!("a clean close or an answer, not a reset: {text:?}"),
    }
    assert_eq!(
        realism.calls_of("CreateRestApi")[0].by,
        Fault::NAME,
        "{}",
        realism.report()
    );
    assert!(moto.requests_to("POST", "/restapis").is_empty());
}
