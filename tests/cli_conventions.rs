//! What users expect of a command-line tool: `plan --detailed-exitcode`, a confirmation
//! before a run changes AWS, colours only where they belong, and an AWS client that honours
//! the environment's HTTPS proxy and trust roots.
//!
//! The terminal cases run the binary under util-linux `script`, which gives it a
//! pseudo-terminal as standard input, output and error and types what the test feeds it.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mtls::aws::{s3::BucketState, Aws};
use support::cli::{mtls, mtls_env, Run, SetupArgs};
use support::moto::Moto;

const BIN: &str = env!("CARGO_BIN_EXE_mtls");
const DOMAIN: &str = "api.example.com";
const BUCKET: &str = "trust-store-123456789012";
const PROMPT: &str = "Apply these changes? Only 'yes' is accepted:";
const SETUP: [&str; 6] = SetupArgs::RUN;

/// Proxy variables of the machine running the tests; each test sets the ones it means.
const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

// ---------------------------------------------------------------------------------------
// Helpers

/// A command run under a pseudo-terminal: its status and what the terminal showed (its
/// output and error, interleaved, with `\r\n` line ends, and the echo of what was typed).
struct TtyRun {
    status: ExitStatus,
    screen: String,
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `mtls ARGS` as a `sh -c` command line.
fn mtls_line(args: &[&str]) -> String {
    std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(sh_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the shell command `line` in `dir` on a pseudo-terminal, typing `input`, with
/// `env`; colours are left to each test (`NO_COLOR` is removed unless `env` sets it).
fn tty(dir: &Path, line: &str, env: &[(String, String)], input: &str) -> TtyRun {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", line, "/dev/null"])
        .current_dir(dir)
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("run util-linux `script` (Debian: bsdutils)");
    // What is typed waits in the terminal until mtls reads it; then `script` ends the input.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    TtyRun {
        status: out.status,
        screen: String::from_utf8_lossy(&out.stdout).into_owned()
            + String::from_utf8_lossy(&out.stderr).as_ref(),
    }
}

/// `mtls ARGS` on a terminal, without colours, typing `input`.
fn mtls_tty(dir: &Path, args: &[&str], env: &[(String, String)], input: &str) -> TtyRun {
    let mut env = env.to_vec();
    env.push(("NO_COLOR".into(), "1".into()));
    tty(dir, &mtls_line(args), &env, input)
}

/// `mtls ARGS` with standard input a pipe (not a terminal) that holds `input`.
fn mtls_piped(dir: &Path, args: &[&str], env: &[(String, String)], input: &str) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run mtls");
    let mut stdin = child.stdin.take().unwrap();
    // mtls may never read it, and exit before it is written: a broken pipe is fine.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn mutating(moto: &Moto) -> Vec<String> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.rpc_action()))
        .collect()
}

/// What the walkthrough leaves on AWS: (the truststore bucket exists, the custom domain exists).
fn aws_resources(moto: &Moto) -> (bool, bool) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    let bucket = rt.block_on(aws.s3().find_bucket(BUCKET)).unwrap();
    let domain = rt.block_on(aws.apigateway().domain_name(DOMAIN)).unwrap();
    (
        matches!(bucket, BucketState::Owned { .. }),
        domain.is_some(),
    )
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Environment that points the AWS SDK at dummy credentials and nothing else (no profile,
/// no shared files, no instance metadata, one attempt per call).
fn offline_aws_env() -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_PROFILE", ""),
        ("AWS_SESSION_TOKEN", ""),
        ("AWS_CONFIG_FILE", "/nonexistent/mtls-test/config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/mtls-test/credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A loopback listener that takes one connection (or none within 60 s) and hands it to
/// `serve`, whose result the returned thread yields.
fn one_connection<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (u16, JoinHandle<Option<T>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(20)))
                        .unwrap();
                    return Some(serve(stream));
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => return None,
            }
        }
    });
    (port, handle)
}

