//! The local rehearsal of an API Gateway custom domain with mutual TLS.
//!
//! It exists so that the certificates made in the walkthrough can be tried with curl before
//! anything is uploaded: a client certificate the rehearsal refuses, API Gateway refuses too.
//! It therefore copies API Gateway's rules where they matter for certificates: TLS 1.2 and
//! 1.3 only, a client certificate required and checked against one PEM truststore, chains
//! at most [`MAX_CLIENT_CHAIN_LEN`] long, the server's intermediate sent in the handshake.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::SingleCertAndKey;
use rustls::ServerConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::admission::{HandshakeSlot, Handshakes, Limits};
use super::chain_limit::{ChainLimitVerifier, MAX_CLIENT_CHAIN_LEN};
use super::pem_files::{load_identity, load_roots, subject_of};
use super::revocation::Revocations;
use super::{routes, GatewayError};
use crate::pki::lint::{self, Severity};
use crate::pki::{ParsedCert, Truststore};

/// How long a client may take to finish the TLS handshake; a stalled client must not hold
/// a connection slot (or delay shutdown) for ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (request line and headers) served, API Gateway's quota of
/// 10240 bytes; a larger one is answered 431 Request Header Fields Too Large.
///
/// It is hyper's read buffer limit, whose default (~400 KB) let a big head stall: hyper kept
/// waiting for the end of a head that a client such as curl 7.x (which sends 128 KiB of a
/// request over TLS, then waits for the answer) never sent, until the header-read timeout
/// closed the connection without an answer, 30 s later.
const MAX_REQUEST_HEAD: usize = 10 * 1024;

/// How long a finished connection goes on reading, and discarding, what the client still
/// sends before it is closed (see [`close`]).
const LINGER: Duration = Duration::from_secs(2);

/// How long `shutdown` lets requests in flight finish before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `mtls serve` needs: the files of the walkthrough and where to listen.
///
/// The fields mirror the files API Gateway is given: `cert`, `key` and `chain` are what is
/// imported into ACM (server.pem, server.key, inca.pem) and `truststore` is the object
/// uploaded to S3 (RootCA.pem).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Server certificate (PEM). May already contain the chain after the leaf.
    pub cert: PathBuf,
    /// Private key of the server certificate (PEM: PKCS#8, PKCS#1 or SEC1), unencrypted.
    pub key: PathBuf,
    /// Intermediate CA certificates (PEM) sent after the leaf, as ACM's certificate chain.
    pub chain: Option<PathBuf>,
    /// CA certificates (one PEM file) that client certificates must chain to.
    pub truststore: PathBuf,
    /// Address to listen on; port 0 picks a free port (see [`Gateway::local_addr`]).
    pub listen: SocketAddr,
    /// Revocation lists (PEM) of the truststore's CAs: a client they name completes the
    /// handshake and is denied each request, as API Gateway's authorizer denies it.
    pub crl: Option<PathBuf>,
}

/// A running rehearsal gateway.
///
/// Dropping it without [`Gateway::shutdown`] also stops the server, but in the background
/// and without waiting; call `shutdown` when the caller needs the port to be closed.
#[derive(Debug)]
pub struct Gateway {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Gateway {
    /// Loads and checks every file, binds the address, and returns once connections are
    /// being accepted, so a caller may connect as soon as this returns.
    pub async fn start(cfg: &ServeConfig) -> Result<Gateway, GatewayError> {
        let (config, revocations) = tls_config(cfg)?;
        let tls = Arc::new(config);
        let listener = TcpListener::bind(cfg.listen).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                GatewayError::AddrInUse { addr: cfg.listen }
            } else {
                GatewayError::Bind {
                    addr: cfg.listen,
                    source,
                }
            }
        })?;
        let local_addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            Arc::new(revocations),
            stopped,
        ));
        tracing::debug!(%local_addr, "gateway listening");
        Ok(Gateway {
            local_addr,
            stop,
            task,
        })
    }

    /// The address actually bound: with `listen` port 0 this is where clients must go.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets requests in flight finish (for a few seconds at most), closes
    /// every connection and the listening socket, and returns when all of that is done.
    pub async fn shutdown(self) {
        // The receiver lives as long as the accept loop; if it is gone, so is the loop.
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "gateway task ended abnormally");
        }
    }
}

