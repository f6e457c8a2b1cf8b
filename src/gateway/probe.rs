//! The probe: one HTTPS request with a client certificate, reported as data.
//!
//! Scripts use it to check a deployment (or the rehearsal gateway) the way the
//! walkthrough's last step does with curl, but with answers a script can test: the status,
//! the body, the chain the server sent and the TLS version. A refused handshake is an
//! expected outcome when checking that mTLS is on, so it is returned in
//! [`ProbeResult::error`], not as an `Err`.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HOST, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{DnsName, ServerName};
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, ProtocolVersion};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::pem_files::{load_identity, load_roots, subject_of};
use super::GatewayError;

/// How to probe: the client identity, the CA to trust, and how long to wait.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Client certificate (PEM), possibly followed by its intermediates. Without it the
    /// probe checks that the server *refuses* anonymous clients.
    pub cert: Option<PathBuf>,
    /// Private key of `cert` (PEM). Required exactly when `cert` is given.
    pub key: Option<PathBuf>,
    /// CA certificates (PEM) that the server's chain must lead to. Required: there are no
    /// system roots to fall back on, and the walkthrough's server certificate is issued by
    /// the user's own CA anyway, so a silent fallback would only fail later and less clearly.
    pub ca: Option<PathBuf>,
    /// Limit for the whole exchange: connect, handshake, request and body.
    pub timeout: Duration,
    /// Connect to this address instead of resolving the URL's host, which is still used for
    /// SNI, certificate name checks and `Host` (like `curl --resolve`). This lets a probe
    /// reach a custom domain before its DNS record exists, or the rehearsal on loopback.
    pub resolve: Option<SocketAddr>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            ca: None,
            timeout: Duration::from_secs(10),
            resolve: None,
        }
    }
}

/// What one probe saw. A failed handshake or connection is a result too: `error` is set,
/// and `status` stays `None` unless a response had already arrived.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProbeResult {
    /// The URL as given.
    pub url: String,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Response headers in received order (values decoded lossily).
    pub headers: Vec<(String, String)>,
    /// Response body (decoded lossily as UTF-8).
    pub body: String,
    /// Subjects of the certificates the server sent, leaf first, so a script can check that
    /// the intermediate is served (ACM's certificate chain).
    pub server_chain: Vec<String>,
    /// Negotiated protocol, such as `"TLSv1.3"`, when the handshake completed.
    pub tls_version: Option<String>,
    /// Why the exchange failed (TLS alert, refused or reset connection, timeout, DNS).
    pub error: Option<String>,
    /// Where it failed: a server that refuses a client fails it in the handshake (or, with
    /// TLS 1.3, on the first request), while a server that cannot be reached fails earlier.
    pub failed_at: Option<FailedAt>,
}

/// The stage of a probe that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailedAt {
    /// The host name did not resolve.
    Resolve,
    /// No TCP connection.
    Connect,
    /// The TLS handshake failed (an alert, e.g. a refused client certificate in TLS 1.2).
    Handshake,
    /// The request failed after the handshake (in TLS 1.3, how a refused client certificate
    /// shows up) or no valid response came back.
    Request,
    /// Nothing within the timeout.
    Timeout,
}

impl FailedAt {
    /// The stage's name, as scripts see it.
    pub fn name(self) -> &'static str {
        match self {
            FailedAt::Resolve => "resolve",
            FailedAt::Connect => "connect",
            FailedAt::Handshake => "handshake",
            FailedAt::Request => "request",
            FailedAt::Timeout => "timeout",
        }
    }

    /// Whether the server was reached and refused at the TLS or HTTP level.
    pub fn is_refusal(self) -> bool {
        matches!(self, FailedAt::Handshake | FailedAt::Request)
    }
}

/// Sends `GET url` over TLS with the options' client identity and reports what happened.
///
/// `Err` means the probe could not even be attempted (malformed URL, unreadable or
/// mismatched certificate files, no CA); anything that goes wrong on the network is in
/// `Ok(ProbeResult { error: Some(..), .. })`.
pub async fn probe(url: &str, opts: &ProbeOptions) -> Result<ProbeResult, GatewayError> {
    let target = Target::parse(url)?;
    let config = Arc::new(client_config(opts)?);
    let mut result = ProbeResult {
        url: url.to_string(),
        ..ProbeResult::default()
    };
    let exchange = exchange(&target, config, opts.resolve, &mut result);
    match tokio::time::timeout(opts.timeout, exchange).await {
        Ok(Ok(())) => {}
        Ok(Err((stage, message))) => {
            result.failed_at = Some(stage);
            result.error = Some(message);
        }
        Err(_) => {
            result.failed_at = Some(FailedAt::Timeout);
            result.error = Some(format!("timed out after {:?}", opts.timeout));
        }
    }
    Ok(result)
}

/// The parts of an `https://` URL the probe uses.
#[derive(Debug)]
struct Target {
    /// Host as written, without IPv6 brackets.
    host: String,
    port: u16,
    /// Value of the `Host` header.
    authority: String,
    path_and_query: String,
    server_name: ServerName<'static>,
}

impl Target {
    fn parse(url: &str) -> Result<Target, GatewayError> {
        let invalid = |reason: &str| GatewayError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => {}
            Some(s) => return Err(invalid(&format!("scheme {s}:// is not https://"))),
            None => return Err(invalid("it has no scheme; write https://...")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("it has no host"))?;
        let bare_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let server_name = match bare_host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::DnsName(
                DnsName::try_from(bare_host.clone())
                    .map_err(|_| invalid("the host is not a valid DNS name"))?,
            ),
        };
        let authority = if port == 443 {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .filter(|pq| !pq.is_empty())
            .unwrap_or("/")
            .to_string();
        Ok(Target {
            host: bare_host,
            port,
            authority,
            path_and_query,
            server_name,
        })
    }
}

