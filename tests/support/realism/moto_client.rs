//! moto over HTTP/1.1 with hyper's client: the proxy's forwarding, calls straight to moto
//! that skip the rules (what rules and fixtures read), and Route 53 as the rules read it.

use std::sync::OnceLock;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::message::{Request, Response};
use super::proxy::header_pairs;
use crate::support::timing::secs;

/// The tokio runtime every proxy of the test process runs on (and the calls to moto made
/// from plain threads).
pub(super) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("realism")
            .enable_all()
            .build()
            .expect("the realism proxy's runtime")
    })
}

/// Sends `req` to moto on a new connection and reads the whole answer, within 120 s
/// (stretched by `MTLS_TEST_SLOWDOWN`).
pub(super) async fn forward(moto_port: u16, req: &Request) -> Result<Response, String> {
    let limit = secs(120.0);
    tokio::time::timeout(limit, send(moto_port, req))
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

/// The request's headers that describe its framing on the client's connection, not the
/// request: hyper frames the forwarded request itself.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "expect",
];

async fn send(moto_port: u16, req: &Request) -> Result<Response, String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", moto_port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // Title case (`X-Amz-Target`), as the SDK writes them; moto reads names without case.
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    // Drives the connection while the answer is read; it ends when moto closes it.
    tokio::spawn(conn);
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(req.target.as_str());
    for (k, v) in &req.headers {
        if !HOP_BY_HOP.contains(&k.to_ascii_lowercase().as_str()) {
            builder = builder.header(k.as_str(), v.as_str());
        }
    }
    let request = builder
        .header("Content-Length", req.body.len())
        .header("Connection", "close")
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| format!("request: {e}"))?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (parts, body) = answer.into_parts();
    let reason = parts
        .extensions
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| parts.status.canonical_reason().map(str::to_string))
        .unwrap_or_default();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("answer: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Response {
        status: parts.status.as_u16(),
        reason,
        headers: header_pairs(&parts.headers),
        body,
    })
}

/// A call straight to moto: a dummy SigV4 credential scope tells moto the service (it
/// checks no signature).
pub fn moto_call(
    port: u16,
    method: &str,
    path: &str,
    service: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    moto_request(port, method, path, service, &[], body)
}

/// [`moto_call`] with extra headers (`X-Amz-Target`, ...). A body gets a JSON content type
/// unless `headers` name one (only with a body: moto reads a GET with a JSON content type
/// as another protocol). Blocks: call it from a plain thread or a rule, not from async code.
pub fn moto_request(
    port: u16,
    method: &str,
    path: &str,
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut req = Request {
        method: method.to_string(),
        target: path.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        query: path.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default(),
        headers: vec![
            ("Host".into(), format!("127.0.0.1:{port}")),
            (
                "Authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/20240101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
                    crate::support::moto::ACCESS_KEY,
                    crate::support::moto::REGION
                ),
            ),
        ],
        body: body.to_vec(),
    };
    req.headers
        .extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if !body.is_empty() && req.header("content-type").is_none() {
        req.headers
            .push(("Content-Type".into(), "application/json".into()));
    }
    let resp = runtime().block_on(forward(port, &req)).ok()?;
    Some((
        resp.status,
        String::from_utf8_lossy(&resp.body).into_owned(),
    ))
}

// ------------------------------------------------------------------------------------------
// Route 53 as the rules read it (straight from moto)
// ------------------------------------------------------------------------------------------

/// Every `<tag>...</tag>` in `xml`.
fn xml_blocks<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_blocks(xml, tag).first().map(|s| s.trim().to_string())
}

/// A hosted zone as moto lists it.
#[derive(Debug, Clone)]
pub struct ZoneInfo {
    /// The bare id.
    pub id: String,
    /// The name, with the final dot.
    pub name: String,
    /// Whether it is private.
    pub private: bool,
}

/// A record set as moto lists it.
#[derive(Debug, Clone)]
pub struct RecordInfo {
    /// The name, with the final dot.
    pub name: String,
    /// `NS`, `CNAME`, ...
    pub record_type: String,
    /// The values.
    pub values: Vec<String>,
}

/// Every hosted zone in moto.
pub fn moto_zones(port: u16) -> Vec<ZoneInfo> {
    let Some((200, xml)) = moto_call(port, "GET", "/2013-04-01/hostedzone", "route53", b"") else {
        return Vec::new();
    };
    xml_blocks(&xml, "HostedZone")
        .into_iter()
        .map(|z| ZoneInfo {
            id: xml_text(z, "Id")
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            name: xml_text(z, "Name").unwrap_or_default(),
            private: xml_text(z, "PrivateZone").as_deref() == Some("true"),
        })
        .collect()
}

/// Every record set of a zone in moto.
pub fn moto_records(port: u16, zone_id: &str) -> Vec<RecordInfo> {
    let path = format!("/2013-04-01/hostedzone/{zone_id}/rrset");
    let Some((200, xml)) = moto_call(port, "GET", &path, "route53", b"") else {
        return Vec::new();
    };
    xml_blocks(&xml, "ResourceRecordSet")
        .into_iter()
        .map(|r| RecordInfo {
            name: xml_text(r, "Name").unwrap_or_default(),
            record_type: xml_text(r, "Type").unwrap_or_default(),
            values: xml_blocks(r, "Value")
                .into_iter()
                .map(|v| v.trim().to_string())
                .collect(),
        })
        .collect()
}

/// `name` in lower case with one final dot, to compare DNS names.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `name` is `zone` or inside it (DNS names, without case or final dot).
pub fn within(name: &str, zone: &str) -> bool {
    let (n, z) = (fqdn(name), fqdn(zone));
    n == z || n.ends_with(&format!(".{z}"))
}