/// Reads an HTTP request head (up to the blank line, the end of input or 64 KiB).
fn read_head(stream: &mut impl Read) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte)? {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

// ---------------------------------------------------------------------------------------
// plan --detailed-exitcode

#[test]
fn detailed_exitcode_is_2_with_changes_0_without_and_1_on_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plan = ["plan", "pki.rhai", "--var", "domain=api.example.com"];

    // Nothing exists yet: eight files to create.
    let with_changes = mtls(dir, &[&plan[..], &["--detailed-exitcode"]].concat());
    assert_eq!(
        with_changes.status.code(),
        Some(2),
        "{}",
        with_changes.all()
    );
    assert!(
        with_changes.stdout.contains("Plan: 8 to create"),
        "{}",
        with_changes.stdout
    );
    // Without the flag, the same plan succeeds with 0; `run --dry-run` is the same plan.
    assert_eq!(mtls(dir, &plan).status.code(), Some(0));
    let dry_run = [
        "run",
        "pki.rhai",
        "--var",
        "domain=api.example.com",
        "--dry-run",
        "--detailed-exitcode",
    ];
    assert_eq!(mtls(dir, &dry_run).status.code(), Some(2));
    // JSON output keeps the exit status.
    let json = mtls(
        dir,
        &[&plan[..], &["--detailed-exitcode", "--format", "json"]].concat(),
    );
    assert_eq!(json.status.code(), Some(2), "{}", json.all());
    serde_json::from_str::<serde_json::Value>(&json.stdout).expect("JSON on stdout");

    // Applied: every file kept, so no change.
    mtls(dir, &["run", "pki.rhai", "--var", "domain=api.example.com"]).success();
    let no_changes = mtls(dir, &[&plan[..], &["--detailed-exitcode"]].concat());
    assert_eq!(no_changes.status.code(), Some(0), "{}", no_changes.all());
    assert!(
        no_changes
            .stdout
            .contains("0 to create, 0 to update, 0 to replace, 8 to keep"),
        "{}",
        no_changes.stdout
    );

    // Errors are 1, never 2: a script error, and a usage error (clap's own default is 2).
    let missing_var = mtls(dir, &["plan", "pki.rhai", "--detailed-exitcode"]);
    assert_eq!(missing_var.status.code(), Some(1), "{}", missing_var.all());
    assert!(
        missing_var.all().contains("--var domain="),
        "{}",
        missing_var.all()
    );
    let usage = mtls(
        dir,
        &["plan", "pki.rhai", "--detailed-exitcode", "--no-such-flag"],
    );
    assert_eq!(usage.status.code(), Some(1), "{}", usage.all());
    assert!(usage.stderr.contains("--no-such-flag"), "{}", usage.stderr);
    // --detailed-exitcode belongs to plans: `run` takes it only with --dry-run.
    let live = mtls(
        dir,
        &[
            "run",
            "pki.rhai",
            "--var",
            "domain=api.example.com",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(live.status.code(), Some(1), "{}", live.all());
    assert!(live.stderr.contains("--dry-run"), "{}", live.stderr);
}

#[test]
fn refreshed_plan_with_detailed_exitcode_detects_drift_on_aws() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let drift = SetupArgs::plan().args(&["--refresh", "--detailed-exitcode"]);
    let drift = drift.to_vec();

    let before = mtls_env(dir, &drift, &moto.env());
    assert_eq!(before.status.code(), Some(2), "{}", before.all());
    assert_eq!(mutating(&moto), Vec::<String>::new());

    let applied = mtls_env(dir, &SETUP, &moto.env());
    assert!(applied.status.success(), "{}", applied.all());

    moto.reset_recording();
    let after = mtls_env(dir, &drift, &moto.env());
    assert_eq!(after.status.code(), Some(0), "{}", after.all());
    assert_eq!(mutating(&moto), Vec::<String>::new());

    // An endpoint that does not answer is an error: 1.
    let down = mtls_env(
        dir,
        &[&drift[..], &["--endpoint-url", "http://127.0.0.1:9"]].concat(),
        &moto.env(),
    );
    assert_eq!(down.status.code(), Some(1), "{}", down.all());
}

// ---------------------------------------------------------------------------------------
// Confirmation before a run changes AWS

#[test]
fn run_at_a_terminal_asks_and_a_refusal_changes_nothing() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    for answer in ["no\n", "", "YES\n", "y\n"] {
        let out = mtls_tty(dir, &SETUP, &moto.env(), answer);
        assert!(!out.status.success(), "answer {answer:?}:\n{}", out.screen);
        assert_eq!(out.status.code(), Some(1), "{}", out.screen);
        assert!(out.screen.contains(PROMPT), "{}", out.screen);
        assert!(out.screen.contains("nothing was changed"), "{}", out.screen);
        // What is asked about: the AWS changes, not the local files.
        assert!(out.screen.contains("+ s3 bucket"), "{}", out.screen);
        assert!(out.screen.contains("+ api custom domain"), "{}", out.screen);
        assert!(!out.screen.contains("private key"), "{}", out.screen);
        // Nothing written, nothing sent that changes AWS.
        assert_eq!(files_in(dir), Vec::<String>::new(), "answer {answer:?}");
        assert_eq!(mutating(&moto), Vec::<String>::new(), "answer {answer:?}");
    }
    assert_eq!(aws_resources(&moto), (false, false));
}

