//! Running the `mtls` binary and `openssl` as a user would.

use std::path::Path;
use std::process::{Command, Output};

/// The result of one command, with its output as text.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Both streams, for assertions that do not care which one.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert!(self.status.success(), "command failed:\n{}", self.all());
        self
    }

    #[track_caller]
    pub fn failure(self) -> Run {
        assert!(
            !self.status.success(),
            "command should have failed:\n{}",
            self.all()
        );
        self
    }
}

/// Runs `mtls ARGS` in `cwd`, without colours so messages can be matched.
pub fn mtls(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run mtls");
    Run::from(out)
}

/// Runs `mtls ARGS` in `cwd` with extra environment (e.g. a moto endpoint).
pub fn mtls_env(cwd: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    mtls_env_unset(cwd, args, env, &[])
}

/// [`mtls_env`] with the variables `unset` removed from the environment (unset, not
/// empty: the AWS SDK reads an empty `AWS_REGION` as the region "").
pub fn mtls_env_unset(cwd: &Path, args: &[&str], env: &[(String, String)], unset: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mtls"));
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    Run::from(cmd.output().expect("run mtls"))
}

/// The walkthrough's command line, defined once for every test:
/// `mtls VERB setup.rhai --var domain=api.example.com --var probe=false`, plus what a test
/// adds. `probe=false` leaves out setup's final check over the network (the tests' AWS is
/// moto, whose domain answers no TLS).
///
/// ```ignore
/// mtls_env(dir, &SetupArgs::plan().args(&["--refresh"]).to_vec(), &moto.env());
/// ```
#[derive(Debug, Clone)]
pub struct SetupArgs {
    args: Vec<String>,
}

impl SetupArgs {
    /// [`SetupArgs::run`] as a constant, for tables of cases.
    pub const RUN: [&'static str; 6] = [
        "run",
        "setup.rhai",
        "--var",
        "domain=api.example.com",
        "--var",
        "probe=false",
    ];

    /// `run setup.rhai --var domain=api.example.com --var probe=false`.
    pub fn run() -> SetupArgs {
        SetupArgs::verb("run")
    }

    /// `plan setup.rhai --var domain=api.example.com --var probe=false`.
    pub fn plan() -> SetupArgs {
        SetupArgs::verb("plan")
    }

    fn verb(verb: &str) -> SetupArgs {
        let mut args: Vec<String> = Self::RUN.iter().map(|a| a.to_string()).collect();
        args[0] = verb.to_string();
        SetupArgs { args }
    }

    /// `run teardown.rhai --var domain=api.example.com`: what [`SetupArgs::run`] made, removed.
    pub fn teardown() -> SetupArgs {
        SetupArgs::run().script("teardown.rhai").with_probe()
    }

    /// `script` (teardown.rhai, which takes the same variables) instead of setup.rhai.
    pub fn script(mut self, script: &str) -> SetupArgs {
        self.args[1] = script.to_string();
        self
    }

    /// For `domain` instead of api.example.com.
    pub fn domain(mut self, domain: &str) -> SetupArgs {
        for a in self.args.iter_mut().filter(|a| a.starts_with("domain=")) {
            *a = format!("domain={domain}");
        }
        self
    }

    /// With setup's final check (no `--var probe=false`), as a user types it.
    pub fn with_probe(mut self) -> SetupArgs {
        if let Some(i) = self.args.iter().position(|a| a == "probe=false") {
            self.args.drain(i - 1..=i);
        }
        self
    }

    /// `--var NAME=VALUE`.
    pub fn var(self, name: &str, value: &str) -> SetupArgs {
        self.args(&["--var", &format!("{name}={value}")])
    }

    /// More arguments, as given (`--refresh`, `--region R`, `--endpoint-url URL`, ...).
    pub fn args(mut self, extra: &[&str]) -> SetupArgs {
        self.args.extend(extra.iter().map(|a| a.to_string()));
        self
    }

    /// The arguments, for [`mtls_env`] and the like.
    pub fn to_vec(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }
}

