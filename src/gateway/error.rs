//! The one error type of the rehearsal gateway and the probe.
//!
//! Every variant names the file, option or address involved and carries a `help` that says
//! what to do next, because these errors reach a person at a terminal, not a program.
//! Handshake and connection failures of a probe are *not* errors: they are the result the
//! probe exists to report, so they travel in [`ProbeResult::error`](super::ProbeResult).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the gateway could not start or a probe could not be attempted.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum GatewayError {
    /// Another process (or another gateway) already listens on the address.
    #[error("cannot listen on {addr}: the address is already in use")]
    #[diagnostic(
        code(mtls::gateway::addr_in_use),
        help(
            "another process is listening on {addr}; stop it, choose another port with \
             `--listen {}:PORT`, or pass `--listen 127.0.0.1:0` to let the system pick a free port",
            addr.ip()
        )
    )]
    AddrInUse {
        /// The address that was asked for.
        addr: SocketAddr,
    },

    /// Binding failed for another reason than the port being taken.
    #[error("cannot listen on {addr}")]
    #[diagnostic(
        code(mtls::gateway::bind),
        help(
            "check that {addr} is an address of this machine and that you may bind it \
             (ports below 1024 need privileges); `--listen 127.0.0.1:0` picks a free port"
        )
    )]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A file named on the command line could not be read.
    #[error("cannot read the {option} file {}", path.display())]
    #[diagnostic(
        code(mtls::gateway::read_file),
        help(
            "check that {} exists and is readable, or point {option} at the right file \
             (`mtls run pki.rhai` writes RootCA.pem, server.pem, client.pem and their keys)",
            path.display()
        )
    )]
    ReadFile {
        /// The command-line option that named the file, such as `--cert`.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A file named on the command line breaks a rule every file mtls reads follows (a key
    /// others may read, a link out of its folder, not a regular file, too large).
    #[error("the {option} file {} cannot be used", path.display())]
    #[diagnostic(code(mtls::gateway::unusable_file), help("{}", help_of(source)))]
    UnusableFile {
        /// The command-line option that named the file, such as `--key`.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// The working folder's refusal, with what to do about it.
        #[source]
        source: Box<crate::error::Error>,
    },

    /// A file that should hold certificates holds none.
    #[error("the {option} file {} contains no PEM certificate", path.display())]
    #[diagnostic(
        code(mtls::gateway::no_certificate),
        help(
            "{option} expects PEM text with `-----BEGIN CERTIFICATE-----` blocks; convert a DER \
             file with `openssl x509 -inform der -in FILE -out FILE.pem`, and check that you did \
             not swap a certificate and a key"
        )
    )]
    NoCertificate {
        /// The command-line option that named the file.
        option: &'static str,
        /// The file.
        path: PathBuf,
    },

    /// A certificate file is not valid PEM, or a certificate in it cannot be parsed.
    #[error("the {option} file {} holds a malformed certificate: {reason}", path.display())]
    #[diagnostic(
        code(mtls::gateway::bad_certificate),
        help("inspect it with `openssl x509 -in {} -noout -text`; regenerate it if openssl cannot read it either", path.display())
    )]
    BadCertificate {
        /// The command-line option that named the file.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },

    /// A file that should hold a private key holds none (or only an encrypted one).
    #[error("the {option} file {} contains no usable PEM private key", path.display())]
    #[diagnostic(
        code(mtls::gateway::no_private_key),
        help(
            "{option} expects an unencrypted PEM key (`BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` \
             or `BEGIN EC PRIVATE KEY`); decrypt an encrypted one with `openssl pkey -in KEY -out \
             KEY.plain`, and check that you did not swap a certificate and a key"
        )
    )]
    NoPrivateKey {
        /// The command-line option that named the file.
        option: &'static str,
        /// The file.
        path: PathBuf,
    },

    /// The private key parses but the TLS library cannot sign with it.
    #[error("the private key in {} cannot be used for TLS: {reason}", path.display())]
    #[diagnostic(
        code(mtls::gateway::unsupported_key),
        help("use an RSA (2048 bits or more) or ECDSA P-256/P-384 key, as ACM and API Gateway require")
    )]
    UnsupportedKey {
        /// The key file.
        path: PathBuf,
        /// What the TLS library said.
        reason: String,
    },

    /// The private key belongs to another certificate.
    #[error("the private key {} does not match the certificate {}", key.display(), cert.display())]
    #[diagnostic(
        code(mtls::gateway::key_mismatch),
        help(
            "the key's public half differs from the certificate's; pass the key that was \
             generated with this certificate (compare `openssl x509 -in CERT -noout -pubkey` \
             with `openssl pkey -in KEY -pubout`)"
        )
    )]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },

    /// The truststore (or probe CA file) holds no certificate, so nobody could be trusted.
    #[error("the {option} file {} contains no CA certificate", path.display())]
    #[diagnostic(
        code(mtls::gateway::empty_truststore),
        help(
            "put the PEM certificate of the CA that signs your client certificates (RootCA.pem \
             in the walkthrough) in {}; several CAs may be concatenated in one file",
            path.display()
        )
    )]
    EmptyTruststore {
        /// What named the file (`--truststore` of `mtls serve`, or the probe's `ca` option).
        option: &'static str,
        /// The file.
        path: PathBuf,
    },

    /// The truststore breaks rules API Gateway applies: the rehearsal would trust what
    /// the custom domain refuses (or the reverse), so it does not start.
    #[error("the {option} file {} breaks the truststore rules:\n{findings}", path.display())]
    #[diagnostic(
        code(mtls::gateway::truststore_rules),
        help(
            "fix each problem listed (`mtls check --truststore {}` shows the same findings with their fixes), \
             then start `mtls serve` again",
            path.display()
        )
    )]
    TruststoreRules {
        /// The command-line option that named the file.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// The error findings, one per line.
        findings: String,
    },

    /// The revocation list cannot be used: unreadable, not signed by a CA of the
    /// truststore, or expired.
    #[error("the --crl file {} cannot be used: {reason}", path.display())]
    #[diagnostic(
        code(mtls::gateway::bad_crl),
        help(
            "--crl takes the PEM revocation lists of the truststore's CAs, signed by them and \
             not expired: `mtls run revoke.rhai --var ca=NAME` makes or renews NAME.crl.pem; \
             `mtls check --crl FILE --cert CLIENT --truststore TRUSTSTORE` says more"
        )
    )]
    BadCrl {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A certificate in the truststore cannot serve as a trust anchor.
    #[error("certificate #{index} in the {option} file {} cannot be a trust anchor: {reason}", path.display())]
    #[diagnostic(
        code(mtls::gateway::bad_trust_anchor),
        help("remove or replace that certificate; API Gateway would reject such a truststore as well")
    )]
    BadTrustAnchor {
        /// The command-line option that named the file.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// 1-based position of the certificate in the file.
        index: usize,
        /// What the TLS library said.
        reason: String,
    },

    /// The TLS configuration could not be assembled from otherwise valid files.
    #[error("cannot set up TLS: {reason}")]
    #[diagnostic(
        code(mtls::gateway::tls_config),
        help("check the certificate and key files with `openssl x509 -text` and `openssl pkey -text -noout`")
    )]
    TlsConfig {
        /// What the TLS library said.
        reason: String,
    },

    /// The probe was given something that is not an `https://` URL.
    #[error("cannot probe {url:?}: {reason}")]
    #[diagnostic(
        code(mtls::gateway::invalid_url),
        help("give a full URL such as https://api.example.com/pets (only https:// is probed: the point is the TLS handshake)")
    )]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The probe has no CA to check the server against.
    #[error("the probe needs the CA that signed the server certificate")]
    #[diagnostic(
        code(mtls::gateway::missing_ca),
        help(
            "give the probe `ca: \"RootCA.pem\"` in its options (the root of the server certificate's chain); the probe does \
             not fall back to system roots because the walkthrough's server certificate comes \
             from your own CA"
        )
    )]
    MissingCa,

    /// Only one half of a client identity was given.
    #[error("{given} was given without {missing}")]
    #[diagnostic(
        code(mtls::gateway::incomplete_identity),
        help("a client identity needs both the certificate (--cert) and its private key (--key); pass both or neither")
    )]
    IncompleteIdentity {
        /// The option that was given.
        given: &'static str,
        /// The option that is missing.
        missing: &'static str,
    },

    /// Ctrl-C could not be watched, so the server could not be stopped cleanly.
    #[error("cannot wait for Ctrl-C")]
    #[diagnostic(
        code(mtls::gateway::signal),
        help("run `mtls serve` from an interactive terminal, or embed `Gateway` and call `shutdown()` yourself")
    )]
    Signal {
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

/// What the working folder's error says to do (its own help), shown as the gateway's.
fn help_of(e: &crate::error::Error) -> String {
    use miette::Diagnostic;
    e.help().map(|h| h.to_string()).unwrap_or_default()
}
