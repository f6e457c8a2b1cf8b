//! The one error type of the library. Each variant carries the facts; the messages and the
//! hints that tell a user what to do next are written here, in one place.

use miette::Diagnostic;
use thiserror::Error;

use miette::{NamedSource, SourceSpan};

/// What to do after Ctrl-C, for the error and for a script stopped between operations.
pub const INTERRUPTED_HELP: &str = "the changes listed above were made before the interruption (a plan makes none); run the same command again to finish: every step keeps what already exists";

/// Everything that can go wrong in mtls.
///
/// Each variant is documented by its `#[error]` message and `help`, which are what a
/// user reads; its fields are named by what they hold.
#[allow(missing_docs)]
#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error("{path:?} is outside the working folder ({workdir})")]
    #[diagnostic(
        code(mtls::path_outside_workdir),
        help("scripts may only name files inside the working folder: use a relative path without `..`, or change the folder with -C DIR")
    )]
    PathOutsideWorkdir { path: String, workdir: String },

    #[error("{path} is a link to {target}, outside the working folder ({workdir})")]
    #[diagnostic(
        code(mtls::link_outside_workdir),
        help("mtls reads and writes only inside the working folder, links included: copy the file into the folder, or work in the folder that holds it with -C DIR")
    )]
    LinkOutsideWorkdir {
        path: String,
        target: String,
        workdir: String,
    },

    #[error("{path} is a symbolic link to {target}, which does not exist")]
    #[diagnostic(
        code(mtls::dangling_link),
        help("remove the link (rm {path}) so that mtls makes the file, or point it at a file inside the working folder")
    )]
    DanglingLink { path: String, target: String },

    #[error("{path} is a {kind}, not a regular file")]
    #[diagnostic(
        code(mtls::not_a_regular_file),
        help("mtls reads and writes regular files only; name a file instead")
    )]
    NotARegularFile { path: String, kind: &'static str },

    #[error("{path} does not exist in the working folder ({workdir})")]
    #[diagnostic(
        code(mtls::file_not_found),
        help("check the name, or the folder given with -C DIR; an earlier step of the script may be the one that makes it")
    )]
    FileNotFound { path: String, workdir: String },

    #[error("{path} is larger than {limit} bytes, more than any certificate or key file")]
    #[diagnostic(
        code(mtls::file_too_large),
        help("check that the name points at the certificate or key you mean")
    )]
    FileTooLarge { path: String, limit: u64 },

    #[error("{path} cannot be read as text: {problem}")]
    #[diagnostic(code(mtls::not_text))]
    NotText { path: String, problem: &'static str },

    #[error("{path} holds a private key ({label} at line {line})")]
    #[diagnostic(
        code(mtls::private_key_in_public_file),
        help("certificates and keys must be separate files: a certificate file may be shared or uploaded, and the key with it. Move the key block into its own file (mode 0600); nothing was sent anywhere")
    )]
    PrivateKeyInPublicFile {
        path: String,
        line: usize,
        label: String,
    },

    #[error("{path} is readable by others (mode {mode})")]
    #[diagnostic(
        code(mtls::key_readable_by_others),
        help("a private key must be readable by its owner only: run `chmod 600 {path}`, then run mtls again")
    )]
    KeyReadableByOthers { path: String, mode: String },

    #[error("{path} is not a usable truststore: {message}")]
    #[diagnostic(
        code(mtls::bad_truststore),
        help("a truststore is CA certificates in PEM, one block after another, and nothing else (no keys, no text); API Gateway reads it from S3")
    )]
    BadTruststore { path: String, message: String },

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

    #[error("{file} defines {name}(), which is a built-in primitive")]
    #[diagnostic(
        code(mtls::primitive_redefined),
        help("primitives, and the checks inside them, cannot be replaced by a script; stdlib steps can. Give your function another name (`mtls functions` lists the primitives)")
    )]
    PrimitiveRedefined { name: String, file: String },

    #[error("{name}() is defined in two stdlib files: {first} and {second}")]
    #[diagnostic(
        code(mtls::stdlib_function_twice),
        help("one of them would silently replace the other: keep one definition (remove or rename the other); a stdlib file may replace a bundled step, but only one file may do so")
    )]
    StdlibFunctionTwice {
        name: String,
        first: String,
        second: String,
    },

    #[error("{path} is {size} bytes; scripts are limited to {limit} bytes")]
    #[diagnostic(
        code(mtls::script_too_large),
        help("check that the path names a Rhai script")
    )]
    ScriptTooLarge { path: String, size: u64, limit: u64 },

    #[error("import refused: {problem}: {chain}")]
    #[diagnostic(
        code(mtls::import_too_deep),
        help("a module may not import itself or one that imports it; move what two modules share into a third that imports neither")
    )]
    ImportTooDeep { problem: String, chain: String },

    #[error("no module {name:?} to import")]
    #[diagnostic(
        code(mtls::module_not_found),
        help("modules are .rhai files inside the script's folder or the --stdlib folder, named by a relative path without `..`; looked in: {folders}")
    )]
    ModuleNotFound { name: String, folders: String },

    #[error("interrupted (Ctrl-C)")]
    #[diagnostic(code(mtls::interrupted), help("{INTERRUPTED_HELP}"))]
    Interrupted,

    #[error("missing variable `{name}`")]
    #[diagnostic(
        code(mtls::missing_var),
        help("pass it on the command line: --var {name}=VALUE")
    )]
    MissingVar { name: String },

    #[error("invalid input, nothing was changed:\n{problems}")]
    #[diagnostic(
        code(mtls::invalid_input),
        help("correct the values above and run again; mtls checks its inputs before it writes a file or calls AWS")
    )]
    InvalidInput { problems: String },

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

    #[error("{path} is not a usable private key: {message}")]
    #[diagnostic(code(mtls::bad_key), help("{help}"))]
    BadKey {
        path: String,
        message: String,
        help: String,
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

    #[error("{cert} cannot be used any more: {problems}")]
    #[diagnostic(
        code(mtls::certificate_unusable),
        help("ACM, API Gateway and openssl refuse it, and so would everything it signs: pass --force to make a new one (certificates it issued must then be issued again, which the same run does)")
    )]
    CertificateUnusable { cert: String, problems: String },

    #[error("{cert} holds {count} certificates; after its own comes {extra}")]
    #[diagnostic(
        code(mtls::extra_certificate),
        help("a key + certificate file holds its one certificate (a `cat` into it adds others, which would then be uploaded and trusted): remove every block after the first from {cert}, or make it again with --force")
    )]
    ExtraCertificate {
        cert: String,
        count: usize,
        /// The second certificate: subject and SHA-256 fingerprint.
        extra: String,
    },

    #[error("{cert} cannot issue {what}: {reason}")]
    #[diagnostic(
        code(mtls::ca_cannot_issue),
        help("openssl and API Gateway refuse every chain through it: pass --force to make the CA again (mtls makes CAs with keyCertSign and room for the intermediate it issues), then the certificates under it")
    )]
    CaCannotIssue {
        cert: String,
        what: String,
        reason: String,
    },

    #[error("{cert} holds {count} certificates and {key} belongs to certificate {position}, not the first")]
    #[diagnostic(
        code(mtls::certificate_order),
        help("the certificate that goes with the key must come first in {cert}; put its issuers after it (or in their own file)")
    )]
    CertificateOrder {
        cert: String,
        key: String,
        position: usize,
        count: usize,
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

    #[error("{path}: the certificate signing request is refused: {problem}")]
    #[diagnostic(code(mtls::csr_refused), help("{help}"))]
    CsrRefused {
        path: String,
        problem: String,
        help: String,
    },

    #[error("{path}: {problem}")]
    #[diagnostic(code(mtls::crl_refused), help("{help}"))]
    CrlRefused {
        path: String,
        problem: String,
        help: String,
    },

    #[error("{cert} cannot be revoked by {ca}: {problem}")]
    #[diagnostic(
        code(mtls::not_issued_by_ca),
        help("a CA lists only the certificates it issued; nothing was written: pass the CA that issued {cert} with --var ca=NAME (NAME.pem and NAME.key)")
    )]
    NotIssuedByCa {
        cert: String,
        ca: String,
        problem: String,
    },

    #[error("internal error: could not {action}: {message}")]
    #[diagnostic(
        code(mtls::internal),
        help(
            "this is a bug in mtls, not in your input: please report it with the command you ran"
        )
    )]
    Internal { action: String, message: String },

    #[error("stopped before it was sent: {action}, which the plan you confirmed did not show")]
    #[diagnostic(
        code(mtls::not_in_confirmed_plan),
        help("the run took another path than its plan (a script that branches on is_known(), or AWS changed in between); nothing after this point was sent: run again to see and confirm the new plan")
    )]
    NotInConfirmedPlan { action: String },

    #[error("the lock folder {path} cannot be used: {problem}")]
    #[diagnostic(
        code(mtls::lock_folder),
        help("mtls keeps its locks in a folder only you may use; nothing was changed: remove {path} (or have its owner remove it) and run again")
    )]
    LockFolder { path: String, problem: String },

    #[error("the lock file {path} cannot be used: {problem}")]
    #[diagnostic(
        code(mtls::broken_lock),
        help("mtls makes its lock files as regular files; nothing was changed by this run: remove {path} and run again")
    )]
    BrokenLock { path: String, problem: String },

    #[error("--var {name}: a password is never taken on the command line")]
    #[diagnostic(
        code(mtls::password_on_command_line),
        help("other users can read a command line (ps), and shells keep it in their history; nothing was changed. Set the environment variable MTLS_P12_PASSWORD, or write the password into a file only you can read (`touch p12.pass && chmod 600 p12.pass`, then edit it) and pass --var p12_password_file=p12.pass")
    )]
    PasswordOnCommandLine { name: String },

    #[error("the PKCS#12 password {source_name} cannot be used: {problem}")]
    #[diagnostic(code(mtls::p12_password), help("{help}"))]
    P12Password {
        source_name: String,
        problem: String,
        help: String,
    },

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

// The script layer's diagnostic lives here, with the other errors, so that this module
// depends on no layer above it (the script layer builds it from its sources).

/// A script failed: where, why, and through which calls.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(mtls::script))]
pub struct ScriptError {
    /// `file:line:col: what went wrong`.
    pub message: String,
    #[source_code]
    /// The file the error is in.
    pub src: NamedSource<String>,
    #[label("{label}")]
    /// Where in it.
    pub span: Option<SourceSpan>,
    /// The label shown at that place.
    pub label: String,
    #[help]
    /// What to do about it, when there is something to say.
    pub help: Option<String>,
    /// Where the failing code was called from, innermost first.
    #[related]
    pub called_from: Vec<CallSite>,
    /// `file:line:col` of the failure, also in the message for logs without colour.
    pub location: String,
}

/// One call on the way to an error.
#[derive(Debug, Error, Diagnostic)]
#[error("called from {location}")]
#[diagnostic(severity(Advice))]
pub struct CallSite {
    #[source_code]
    /// The file of the call.
    pub src: NamedSource<String>,
    #[label("{function}(...) called here")]
    /// Where the call is.
    pub span: Option<SourceSpan>,
    /// The function called.
    pub function: String,
    /// `file:line:col` of the call.
    pub location: String,
}
