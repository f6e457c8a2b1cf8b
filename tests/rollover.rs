//! `rollover.rhai` against moto after `setup.rhai`: the three phases of a CA rollover, each
//! reaching the domain as a new truststore version (checked in the recorded PATCH), the
//! bundle in between accepted by `mtls serve` for clients of both CAs and, after `retire`,
//! for the new CA's only; re-runs that make no mutating call; phases out of order refused
//! with nothing changed.

use crate::support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mtls::aws::Aws;
use support::cli::{mtls_env, run_setup, Run};
use support::moto::Moto;
use support::realism::{After, Cx, DomainUpdating, Realism, Request, Response, Rule};

const DOMAIN: &str = "api.example.com";
const BUCKET: &str = "trust-store-123456789012";
const KEY: &str = "api.example.com/RootCA.pem";

fn rollover(env: &[(String, String)], dir: &Path, phase: &str, extra: &[&str]) -> Run {
    let phase = format!("phase={phase}");
    let mut args = vec![
        "run",
        "rollover.rhai",
        "--var",
        "domain=api.example.com",
        "--var",
        &phase,
    ];
    args.extend_from_slice(extra);
    mtls_env(dir, &args, env)
}

fn mutating(moto: &Moto) -> Vec<String> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| r.describe())
        .collect()
}