/// Runs the gateway for the `mtls serve` command until Ctrl-C, then stops it cleanly.
///
/// The address goes to stderr rather than the log so that it is seen even with logging
/// off, and stdout stays free for whatever a script pipes.
pub async fn serve_until_ctrl_c(cfg: &ServeConfig) -> Result<(), GatewayError> {
    let gateway = Gateway::start(cfg).await?;
    eprintln!("listening on https://{}", gateway.local_addr());
    eprintln!("press Ctrl-C to stop");
    let waited = tokio::signal::ctrl_c().await;
    eprintln!("stopping");
    gateway.shutdown().await;
    waited.map_err(|source| GatewayError::Signal { source })
}

/// The rustls configuration: API Gateway's protocol versions, a mandatory client
/// certificate from the truststore, and the server's own chain; and the revoked clients.
fn tls_config(cfg: &ServeConfig) -> Result<(ServerConfig, Revocations), GatewayError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (roots, anchors) = load_roots("--truststore", &cfg.truststore)?;
    check_truststore_rules("--truststore", &cfg.truststore)?;
    let revocations = match &cfg.crl {
        Some(path) => {
            let cas: Vec<ParsedCert> = anchors
                .iter()
                .map(|a| ParsedCert { der: a.to_vec() })
                .collect();
            Revocations::load(path, &cas)?
        }
        None => Revocations::default(),
    };
    let identity = load_identity(
        &provider,
        "--cert",
        &cfg.cert,
        cfg.chain.as_deref().map(|p| ("--chain", p)),
        "--key",
        &cfg.key,
    )?;

    // No `allow_unauthenticated()`: a client without a certificate fails the handshake,
    // as it does at an API Gateway custom domain with mTLS on.
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| GatewayError::TlsConfig {
            reason: e.to_string(),
        })?;
    let verifier = ChainLimitVerifier::new(
        webpki,
        &anchors,
        provider.signature_verification_algorithms.all,
        MAX_CLIENT_CHAIN_LEN,
    );

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| GatewayError::TlsConfig {
            reason: e.to_string(),
        })?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity)));
    // Only HTTP/1.1 is served; saying so keeps clients from trying h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, revocations))
}

/// Refuses a truststore that `mtls check` calls an error: what API Gateway would refuse
/// to load, or would trust differently than the rehearsal.
fn check_truststore_rules(option: &'static str, path: &Path) -> Result<(), GatewayError> {
    let bytes = super::pem_files::read_certs_file(option, path)?;
    let problems = truststore_problems(&path.display().to_string(), &bytes);
    if problems.is_empty() {
        return Ok(());
    }
    Err(GatewayError::TruststoreRules {
        option,
        path: path.to_path_buf(),
        findings: problems.join("\n"),
    })
}