#[test]
fn run_at_a_terminal_applies_after_yes() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let out = mtls_tty(dir, &SETUP, &moto.env(), "yes\n");
    assert!(
        out.status.success(),
        "{}\nmoto:\n{}",
        out.screen,
        moto.log()
    );
    assert!(out.screen.contains(PROMPT), "{}", out.screen);
    // The question comes before the first change.
    let asked = out.screen.find(PROMPT).unwrap();
    let first_change = out.screen.find("+ created").expect("progress lines");
    assert!(asked < first_change, "{}", out.screen);
    assert!(out.screen.contains("Applied:"), "{}", out.screen);
    assert!(!mutating(&moto).is_empty());
    assert_eq!(aws_resources(&moto), (true, true));
    assert!(files_in(dir).contains(&"server.key".to_string()));

    // With --refresh the question shows only what changes: nothing now, so none is asked.
    moto.reset_recording();
    let again = mtls_tty(dir, &[&SETUP[..], &["--refresh"]].concat(), &moto.env(), "");
    assert!(again.status.success(), "{}", again.screen);
    assert!(!again.screen.contains(PROMPT), "{}", again.screen);
    assert_eq!(mutating(&moto), Vec::<String>::new());
}

#[test]
fn run_with_yes_does_not_ask() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    // "no" is typed, and never read.
    let out = mtls_tty(
        tmp.path(),
        &[&SETUP[..], &["--yes"]].concat(),
        &moto.env(),
        "no\n",
    );
    assert!(out.status.success(), "{}", out.screen);
    assert!(!out.screen.contains(PROMPT), "{}", out.screen);
    assert_eq!(aws_resources(&moto), (true, true));
}

#[test]
fn run_without_a_terminal_does_not_ask() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    // Standard input is a pipe holding "no": a script or CI, which is not asked.
    let out = mtls_piped(tmp.path(), &SETUP, &moto.env(), "no\n");
    assert!(out.status.success(), "{}", out.all());
    assert!(!out.all().contains(PROMPT), "{}", out.all());
    assert_eq!(aws_resources(&moto), (true, true));
}

#[test]
fn local_only_run_at_a_terminal_does_not_ask() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mtls_tty(
        tmp.path(),
        &["run", "pki.rhai", "--var", "domain=api.example.com"],
        &[],
        "no\n",
    );
    assert!(out.status.success(), "{}", out.screen);
    assert!(!out.screen.contains(PROMPT), "{}", out.screen);
    assert_eq!(files_in(tmp.path()).len(), 8, "{}", out.screen);
}

/// What the prompt lists: the text between its heading and its question.
fn asked_about(screen: &str) -> &str {
    let start = screen
        .find("mtls will change these resources on AWS")
        .expect("the prompt's heading");
    let end = screen.find(PROMPT).expect("the prompt's question");
    &screen[start..end]
}

#[test]
fn a_fleet_of_client_certificates_at_a_terminal_is_not_asked_about() {
    // Only local files: a fleet, its CA and its manifest (a kind of its own each).
    let tmp = tempfile::tempdir().unwrap();
    let out = mtls_tty(
        tmp.path(),
        &[
            "run",
            "issue_clients.rhai",
            "--var",
            "count=3",
            "--var",
            "prefix=dev-",
            "--var",
            "ca_algorithm=ecdsa-p256",
        ],
        &[],
        "no\n",
    );
    assert!(out.status.success(), "{}", out.screen);
    assert!(!out.screen.contains(PROMPT), "{}", out.screen);
    assert!(files_in(tmp.path()).contains(&"dev-3.pem".to_string()));
}

#[test]
fn rollover_add_at_a_terminal_asks_only_about_its_aws_changes() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    support::cli::run_setup(dir, &moto.env(), &[]).success();
    let before = files_in(dir);
    moto.reset_recording();

    let out = mtls_tty(
        dir,
        &[
            "run",
            "rollover.rhai",
            "--var",
            "domain=api.example.com",
            "--var",
            "phase=add",
        ],
        &moto.env(),
        "no\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.screen);
    let asked = asked_about(&out.screen);
    // The new CA and the bundle are files: made without asking, so not listed.
    for local in ["truststore bundle", "private key", "RootCA-2.pem"] {
        assert!(!asked.contains(local), "{local} asked about:\n{asked}");
    }
    assert!(asked.contains("s3 object"), "{asked}");
    assert!(asked.contains("api custom domain"), "{asked}");
    // Refused: nothing written, nothing sent that changes AWS.
    assert_eq!(files_in(dir), before);
    assert_eq!(mutating(&moto), Vec::<String>::new());
}