/// What every test relies on: the walkthrough's command lines, argument by argument.
#[test]
fn setup_args_build_the_walkthrough_command_lines() {
    let walkthrough = ["setup.rhai", "--var", "domain=api.example.com"];
    let no_probe = ["--var", "probe=false"];
    assert_eq!(SetupArgs::run().to_vec(), SetupArgs::RUN);
    assert_eq!(
        SetupArgs::plan().args(&["--refresh"]).to_vec(),
        [&["plan"][..], &walkthrough, &no_probe, &["--refresh"]].concat()
    );
    assert_eq!(
        SetupArgs::run().domain("localhost").with_probe().to_vec(),
        ["run", "setup.rhai", "--var", "domain=localhost"]
    );
    assert_eq!(
        SetupArgs::teardown().var("bucket", "shared").to_vec(),
        [
            "run",
            "teardown.rhai",
            "--var",
            "domain=api.example.com",
            "--var",
            "bucket=shared"
        ]
    );
}

/// The port `mtls serve` listens on, read from its stderr up to its "listening on" line
/// (the rest stays unread in `stderr`, for the request log).
pub fn listening_port(stderr: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "mtls serve exited before listening"
        );
        if let Some(rest) = line.trim().strip_prefix("listening on https://127.0.0.1:") {
            return rest.to_string();
        }
    }
}

/// `mtls serve` with the walkthrough's files (pki.rhai's server pair, chain and root), on
/// an ephemeral loopback port.
pub const SERVE: [&str; 11] = [
    "serve",
    "--cert",
    "server.pem",
    "--key",
    "server.key",
    "--chain",
    "inca.pem",
    "--truststore",
    "RootCA.pem",
    "--listen",
    "127.0.0.1:0",
];

/// `mtls run setup.rhai --var domain=api.example.com --var probe=false EXTRA...` in `dir`
/// with `env` (a moto endpoint): [`SetupArgs::run`] plus `extra`.
pub fn run_setup(dir: &Path, env: &[(String, String)], extra: &[&str]) -> Run {
    mtls_env(dir, &SetupArgs::run().args(extra).to_vec(), env)
}

/// Runs `openssl ARGS` in `cwd`.
pub fn openssl(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run openssl");
    Run::from(out)
}

/// A self-signed ECDSA P-256 certificate `STEM.pem` with its key `STEM.key`, made by openssl
/// (30 days), with `extra` arguments for `openssl req` (such as `-addext`).
pub fn self_signed_p256(cwd: &Path, stem: &str, subject: &str, extra: &[&str]) {
    let (key, pem) = (format!("{stem}.key"), format!("{stem}.pem"));
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &pem,
        "-subj",
        subject,
        "-days",
        "30",
    ];
    args.extend_from_slice(extra);
    openssl(cwd, &args).success();
}

/// The eight files the walkthrough's PKI makes.
pub const PKI_FILES: [&str; 8] = [
    "RootCA.key",
    "RootCA.pem",
    "client.key",
    "client.pem",
    "inca.key",
    "inca.pem",
    "server.key",
    "server.pem",
];

/// A line of base64 from the middle of each private key in `dir`: if any of these shows up
/// in output, key material leaked.
pub fn key_fingerprints(dir: &Path) -> Vec<String> {
    PKI_FILES
        .iter()
        .filter(|f| f.ends_with(".key"))
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .filter_map(|pem| pem.lines().nth(3).map(str::to_string))
        .collect()
}

/// `curl -X PUT --data-binary @FILE URL` against moto's S3 (path-style): an upload as
/// `aws s3 cp` makes it, without the metadata mtls puts on its own. The Authorization
/// header only names the service (moto routes by it; it checks no signature).
pub fn curl_put(url: &str, file: &Path) -> Run {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "-X", "PUT", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .args([
            // Not form data: a server would read a form-encoded body as fields.
            "-H",
            "Content-Type: application/x-pem-file",
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            url,
        ])
        .output()
        .expect("run curl");
    Run::from(out)
}
