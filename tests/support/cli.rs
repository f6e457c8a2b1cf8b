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

/// `mtls run setup.rhai --var domain=api.example.com --var probe=false EXTRA...` in `dir`
/// with `env` (a moto endpoint): the walkthrough without its final check over the network.
pub fn run_setup(dir: &Path, env: &[(String, String)], extra: &[&str]) -> Run {
    let mut args = vec![
        "run",
        "setup.rhai",
        "--var",
        "domain=api.example.com",
        "--var",
        "probe=false",
    ];
    args.extend_from_slice(extra);
    mtls_env(dir, &args, env)
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