/// The plan confirmed at a terminal holds every change its run makes, in both directions:
/// setup, then teardown (whose offline plan cannot name the certificates' roles or the
/// parent zone), each confirmed once, run to the end.
#[test]
fn setup_and_teardown_confirmed_at_a_terminal_run_to_the_end() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = mtls_tty(dir, &SETUP, &moto.env(), "yes\n");
    assert!(out.status.success(), "{}", out.screen);
    assert_eq!(aws_resources(&moto), (true, true));
    let out = mtls_tty(dir, &SetupArgs::teardown().to_vec(), &moto.env(), "yes\n");
    assert!(out.status.success(), "{}", out.screen);
    assert!(out.screen.contains(PROMPT), "{}", out.screen);
    assert!(out.screen.contains("- deleted"), "{}", out.screen);
    assert_eq!(aws_resources(&moto), (false, false));
}

/// A run at a terminal sends no AWS change its confirmed plan did not show: a script that
/// changes AWS only once a value is known plans nothing (so nothing is asked), and its run
/// stops before the change is sent. There is no `is_plan()` to branch on.
#[test]
fn a_run_that_departs_from_its_plan_stops_before_the_change_is_sent() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sneaky =
        "if is_known(aws_account_id()) {\n    s3_ensure_bucket(\"mtls-unplanned-bucket\");\n}\n";
    std::fs::write(dir.join("sneaky.rhai"), sneaky).unwrap();
    std::fs::write(
        dir.join("mode.rhai"),
        "if !is_plan() { s3_ensure_bucket(\"mtls-unplanned-bucket\"); }\n",
    )
    .unwrap();

    let out = mtls_tty(dir, &["run", "sneaky.rhai"], &moto.env(), "");
    assert_eq!(out.status.code(), Some(1), "{}", out.screen);
    assert!(!out.screen.contains(PROMPT), "{}", out.screen);
    // (The terminal wraps the message: it is looked for in two parts.)
    assert!(
        out.screen
            .contains("stopped before it was sent: create s3 bucket"),
        "{}",
        out.screen
    );
    assert!(
        out.screen
            .contains("unplanned-bucket, which the plan you confirmed did not show"),
        "{}",
        out.screen
    );
    let out = mtls_tty(dir, &["run", "mode.rhai"], &moto.env(), "");
    assert_eq!(out.status.code(), Some(1), "{}", out.screen);
    assert!(out.screen.contains("is_plan"), "{}", out.screen);
    assert_eq!(mutating(&moto), Vec::<String>::new());

    // Without a terminal no plan was confirmed, so none limits the run.
    mtls_piped(dir, &["run", "sneaky.rhai"], &moto.env(), "").success();
    assert!(!mutating(&moto).is_empty());
}

// ---------------------------------------------------------------------------------------
// Colours

#[test]
fn plan_output_never_holds_colour_codes_even_at_a_forced_colour_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let forced: Vec<(String, String)> = [("CLICOLOR_FORCE", "1"), ("FORCE_COLOR", "3")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for format in ["json", "text"] {
        // Standard output is the terminal; standard error goes to a file.
        let err_file = tmp.path().join(format!("stderr-{format}.txt"));
        let line = format!(
            "{} 2>{}",
            mtls_line(&[
                "plan",
                "pki.rhai",
                "--var",
                "domain=api.example.com",
                "--format",
                format
            ]),
            sh_quote(err_file.to_str().unwrap())
        );
        let out = tty(tmp.path(), &line, &forced, "");
        assert!(out.status.success(), "{}", out.screen);
        assert!(
            !out.screen.contains('\x1b'),
            "--format {format}: an escape code on stdout:\n{:?}",
            out.screen
        );
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(&out.screen.replace("\r\n", "\n"))
                .unwrap_or_else(|e| panic!("{e}: {}", out.screen));
            assert_eq!(v["summary"]["create"], 8);
        }
    }
}

