//! The command line, as clap definitions only: parsing here, behaviour in `cli/mod.rs`
//! and the rest of the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  mtls plan pki.rhai --var domain=api.example.com        preview: changes nothing
  mtls run pki.rhai --var domain=api.example.com         make the CA and its certificates
  mtls run pki.rhai -C ./out --var domain=api.example.com
  mtls plan setup.rhai --var domain=api.example.com --format json
  mtls check --truststore RootCA.pem --cert server.pem --key server.key --chain inca.pem
                                                         lint them against ACM's and API Gateway's rules
  mtls functions                                         what scripts can call
  mtls init ./my-flows                                   editable copies of the bundled scripts and stdlib
  mtls completions bash > ~/.local/share/bash-completion/completions/mtls

Exit status: 0 success, 1 error (usage errors included); `plan --detailed-exitcode`: 2 when
the plan holds changes. Colours on standard error only, at a terminal, unless NO_COLOR is set.";

/// Mutual TLS in front of Amazon API Gateway, as editable Rhai scripts.
#[derive(Debug, Parser)]
#[command(name = "mtls", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output on standard error (-v info, -vv debug). RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a script: apply every step it calls.
    ///
    /// At a terminal, a run that would change something on AWS shows those changes and asks
    /// for confirmation first (`--yes`, or a standard input that is not a terminal, skips
    /// the question); a run that only writes files in the working folder does not ask.
    #[command(after_help = "Examples:
  mtls run pki.rhai --var domain=api.example.com
  mtls run ./my-flows/setup.rhai -C ./out --var domain=api.example.com --var stage=prod
  mtls run setup.rhai --var domain=api.example.com --yes   apply without asking
  mtls run pki.rhai --dry-run          same as `mtls plan pki.rhai`")]
    Run(RunCmd),

    /// Preview a script: list every action it would take, change nothing.
    #[command(after_help = "Examples:
  mtls plan pki.rhai --var domain=api.example.com
  mtls plan pki.rhai --var domain=api.example.com --format json > plan.json
  mtls plan setup.rhai --var domain=api.example.com --refresh --detailed-exitcode
      a drift check: exits 0 when AWS is as the script asks, 2 when not, 1 on an error")]
    Plan(PlanCmd),

    /// List every function scripts can call: primitives and stdlib steps.
    #[command(after_help = "Examples:
  mtls functions
  mtls functions --format json")]
    Functions {
        /// Also list the steps of the .rhai files in this folder (as `--stdlib` would).
        #[arg(long, value_name = "DIR")]
        stdlib: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },

    /// Serve the PetStore sample over mutual TLS on this machine, as the API Gateway custom
    /// domain would: TLS 1.2+, a client certificate that chains to the truststore required.
    #[command(after_help = "Examples:
  mtls serve --cert server.pem --key server.key --chain inca.pem --truststore RootCA.pem
  curl --cacert RootCA.pem --cert client.pem --key client.key \\
       --resolve api.example.com:8443:127.0.0.1 https://api.example.com:8443/pets")]
    Serve(ServeArgs),

    /// Write editable copies of the bundled scripts and stdlib into DIR.
    #[command(after_help = "Examples:
  mtls init ./my-flows
  mtls run ./my-flows/pki.rhai --var domain=api.example.com   uses ./my-flows/stdlib/")]
    Init {
        /// The folder to write (created if missing).
        dir: PathBuf,
        /// Overwrite files that already exist there.
        #[arg(long)]
        force: bool,
    },

    /// Lint certificates, keys and a truststore against ACM's and API Gateway's rules, before
    /// AWS sees them. Errors exit 1; warnings only, or nothing found, exit 0.
    #[command(after_help = "Examples:
  mtls check --truststore RootCA.pem
  mtls check --cert server.pem --key server.key --chain inca.pem --domain api.example.com
  mtls check --truststore RootCA.pem --cert server.pem --format json
  mtls check --expiring 30d --truststore RootCA.pem --cert server.pem --chain inca.pem
      exits 1 when one of them expires within 30 days (or has expired)

Files are relative to the current folder, or to --dir; the rules are listed in the README.")]
    Check(CheckArgs),

    /// Print a shell completion script for mtls on standard output.
    #[command(after_help = "Examples:
  mtls completions bash > ~/.local/share/bash-completion/completions/mtls
  mtls completions zsh > \"${fpath[1]}/_mtls\"
  mtls completions fish > ~/.config/fish/completions/mtls.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `mtls run`: the common arguments, plus what only a run has.
#[derive(Debug, Args)]
pub struct RunCmd {
    #[command(flatten)]
    pub common: RunArgs,

    /// Change nothing; print the plan (what `mtls plan` does).
    #[arg(long)]
    pub dry_run: bool,

