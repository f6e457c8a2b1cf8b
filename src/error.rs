//! The one error type of the library. Each variant carries the facts; the messages and the
//! hints that tell a user what to do next are written here, in one place.

use miette::Diagnostic;
use thiserror::Error;

use crate::script::ScriptError;

/// Everything that can go wrong in mtls.
#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error("{path:?} is outside the working folder ({workdir})")]
    #[diagnostic(
        code(mtls::path_outside_workdir),
        help("scripts may only name files inside the working folder: use a relative path without `..`, or change the folder with -C DIR")
    )]
    PathOutsideWorkdir { path: String, workdir: String },

    #[error("could not {action} {path}")]
    #[diagnostic(code(mtls::io))]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{function}: argument `{argument}`: {message}")]
    #[diagnostic(code(mtls::invalid_argument), help("{help}"))]
    InvalidArgument {
        function: String,
        argument: String,
        message: String,
        help: String,
    },

    #[error("missing variable `{name}`")]
    #[diagnostic(
        code(mtls::missing_var),
        help("pass it on the command line: --var {name}=VALUE")
    )]
    MissingVar { name: String },

    #[error("--var {raw:?} is not of the form NAME=VALUE")]
    #[diagnostic(code(mtls::bad_var), help("for example: --var domain=api.example.com"))]
    BadVar { raw: String },

    #[error("no script {name:?}: not a file, and not a bundled script")]
    #[diagnostic(code(mtls::script_not_found), help("bundled scripts: {bundled}"))]
    ScriptNotFound { name: String, bundled: String },

    #[error("{path} is not a readable {what}: {message}")]
    #[diagnostic(
        code(mtls::bad_pem),
        help("expected a PEM file ({what}); check the path, or remove the file so that mtls makes a new one")
    )]
    BadPem {
        path: String,
        what: &'static str,
        message: String,
    },

    #[error("{key} does not belong to {cert}")]
    #[diagnostic(
        code(mtls::key_mismatch),
        help("the key's public half differs from the certificate's: restore the matching pair, or pass --force to make a new key and certificate")
    )]
    KeyMismatch { key: String, cert: String },

    #[error("{cert} exists but its private key {key} does not")]
    #[diagnostic(
        code(mtls::cert_without_key),
        help("restore {key}, or pass --force to make a new key and certificate")
    )]
    CertWithoutKey { cert: String, key: String },

    #[error("{path} is a {found} key, but the script asks for {wanted}")]
    #[diagnostic(
        code(mtls::key_algorithm_mismatch),
        help("keep the existing key by asking for {found}, or pass --force to replace key and certificate")
    )]
    KeyAlgorithmMismatch {
        path: String,
        found: String,
        wanted: String,
    },

    #[error("{cert} exists with {field} {found}, but the script asks for {wanted}")]
    #[diagnostic(
        code(mtls::certificate_differs),
        help("mtls never overwrites a certificate silently: pass --force to replace it, or work in another folder with -C DIR")
    )]
    CertificateDiffers {
        cert: String,
        field: &'static str,
        found: String,
        wanted: String,
    },

    #[error("{cert} was not issued by {issuer}")]
    #[diagnostic(
        code(mtls::wrong_issuer),
        help("the CA was replaced after {cert} was made: pass --force to issue it again from the current CA")
    )]
    WrongIssuer { cert: String, issuer: String },

    #[error("could not {action}: {message}")]
    #[diagnostic(code(mtls::crypto))]
    Crypto { action: String, message: String },

    #[error("internal error: could not {action}: {message}")]
    #[diagnostic(
        code(mtls::internal),
        help(
            "this is a bug in mtls, not in your input: please report it with the command you ran"
        )
    )]
    Internal { action: String, message: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Script(Box<ScriptError>),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Gateway(#[from] crate::gateway::GatewayError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] crate::aws::AwsError),
}

impl Error {
    /// An argument of a primitive was wrong; `help` says what a right one looks like.
    pub fn invalid_argument(
        function: &str,
        argument: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            function: function.to_string(),
            argument: argument.to_string(),
            message: message.into(),
            help: help.into(),
        }
    }

    pub(crate) fn internal(action: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Internal {
            action: action.into(),
            message: message.into(),
        }
    }

    pub(crate) fn crypto(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Crypto {
            action: action.into(),
            message: err.to_string(),
        }
    }
}

impl From<ScriptError> for Error {
    fn from(e: ScriptError) -> Self {
        Error::Script(Box::new(e))
    }
}