#[test]
fn colours_on_standard_error_follow_the_terminal_and_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    // A missing --var: an error report on standard error.
    let args = ["plan", "pki.rhai"];
    let at_terminal = tty(tmp.path(), &mtls_line(&args), &[], "");
    assert_eq!(at_terminal.status.code(), Some(1), "{}", at_terminal.screen);
    assert!(
        at_terminal.screen.contains('\x1b'),
        "no colour at a terminal: {:?}",
        at_terminal.screen
    );

    for no_color in ["1", "0", "false"] {
        let env = [("NO_COLOR".to_string(), no_color.to_string())];
        let out = tty(tmp.path(), &mtls_line(&args), &env, "");
        assert_eq!(out.status.code(), Some(1), "{}", out.screen);
        assert!(out.screen.contains("--var domain="), "{}", out.screen);
        assert!(
            !out.screen.contains('\x1b'),
            "NO_COLOR={no_color}: colour at a terminal: {:?}",
            out.screen
        );
    }

    // Not a terminal: no colour, unless forced.
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(tmp.path())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .env_remove("RUST_LOG");
    let piped = cmd.output().unwrap();
    assert!(!piped.stderr.contains(&0x1b), "{piped:?}");
    let forced = cmd.env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(forced.stderr.contains(&0x1b), "{forced:?}");
    let no_color_wins = cmd.env("NO_COLOR", "1").output().unwrap();
    assert!(!no_color_wins.stderr.contains(&0x1b), "{no_color_wins:?}");
}

// ---------------------------------------------------------------------------------------
// The AWS HTTP client: proxy and trust roots

#[test]
fn aws_calls_go_through_the_https_proxy_of_the_environment() {
    // A "proxy" on loopback that records the request head, then refuses.
    let (port, seen) = one_connection(|mut stream| {
        let head = read_head(&mut stream).unwrap_or_else(|e| format!("(read failed: {e})"));
        let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        head
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut env = offline_aws_env();
    env.push(("HTTPS_PROXY".into(), format!("http://127.0.0.1:{port}")));
    let args = SetupArgs::plan().with_probe().args(&[
        "--refresh",
        "--endpoint-url",
        "https://aws.mtls-test.invalid",
    ]);
    let out = mtls_piped(tmp.path(), &args.to_vec(), &env, "");
    let head = seen
        .join()
        .unwrap()
        .unwrap_or_else(|| panic!("the proxy saw no connection:\n{}", out.all()));
    assert!(
        head.starts_with("CONNECT aws.mtls-test.invalid:443 HTTP/1.1\r\n"),
        "{head:?}\n{}",
        out.all()
    );
    // The proxy refused, so the plan could not be made.
    assert_eq!(out.status.code(), Some(1), "{}", out.all());
}

#[test]
fn aws_calls_trust_the_system_roots() {
    // A CA and a server certificate for localhost, made by mtls itself; and another CA.
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    let other = tmp.path().join("other");
    for dir in [&ours, &other] {
        std::fs::create_dir(dir).unwrap();
        mtls(dir, &["run", "pki.rhai", "--var", "domain=localhost"]).success();
    }
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut chain: Vec<CertificateDer<'static>> = Vec::new();
    for file in ["server.pem", "inca.pem"] {
        chain.extend(
            CertificateDer::pem_file_iter(ours.join(file))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    let key = PrivateKeyDer::from_pem_file(ours.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    );

    // Trusts RootCA.pem as a system root (rustls-native-certs reads SSL_CERT_FILE in place
    // of the system's store): the handshake succeeds and the server sees the request.
    let attempt = |roots: &Path| {
        let config = config.clone();
        let (port, seen) = one_connection(move |stream| {
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let head = read_head(&mut tls).map_err(|e| e.to_string());
            let _ = tls.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            tls.conn.send_close_notify();
            let _ = tls.flush();
            head
        });
        let mut env = offline_aws_env();
        env.push(("SSL_CERT_FILE".into(), roots.display().to_string()));
        env.push(("SSL_CERT_DIR".into(), "/nonexistent/mtls-test/certs".into()));
        let work = tempfile::tempdir().unwrap();
        let endpoint = format!("https://localhost:{port}");
        let args = SetupArgs::plan()
            .with_probe()
            .args(&["--refresh", "--endpoint-url", &endpoint]);
        let out = mtls_piped(work.path(), &args.to_vec(), &env, "");
        let head = seen.join().unwrap();
        (head, out)
    };

    let (head, out) = attempt(&ours.join("RootCA.pem"));
    let head = head.unwrap_or_else(|| panic!("no connection:\n{}", out.all()));
    let head = head.unwrap_or_else(|e| panic!("handshake failed ({e}):\n{}", out.all()));
    // Whichever service the plan reads first, its signed request arrived over the handshake.
    assert!(
        head.ends_with("\r\n\r\n") && head.contains("\r\nauthorization: AWS4-HMAC-SHA256 "),
        "{head:?}"
    );

    // Another CA as the only root: the server certificate is refused, no request is sent.
    let (head, out) = attempt(&other.join("RootCA.pem"));
    let head = head.unwrap_or_else(|| panic!("no connection:\n{}", out.all()));
    assert!(
        head.is_err(),
        "a request went to an untrusted server: {head:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.all());
}