    /// Apply without asking for confirmation, even at a terminal.
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// With --dry-run: exit 0 when the plan holds no change, 2 when it holds changes, 1 on
    /// an error (as `mtls plan --detailed-exitcode`).
    #[arg(long, requires = "dry_run")]
    pub detailed_exitcode: bool,
}

/// `mtls plan`: the common arguments, plus what only a plan has.
#[derive(Debug, Args)]
pub struct PlanCmd {
    #[command(flatten)]
    pub common: RunArgs,

    /// Exit 0 when the plan holds no change, 2 when it holds changes (anything to create,
    /// update, replace or delete), 1 on an error. With --refresh, this detects drift.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// The arguments `mtls run` and `mtls plan` share.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A script file, or the name of a bundled script (pki.rhai, ...).
    pub script: String,

    /// A value the script reads with get_var("NAME"); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Work in DIR: every file the script names is relative to it (created if missing).
    #[arg(short = 'C', long = "dir", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// A folder of .rhai files whose functions override the bundled stdlib's.
    #[arg(long, value_name = "DIR")]
    pub stdlib: Option<PathBuf>,

    /// Replace existing keys, certificates and resources instead of keeping them.
    #[arg(long)]
    pub force: bool,

    /// How to print the plan or summary: text for people, json for programs (on stdout;
    /// the script's own output then goes to stderr).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// In a plan, make read-only AWS calls to say what would be created, kept or updated
    /// (needs credentials). Without it a plan is offline. In a run, the plan shown for
    /// confirmation is refreshed, so only real changes are shown and asked about.
    #[arg(long)]
    pub refresh: bool,

    /// The AWS profile (~/.aws/config) to use.
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// The AWS region to work in.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (an emulator such as moto); S3 then uses
    /// path-style addressing.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The server certificate (PEM), e.g. server.pem.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Its private key (PEM), e.g. server.key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Intermediate certificates sent with it (PEM), e.g. inca.pem.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// The CA certificates client certificates must chain to (PEM), e.g. RootCA.pem.
    #[arg(long, value_name = "FILE")]
    pub truststore: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:8443")]
    pub listen: std::net::SocketAddr,
    /// Revocation lists of the truststore's CAs (PEM), e.g. RootCA.crl.pem: a client they
    /// name is answered 403, as API Gateway's revocation authorizer answers it.
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
}

/// `mtls check`: what to lint.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).multiple(true).args(["truststore", "cert"]))]
pub struct CheckArgs {
    /// A truststore for API Gateway (PEM, CA certificates), e.g. RootCA.pem.
    #[arg(long, value_name = "FILE")]
    pub truststore: Option<String>,
    /// A certificate for ACM (PEM; the first certificate of the file), e.g. server.pem.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<String>,
    /// The certificate's private key (PEM, unencrypted, mode 0600), e.g. server.key.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<String>,
    /// The certificate's chain: its issuer first, up towards the root, e.g. inca.pem.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub chain: Option<String>,
    /// A domain (or IP address) one of the certificate's subjectAltNames must cover; a
    /// Unicode name is checked in its ASCII (punycode) form, as certificates carry it.
    #[arg(long, value_name = "NAME", requires = "cert", value_parser = parse_domain)]
    pub domain: Option<String>,
    /// A certificate revocation list (PEM, e.g. RootCA.crl.pem): --cert must not be in it,
    /// and it must be signed by a CA of --truststore or --chain, and not expired.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub crl: Option<String>,
    /// Instead of the rules, list every certificate given that expires within this window
    /// (30d, 12h) or has expired; any exits 1.
    #[arg(long, value_name = "WINDOW", value_parser = crate::pki::lint::parse_window)]
    pub expiring: Option<std::time::Duration>,
    /// Read the files relative to DIR.
    #[arg(short = 'C', long = "dir", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// text for people, json for programs (on stdout).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `check --domain`: an IP address, or a DNS name in the form certificates carry it
/// (lowercase ASCII, Unicode labels as punycode, no trailing dot); anything else is refused
/// before a file is read.
fn parse_domain(text: &str) -> Result<String, String> {
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Ok(text.to_string());
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    let ascii = idna::domain_to_ascii(name)
        .map_err(|_| "it has characters that are not allowed in a domain name".to_string())?;
    match crate::inputs::dns_name_problem(&ascii, crate::inputs::Wildcard::Allowed) {
        None => Ok(ascii),
        Some(problem) => Err(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_domain;

    #[test]
    fn check_domains_are_taken_in_the_form_certificates_carry() {
        for (typed, taken) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.com.", "api.example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("BÜCHER.example", "xn--bcher-kva.example"),
            ("*.example.com", "*.example.com"),
            ("localhost", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
        ] {
            assert_eq!(parse_domain(typed).as_deref(), Ok(taken), "{typed}");
        }
        for bad in [
            "",
            ".",
            "a..b",
            "-a.example",
            "a_b.example",
            "example.123",
            "a b",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad:?} was taken");
        }
    }
}
