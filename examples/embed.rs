//! Embedding mtls in your own program: plan the walkthrough against AWS, show what would
//! change, then apply it, as `mtls plan --refresh` and `mtls run` do.
//!
//! ```sh
//! cargo run --example embed -- api.example.com ./pki            # plan only (read-only AWS calls)
//! cargo run --example embed -- api.example.com ./pki --apply    # then apply it
//! cargo run --example embed -- api.example.com ./pki --apply probe=false zone=example.com
//! ```
//! AWS is reached through the standard configuration (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, ...). Extra `NAME=VALUE` arguments become the script's `--var`s.

use std::path::PathBuf;

use mtls::{AwsSettings, Mode, Runtime};

/// What the command line asked for.
pub struct Request {
    /// The custom domain, e.g. api.example.com.
    pub domain: String,
    /// The folder for keys and certificates (created if missing).
    pub dir: PathBuf,
    /// Apply the plan after showing it.
    pub apply: bool,
    /// Further script variables.
    pub vars: Vec<(String, String)>,
}

impl Request {
    /// Reads `DOMAIN DIR [--apply] [NAME=VALUE ...]`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Request, String> {
        let usage = "usage: embed DOMAIN DIR [--apply] [NAME=VALUE ...]";
        let mut args = args.into_iter();
        let domain = args.next().ok_or(usage)?;
        let dir = PathBuf::from(args.next().ok_or(usage)?);
        let (mut apply, mut vars) = (false, Vec::new());
        for arg in args {
            if arg == "--apply" {
                apply = true;
            } else {
                let (name, value) = arg.split_once('=').ok_or(usage)?;
                vars.push((name.to_string(), value.to_string()));
            }
        }
        Ok(Request {
            domain,
            dir,
            apply,
            vars,
        })
    }

    /// A runtime for setup.rhai with this request's folder and variables.
    fn runtime(&self, mode: Mode) -> Runtime {
        let mut builder = Runtime::builder()
            .workdir(&self.dir)
            .mode(mode)
            .aws(AwsSettings::default())
            .var("domain", self.domain.as_str())
            // Script output (name servers, the probe's table) goes to standard error, so
            // standard output holds only the plan.
            .on_print(|line| eprintln!("{line}"));
        for (name, value) in &self.vars {
            builder = builder.var(name.as_str(), value.as_str());
        }
        builder.build()
    }
}

/// Plans setup.rhai against AWS, prints the plan, and applies it when asked.
/// Returns whether the plan changes anything on AWS.
pub fn run(request: &Request) -> Result<bool, mtls::Error> {
    std::fs::create_dir_all(&request.dir).map_err(|source| mtls::Error::Io {
        action: "create",
        path: request.dir.display().to_string(),
        source,
    })?;
    // A plan that reads AWS (like `--refresh`): every step says create, keep or update.
    let plan = request
        .runtime(Mode::Plan { refresh: true })
        .run("setup.rhai")?
        .plan;
    println!("{}", plan.render_text());
    if request.apply && plan.changes_aws() {
        let applied = request
            .runtime(Mode::Live { progress: false })
            .run("setup.rhai")?
            .plan;
        println!("{}", applied.render_text());
    }
    Ok(plan.changes_aws())
}

#[allow(dead_code)] // tests/example_embed.rs includes this file and calls `run` directly.
fn main() -> miette::Result<()> {
    let request =
        Request::parse(std::env::args().skip(1)).map_err(|usage| miette::miette!("{usage}"))?;
    run(&request)?;
    Ok(())
}