/// The error findings of a truststore file, as `mtls check --truststore` makes them, one
/// line each; a file that cannot be read as a truststore at all is one line saying why.
fn truststore_problems(file: &str, bytes: &[u8]) -> Vec<String> {
    let findings = std::str::from_utf8(bytes)
        .map_err(|_| crate::error::Error::BadTruststore {
            path: file.to_string(),
            message: "it is not UTF-8 text".to_string(),
        })
        .and_then(|text| Truststore::from_pem(file, text))
        .and_then(|store| lint::truststore(file, &store));
    match findings {
        Ok(findings) => findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("  {f}"))
            .collect(),
        Err(e) => match lint::truststore_unreadable(file, &e, Some(bytes)) {
            Some(finding) => vec![format!("  {finding}")],
            None => vec![format!("  {e}")],
        },
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    revocations: Arc<Revocations>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = Limits::for_this_process();
    tracing::debug!(?limits, "connection caps");
    // A permit per connection: beyond the cap, new clients wait in the kernel's queue
    // instead of failing `accept` once descriptors run out.
    let permits = Arc::new(Semaphore::new(limits.connections));
    let handshakes = Handshakes::new(limits.handshakes);
    let mut connections = JoinSet::new();
    loop {
        let next = async {
            let permit = permits.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        tokio::select! {
            // Also taken when the `Gateway` was dropped (the sender is gone).
            _ = stop.changed() => break,
            (permit, accepted) = next => match (permit, accepted) {
                (Ok(permit), Ok((tcp, peer))) => {
                    let admitted = Admitted { permit, slot: handshakes.admit(), revocations: revocations.clone() };
                    connections.spawn(serve_connection(tcp, peer, acceptor.clone(), stop.clone(), admitted));
                }
                // The semaphore is never closed; were it, nothing more could be served.
                (Err(_), _) => break,
                (Ok(_), Err(e)) => {
                    // Usually out of file descriptors; back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);

    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!("requests still running after the grace period; closing their connections");
        connections.shutdown().await;
    }
    tracing::debug!("gateway stopped");
}

/// What a connection holds while it lives: its place under the connection cap, until
/// its handshake is over its place among the handshakes, and the revoked clients.
struct Admitted {
    permit: OwnedSemaphorePermit,
    slot: HandshakeSlot,
    revocations: Arc<Revocations>,
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    mut stop: watch::Receiver<bool>,
    admitted: Admitted,
) {
    let Admitted {
        permit,
        slot,
        revocations,
    } = admitted;
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        _ = stop.changed() => return,
        _ = slot.evicted() => {
            // Debug, not info: a flood would log a line per connection.
            tracing::debug!(%peer, "TLS handshake dropped: newer connections needed its place");
            return;
        }
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                // The most interesting event of a rehearsal: say why a client was refused.
                tracing::info!(%peer, reason = %e, "TLS handshake refused");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "TLS handshake timed out");
                return;
            }
        },
    };

    drop(slot);
    let (_, session) = tls.get_ref();
    let leaf = session.peer_certificates().and_then(|chain| chain.first());
    let client: Arc<str> = match leaf {
        Some(leaf) => subject_of(leaf).into(),
        // Cannot happen with a mandatory client certificate; logged rather than trusted.
        None => "<no client certificate>".into(),
    };
    let revoked = leaf.is_some_and(|leaf| revocations.is_revoked(leaf));
    tracing::debug!(
        %peer,
        client = %client,
        version = ?session.protocol_version(),
        "TLS handshake complete"
    );

    // Boxed: `poll_without_shutdown` needs an `Unpin` future.
    let service = service_fn(move |req| Box::pin(routes::handle(req, client.clone(), revoked)));
    // The timer enables hyper's default header-read timeout (30 s), which also ends idle
    // keep-alive connections instead of keeping their tasks for ever.
    let mut connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(tls), service);
    // Without hyper's own shutdown, so that `close` gets the stream back to close it.
    let result = tokio::select! {
        result = poll_fn(|cx| connection.poll_without_shutdown(cx)) => result,
        _ = stop.changed() => {
            std::pin::Pin::new(&mut connection).graceful_shutdown();
            poll_fn(|cx| connection.poll_without_shutdown(cx)).await
        }
    };
    if let Err(e) = &result {
        // A client that closes abruptly, or a TLS 1.3 client whose alert arrives late.
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
    let tls = connection.into_parts().io.into_inner();
    let stopping = *stop.borrow();
    tokio::select! {
        _ = close(tls, stopping) => {}
        // A shutdown that starts meanwhile does not wait for the client.
        _ = stop.changed() => {}
    }
    drop(permit);
}

/// Closes a connection so that the client can read what it was last sent.
///
/// hyper may stop reading before the client stops sending: a head over
/// [`MAX_REQUEST_HEAD`] is answered 431 at once, with the rest of it still on its way.
/// Closing a socket with unread data makes the kernel reset the connection, and the reset
/// makes the client fail its send ("Broken pipe") or lose the 431 it has not read yet. So
/// this sends close_notify and FIN, then reads and discards until the client closes too,
/// for [`LINGER`] at most (nothing when the gateway is stopping).
async fn close(mut tls: TlsStream<TcpStream>, stopping: bool) {
    let finish = async {
        if tls.shutdown().await.is_ok() && !stopping {
            let _ = tokio::io::copy_buf(&mut tls, &mut tokio::io::sink()).await;
        }
    };
    let _ = tokio::time::timeout(LINGER, finish).await;
}
