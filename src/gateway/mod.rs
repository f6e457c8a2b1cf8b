//! The local mTLS rehearsal gateway (`mtls serve`) and the probe client (`probe(url, #{ ... })` in scripts).
//!
//! Deploying a custom domain takes minutes and every mistake in a certificate costs another
//! round; the rehearsal answers in milliseconds with the same verdicts: the server presents
//! the chain that ACM will serve, and a client certificate is accepted exactly when it chains
//! to the truststore that S3 will hold. The probe is the walkthrough's closing `curl`
//! (step 15) as a function whose result a script can check, against the rehearsal or the
//! real domain alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mtls::gateway::GatewayError> {
//! use mtls::gateway::{probe, Gateway, ProbeOptions, ServeConfig};
//!
//! let gateway = Gateway::start(&ServeConfig {
//!     cert: "server.pem".into(),
//!     key: "server.key".into(),
//!     chain: Some("inca.pem".into()),
//!     truststore: "RootCA.pem".into(),
//!     listen: "127.0.0.1:0".parse().expect("literal address"),
//!     crl: None,
//! })
//! .await?;
//! let url = format!("https://localhost:{}/pets", gateway.local_addr().port());
//! let seen = probe(&url, &ProbeOptions {
//!     cert: Some("client.pem".into()),
//!     key: Some("client.key".into()),
//!     ca: Some("RootCA.pem".into()),
//!     resolve: Some(gateway.local_addr()),
//!     ..ProbeOptions::default()
//! })
//! .await?;
//! assert_eq!(seen.status, Some(200));
//! gateway.shutdown().await;
//! # Ok(()) }
//! ```

mod admission;
mod chain_limit;
mod error;
mod pem_files;
mod probe;
mod revocation;
mod routes;
mod server;

pub use chain_limit::MAX_CLIENT_CHAIN_LEN;
pub use error::GatewayError;
pub use probe::{probe, ProbeOptions, ProbeResult};
// The probe's verdict, named by the tests (the CLI prints it).
#[cfg(feature = "internals")]
pub use probe::FailedAt;
pub use server::{serve_until_ctrl_c, Gateway, ServeConfig};