/// The truststore versions mtls PATCHed the domain to, in order.
fn patched_versions(moto: &Moto) -> Vec<String> {
    moto.requests_to("PATCH", &format!("/domainnames/{DOMAIN}"))
        .iter()
        .flat_map(|r| {
            r.body_json()["patchOperations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|op| op["path"] == "/mutualTlsAuthentication/truststoreVersion")
        .map(|op| op["value"].as_str().unwrap_or_default().to_string())
        .collect()
}

struct AwsClient {
    rt: tokio::runtime::Runtime,
    aws: Aws,
}

impl AwsClient {
    fn of(moto: &Moto) -> AwsClient {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
        AwsClient { rt, aws }
    }

    fn latest_version(&self) -> String {
        self.rt
            .block_on(self.aws.s3().head_object(BUCKET, KEY, None))
            .unwrap()
            .and_then(|h| h.version_id)
            .expect("a versioned truststore object")
    }

    /// The truststore object at `version`, written to `dir/file`.
    fn save_version(&self, version: &str, dir: &Path, file: &str) -> PathBuf {
        let body = self
            .rt
            .block_on(
                self.aws
                    .s3()
                    .get_object(BUCKET, KEY, Some(version), 1 << 20),
            )
            .unwrap()
            .expect("the object version");
        let path = dir.join(file);
        std::fs::write(&path, body).unwrap();
        path
    }
}

/// The subjects of the certificates in a PEM bundle, as openssl prints them.
fn subjects(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .map(|block| {
            let mut child = Command::new("openssl")
                .args(["x509", "-noout", "-subject"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(block.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect()
}

/// `mtls serve` with `truststore` and the server chain `server`/`inca` on a free loopback
/// port; killed on drop.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start(dir: &Path, truststore: &Path, server: &str, inca: &str) -> Serve {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_mtls"))
            .args(["serve", "--cert", &format!("{server}.pem")])
            .args(["--key", &format!("{server}.key")])
            .args(["--chain", &format!("{inca}.pem")])
            .arg("--truststore")
            .arg(truststore)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mtls serve");
        let serve = Serve { child, port };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return serve;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mtls serve did not listen on {port}");
    }

    /// curl's HTTP status for GET /pets with the client certificate `client` ("000": no
    /// TLS session), trusting `ca` for the server.
    fn status(&self, dir: &Path, client: &str, ca: &str) -> String {
        let out = Command::new("curl")
            .args(["--silent", "--max-time", "10", "--output", "/dev/null"])
            .args(["--write-out", "%{http_code}"])
            .args(["--cacert", &format!("{ca}.pem")])
            .args(["--cert", &format!("{client}.pem")])
            .args(["--key", &format!("{client}.key")])
            .args(["--resolve", &format!("{DOMAIN}:{}:127.0.0.1", self.port)])
            .arg(format!("https://{DOMAIN}:{}/pets", self.port))
            .current_dir(dir)
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A phase run out of order: an error naming the phase to run first, no file made, no
/// mutating call.
#[track_caller]
fn refused(moto: &Moto, dir: &Path, phase: &str, expected: &str) {
    moto.reset_recording();
    let before = files(dir);
    let run = rollover(&moto.env(), dir, phase, &[]).failure();
    assert!(run.all().contains(expected), "{phase}: {}", run.all());
    assert_eq!(files(dir), before, "{phase} made files");
    assert_eq!(mutating(moto), Vec::<String>::new(), "{phase} changed AWS");
}

#[test]
fn rollover_in_three_phases_reaches_the_domain_and_serve_follows_it() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_setup(dir, &moto.env(), &[]).success();
    let aws = AwsClient::of(&moto);
    let v0 = aws.latest_version();

    // Out of order: nothing happens.
    refused(&moto, dir, "switch", "run --var phase=add first");
    refused(&moto, dir, "retire", "run --var phase=add first");
    refused(&moto, dir, "rotate", "use add, then switch, then retire");

    // add: RootCA-2 made, the bundle RootCA + RootCA-2 uploaded as a new version, the domain
    // PATCHed to it.
    moto.reset_recording();
    let add = rollover(&moto.env(), dir, "add", &[]).success();
    let v1 = aws.latest_version();
    assert_ne!(v1, v0);
    assert_eq!(patched_versions(&moto), [v1.as_str()], "{}", add.all());
    assert!(
        add.stdout.contains("truststore warnings: none"),
        "{}",
        add.stdout
    );
    assert!(add.stdout.contains("status AVAILABLE"), "{}", add.stdout);
    let bundle = aws.save_version(&v1, dir, "bundle-add.pem");
    assert_eq!(
        subjects(&bundle),
        [
            "subject=C = JP, ST = Tokyo, O = Example, CN = mtls root CA",
            "subject=C = JP, ST = Tokyo, O = Example, CN = mtls root CA RootCA-2"
        ]
    );
    // The bundle diff, as the run shows it: RootCA-2 added, nothing removed.
    let new_short = fingerprint_prefix(dir, "RootCA-2.pem");
    let diff_lines = |run: &Run| -> Vec<String> {
        run.stdout
            .lines()
            .filter(|l| l.starts_with("  added: ") || l.starts_with("  removed: "))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(
        diff_lines(&add),
        [format!(
            "added: C=JP, ST=Tokyo, O=Example, CN=mtls root CA RootCA-2 [{new_short}]"
        )],
        "{}",
        add.stdout
    );
    // Again: nothing to do.
    moto.reset_recording();
    rollover(&moto.env(), dir, "add", &[]).success();
    assert_eq!(mutating(&moto), Vec::<String>::new());
    refused(&moto, dir, "retire", "run --var phase=switch first");

    // switch: the server chain from RootCA-2, re-imported over the same ARN; no truststore change.
    let arn_before = imported_arn(&aws);
    moto.reset_recording();
    let switch = rollover(&moto.env(), dir, "switch", &[]).success();
    let changes = mutating(&moto);
    assert_eq!(changes.len(), 1, "{changes:?}\n{}", switch.all());
    let imports: Vec<_> = moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.is_acm_import_certificate())
        .collect();
    assert_eq!(
        imports[0].body_json()["CertificateArn"],
        arn_before.as_str()
    );
    assert_eq!(aws.latest_version(), v1);
    let openssl = support::cli::openssl(
        dir,
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "RootCA-2.pem",
            "-untrusted",
            "inca-2.pem",
            "server-2.pem",
            "client-2.pem",
        ],
    );
    assert!(openssl.status.success(), "{}", openssl.all());
    moto.reset_recording();
    rollover(&moto.env(), dir, "switch", &[]).success();
    assert_eq!(mutating(&moto), Vec::<String>::new());

    // Between add and retire, the domain's truststore takes clients of both CAs.
    {
        let serve = Serve::start(dir, &bundle, "server-2", "inca-2");
        assert_eq!(serve.status(dir, "client", "RootCA-2"), "200");
        assert_eq!(serve.status(dir, "client-2", "RootCA-2"), "200");
    }

    // retire's plan shows the old CA leaving and the version changing.
    moto.reset_recording();
    let plan = mtls_env(
        dir,
        &[
            "plan",
            "rollover.rhai",
            "--var",
            "domain=api.example.com",
            "--var",
            "phase=retire",
            "--refresh",
        ],
        &moto.env(),
    )
    .success();
    let old_short = fingerprint_prefix(dir, "RootCA.pem");
    let shown: Vec<String> = plan
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for expected in [
        format!("removed = \"C=JP, ST=Tokyo, O=Example, CN=mtls root CA [{old_short}]\""),
        format!("version = \"{v1} -> (known after apply)\""),
        format!("truststore_version = \"{v1} -> (known after apply)\""),
    ] {
        assert!(shown.contains(&expected), "{expected}\n{}", plan.stdout);
    }
    assert_eq!(
        mutating(&moto),
        Vec::<String>::new(),
        "the plan changed AWS"
    );

    // retire: the bundle is RootCA-2 alone, a new version, the domain PATCHed to it.
    moto.reset_recording();
    let retire = rollover(&moto.env(), dir, "retire", &[]).success();
    let v2 = aws.latest_version();
    assert_ne!(v2, v1);
    assert_eq!(
        diff_lines(&retire),
        [format!(
            "removed: C=JP, ST=Tokyo, O=Example, CN=mtls root CA [{old_short}]"
        )],
        "{}",
        retire.stdout
    );
    assert_eq!(patched_versions(&moto), [v2.as_str()], "{}", retire.all());
    let bundle = aws.save_version(&v2, dir, "bundle-retire.pem");
    assert_eq!(
        subjects(&bundle),
        ["subject=C = JP, ST = Tokyo, O = Example, CN = mtls root CA RootCA-2"]
    );
    {
        let serve = Serve::start(dir, &bundle, "server-2", "inca-2");
        assert_eq!(serve.status(dir, "client-2", "RootCA-2"), "200");
        assert_eq!(serve.status(dir, "client", "RootCA-2"), "000");
    }
    moto.reset_recording();
    rollover(&moto.env(), dir, "retire", &[]).success();
    assert_eq!(mutating(&moto), Vec::<String>::new());
    // add after retire would bring the old CA back: refused.
    refused(&moto, dir, "add", "completed by retire");
}

fn imported_arn(aws: &AwsClient) -> String {
    let mut tags = mtls::aws::Tags::new();
    tags.insert("mtls:domain".into(), DOMAIN.into());
    tags.insert("mtls:role".into(), "server".into());
    let found = aws
        .rt
        .block_on(aws.aws.acm().find_certificates(None, &tags))
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].arn.clone()
}

/// The first four bytes of a certificate's SHA-256, as `openssl x509 -fingerprint` prints them.
fn fingerprint_prefix(dir: &Path, file: &str) -> String {
    let out = support::cli::openssl(
        dir,
        &["x509", "-noout", "-fingerprint", "-sha256", "-in", file],
    )
    .success();
    let fp = out.stdout.trim().rsplit('=').next().unwrap().to_string();
    fp.chars().take(11).collect()
}

#[test]
fn retire_refuses_while_the_imported_server_certificate_chains_to_the_old_ca() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_setup(dir, &moto.env(), &[]).success();
    rollover(&moto.env(), dir, "add", &[]).success();
    rollover(&moto.env(), dir, "switch", &[]).success();
    // Someone puts the old server certificate back into ACM (setup.rhai re-imports it, and
    // points the domain at RootCA.pem alone); add puts RootCA-2 back into the truststore.
    run_setup(dir, &moto.env(), &[]).success();
    rollover(&moto.env(), dir, "add", &[]).success();
    refused(
        &moto,
        dir,
        "retire",
        "(imported into ACM) still chains to RootCA.pem, not RootCA-2.pem: run --var phase=switch first",
    );
    // switch re-imports the new chain; then retire goes through.
    rollover(&moto.env(), dir, "switch", &[]).success();
    rollover(&moto.env(), dir, "retire", &[]).success();
}

/// API Gateway's answer to UpdateDomainName carries truststore warnings (moto never does).
struct TruststoreWarnings;

impl Rule for TruststoreWarnings {
    fn name(&self) -> &'static str {
        "truststore warnings"
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if req.operation() == "UpdateDomainName" && resp.is_success() {
            if let Some(mut j) = resp.json() {
                j["mutualTlsAuthentication"]["truststoreWarnings"] =
                    serde_json::json!(["Certificate CN=expired is expired"]);
                resp.set_json(&j);
                cx.log("added a truststore warning");
            }
        }
        After::Deliver
    }
}

#[test]
fn add_waits_for_the_domain_and_shows_api_gateways_truststore_warnings() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_setup(dir, &moto.env(), &[]).success();
    let realism = Realism::start(
        &moto,
        vec![
            DomainUpdating::new(Duration::from_secs(2)),
            Box::new(TruststoreWarnings),
        ],
    );
    moto.reset_recording();
    let add = rollover(&realism.env(), dir, "add", &[]).success();
    assert!(
        add.stdout
            .contains("truststore warning: Certificate CN=expired is expired"),
        "{}\n{}",
        add.all(),
        realism.report()
    );
    assert!(
        add.stderr
            .contains("API Gateway reports a truststore problem for api.example.com"),
        "{}",
        add.stderr
    );
    // The domain was UPDATING after the PATCH: the run waited until it was AVAILABLE.
    assert!(
        !realism.events_of(DomainUpdating::NAME).is_empty(),
        "{}",
        realism.report()
    );
    assert!(add.stdout.contains("status AVAILABLE"), "{}", add.stdout);
    assert_eq!(patched_versions(&moto).len(), 1);
    // Run again through the proxy: kept, no mutating call.
    moto.reset_recording();
    rollover(&realism.env(), dir, "add", &[]).success();
    assert_eq!(mutating(&moto), Vec::<String>::new());
}