fn client_config(opts: &ProbeOptions) -> Result<ClientConfig, GatewayError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let ca = opts.ca.as_deref().ok_or(GatewayError::MissingCa)?;
    let (roots, _) = load_roots("ca", ca)?;
    let identity = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => Some(load_identity(
            &provider, "--cert", cert, None, "--key", key,
        )?),
        (None, None) => None,
        (Some(_), None) => {
            return Err(GatewayError::IncompleteIdentity {
                given: "--cert",
                missing: "--key",
            })
        }
        (None, Some(_)) => {
            return Err(GatewayError::IncompleteIdentity {
                given: "--key",
                missing: "--cert",
            })
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| GatewayError::TlsConfig {
            reason: e.to_string(),
        })?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(identity) => {
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity)))
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The network part of a probe. Fills `result` as it learns things, so that a failure
/// late in the exchange still reports the handshake details.
async fn exchange(
    target: &Target,
    config: Arc<ClientConfig>,
    resolve: Option<SocketAddr>,
    result: &mut ProbeResult,
) -> Result<(), (FailedAt, String)> {
    let addr = match resolve {
        Some(addr) => addr,
        None => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| {
                (
                    FailedAt::Resolve,
                    format!("cannot resolve {}: {e}", target.host),
                )
            })?
            .next()
            .ok_or_else(|| {
                (
                    FailedAt::Resolve,
                    format!("cannot resolve {}: no address", target.host),
                )
            })?,
    };
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| (FailedAt::Connect, format!("cannot connect to {addr}: {e}")))?;
    let tls = TlsConnector::from(config)
        .connect(target.server_name.clone(), tcp)
        .await
        .map_err(|e| {
            let message = format!("TLS handshake failed: {}{}", chain_of(&e), refusal_hint(&e));
            (FailedAt::Handshake, message)
        })?;
    {
        let (_, session) = tls.get_ref();
        result.server_chain = session
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|der| subject_of(der))
            .collect();
        result.tls_version = session.protocol_version().map(version_name);
    }

    // With TLS 1.3 the client finishes its handshake before the server has judged the
    // client certificate; a refusal arrives as an alert on the first read, so it surfaces
    // here as a failed request, never as a response.
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| {
            (
                FailedAt::Request,
                format!("HTTP setup failed: {}", chain_of(&e)),
            )
        })?;
    let _driver = AbortOnDrop(tokio::spawn(connection));
    let outcome = async {
        let request = Request::get(target.path_and_query.as_str())
            .header(HOST, target.authority.as_str())
            .header(
                USER_AGENT,
                concat!("mtls-probe/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| (FailedAt::Request, format!("cannot build the request: {e}")))?;
        let response = sender.send_request(request).await.map_err(|e| {
            let message = format!("request failed: {}{}", chain_of(&e), refusal_hint(&e));
            (FailedAt::Request, message)
        })?;
        result.status = Some(response.status().as_u16());
        result.headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                (
                    FailedAt::Request,
                    format!("reading the body failed: {}", chain_of(&e)),
                )
            })?
            .to_bytes();
        result.body = String::from_utf8_lossy(&body).into_owned();
        Ok(())
    }
    .await;
    outcome
}

/// Stops the connection task however the exchange ends, including when the timeout drops
/// the exchange half-way.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error and its sources on one line: hyper's own message ("connection error") says
/// little; the TLS alert that caused it is further down the chain.
fn chain_of(error: &(dyn StdError + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Names the likely cause when the server answered the request with a TLS alert about the
/// client certificate: with TLS 1.3 that is how a refused client certificate shows up.
fn refusal_hint(error: &(dyn StdError + 'static)) -> &'static str {
    use rustls::AlertDescription as A;
    let mut source = Some(error);
    while let Some(cause) = source {
        // rustls errors reach hyper wrapped in an io::Error, whose `source()` skips them.
        let tls = cause.downcast_ref::<rustls::Error>().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::AlertReceived(alert)) = tls {
            return match alert {
                A::CertificateRequired => {
                    " (the server requires a client certificate: pass --cert and --key)"
                }
                A::UnknownCA
                | A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::CertificateUnknown
                | A::AccessDenied
                // rustls's answer to a certificate signed with an algorithm it refuses.
                | A::DecryptError => {
                    " (the server refused the client certificate: check that it is valid now and \
                     issued by a CA in the server's truststore)"
                }
                _ => "",
            };
        }
        source = cause.source();
    }
    ""
}

fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(url: &str, authority: &str, port: u16, path: &str) {
        let target = Target::parse(url).expect(url);
        assert_eq!(target.authority, authority, "{url}");
        assert_eq!(target.port, port, "{url}");
        assert_eq!(target.path_and_query, path, "{url}");
    }

    #[test]
    fn parses_https_urls() {
        case(
            "https://api.example.com/pets",
            "api.example.com",
            443,
            "/pets",
        );
        case("https://api.example.com", "api.example.com", 443, "/");
        case(
            "https://localhost:8443/pets/1?x=y",
            "localhost:8443",
            8443,
            "/pets/1?x=y",
        );
        case("https://127.0.0.1:9/", "127.0.0.1:9", 9, "/");
        case("https://[::1]:9/pets", "[::1]:9", 9, "/pets");
    }

    #[test]
    fn rejects_other_urls() {
        for url in [
            "http://example.com/",
            "example.com/pets",
            "https:///pets",
            "ftp://x/",
            "not a url",
            "https://bad_host!/",
        ] {
            assert!(
                matches!(Target::parse(url), Err(GatewayError::InvalidUrl { .. })),
                "{url}"
            );
        }
    }
}
