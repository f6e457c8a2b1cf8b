//! Benchmark: the whole walkthrough (ARTICLE.md steps 1-14) applied by `mtls run setup.rhai`
//! against the same steps done by hand with openssl and the AWS CLI
//! (`benches/setup_awscli.sh`), and a second, no-op `mtls run setup.rhai`, in one run,
//! each against its own fresh moto_server on 127.0.0.1.
//!
//!     cargo bench --bench setup          # ROUNDS=N (default 5), WARMUP=N (default 1), ACM_WAIT=S (default 1)
//!
//! Needs python3 with venv. moto comes from `$MTLS_MOTO_VENV` (as for the tests); the AWS
//! CLI (v1, pinned below) is installed on first use into `$AWSCLI_VENV`, or
//! `awscli-venv` in the cargo target folder.
//!
//! Each round starts two fresh servers (not timed) and times, in alternating order:
//! - `mtls run setup.rhai --var domain=api.example.com --var probe=false` in a fresh folder,
//!   then the same command again in that folder on that server (every step kept);
//! - `bash benches/setup_awscli.sh api.example.com` in a fresh folder.
//!
//! moto turns a requested ACM certificate ISSUED once more than MOTO_ACM_VALIDATION_WAIT
//! (1 s in the test harness) has passed since the request. Both contenders wait for it the
//! same way: DescribeCertificate, and while it is PENDING_VALIDATION, sleep a fifth of the
//! time waited so far (at least 0.25 s, at most 10 s) and ask again (mtls's schedule; the CLI's own `aws acm wait
//! certificate-validated` would sleep 60 s). The number of DescribeCertificate calls each
//! made is printed.
//!
//! After each run the bench checks, from moto's recording, that both contenders made the
//! same changing calls, and that the second mtls run made none. One difference is allowed:
//! mtls creates the API tagged (CreateRestApi, then PutRestApi with the OpenAPI body) where
//! the script makes it with one ImportRestApi.

#[path = "../tests/support/key_scan.rs"]
mod key_scan;
#[path = "../tests/support/moto.rs"]
mod moto;
#[path = "../tests/support/timing.rs"]
mod timing;
#[path = "../tests/support/venv.rs"]
mod venv;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use moto::Moto;

const MTLS: &str = env!("CARGO_BIN_EXE_mtls");
const DOMAIN: &str = "api.example.com";
/// The AWS CLI the script runs (v1: the one that installs from PyPI).
const AWSCLI_REQUIREMENT: &str = "awscli==1.46.2";
/// How many times the script runs `aws` when the certificate is ISSUED at the first poll.
const AWSCLI_CALLS: usize = 16;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target folder: `$CARGO_TARGET_DIR`, else the one this bench binary is in
/// (`<target>/release/deps/setup-<hash>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            crate_dir().join(dir)
        };
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| crate_dir().join("target"))
}

/// The AWS CLI's `aws`, installed into its venv unless it is there already.
fn ensure_awscli() -> PathBuf {
    let venv = std::env::var_os("AWSCLI_VENV")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("awscli-venv"));
    let aws = venv.join("bin").join("aws");
    let marker = venv.join(".mtls-bench-requirement");
    if aws.exists() && std::fs::read_to_string(&marker).ok().as_deref() == Some(AWSCLI_REQUIREMENT)
    {
        return aws;
    }
    eprintln!("installing {AWSCLI_REQUIREMENT} into {}", venv.display());
    let python = std::env::var("MTLS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    check(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "create the awscli venv",
    );
    check(
        Command::new(venv.join("bin").join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            AWSCLI_REQUIREMENT,
        ]),
        "install the AWS CLI with pip",
    );
    std::fs::write(&marker, AWSCLI_REQUIREMENT).expect("write the awscli venv marker");
    aws
}

fn check(command: &mut Command, what: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot {what}: {e}"));
    assert!(
        out.status.success(),
        "cannot {what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `command` to the end and returns its wall time and stdout; panics on failure.
fn timed(command: &mut Command, what: &str) -> (Duration, String) {
    command.stdin(Stdio::null());
    let start = Instant::now();
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn mtls_setup(dir: &Path, moto: &Moto) -> (Duration, String) {
    let mut cmd = Command::new(MTLS);
    cmd.args(mtls_args())
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd.envs(moto.env());
    timed(&mut cmd, "mtls run setup.rhai")
}

fn mtls_args() -> [&'static str; 6] {
    [
        "run",
        "setup.rhai",
        "--var",
        "domain=api.example.com",
        "--var",
        "probe=false",
    ]
}

/// The PKI part alone: `mtls run pki.rhai` (the same keys and certificates as setup.rhai)
/// or the script's openssl commands (`PKI_ONLY=1`), in a fresh folder.
fn pki_only(mtls: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = if mtls {
        let mut cmd = Command::new(MTLS);
        cmd.args(["run", "pki.rhai", "--var", "domain=api.example.com"]);
        cmd
    } else {
        let mut cmd = Command::new("bash");
        cmd.arg(crate_dir().join("benches").join("setup_awscli.sh"))
            .arg(DOMAIN)
            .env("PKI_ONLY", "1")
            .env("PETSTORE_JSON", "unused");
        cmd
    };
    cmd.current_dir(dir.path());
    timed(&mut cmd, "the PKI part").0
}

fn awscli_setup(dir: &Path, moto: &Moto, aws: &Path, petstore: &Path) -> (Duration, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(crate_dir().join("benches").join("setup_awscli.sh"))
        .arg(DOMAIN)
        .current_dir(dir)
        .env("AWS", aws)
        .env("PETSTORE_JSON", petstore)
        // The AWS CLI (v1) reads its region from AWS_DEFAULT_REGION only.
        .env("AWS_DEFAULT_REGION", moto::REGION)
        .env("AWS_PAGER", "");
    cmd.envs(moto.env());
    timed(&mut cmd, "benches/setup_awscli.sh")
}

/// The changing calls moto received, without ids (`PATCH /restapis/{}`,
/// `ImportCertificate`, ...), with how many of each.
fn changing_calls(moto: &Moto) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for call in moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| {
            if let Some(action) = r.rpc_action() {
                return action;
            }
            let mut generic = Vec::new();
            let mut after_id_parent = false;
            for segment in r.path.split('/') {
                if after_id_parent {
                    generic.push("{}");
                } else {
                    generic.push(segment);
                }
                after_id_parent = matches!(segment, "restapis" | "hostedzone" | "domainnames");
            }
            // Only the query parameters that choose the operation (the SDK and the CLI
            // differ in the others, e.g. `x-id`, `failonwarnings=false`).
            let query: Vec<&str> = r
                .query
                .split('&')
                .map(|p| p.split('=').next().unwrap_or(p))
                .filter(|name| matches!(*name, "versioning" | "mode"))
                .collect();
            let joined = generic.join("/");
            let path = joined
                .trim_end_matches('/')
                .replace(moto::ACCOUNT_ID, "{account}");
            if query.is_empty() {
                format!("{} {path}", r.method)
            } else {
                format!("{} {path}?{}", r.method, query.join("&"))
            }
        })
    {
        *calls.entry(call).or_insert(0) += 1;
    }
    calls
}

/// The calls with mtls's way of creating the API (`CreateRestApi` with tags, then
/// `PutRestApi` mode=overwrite with the OpenAPI body) counted as the script's one
/// `ImportRestApi`: the same API, made in two calls instead of one.
fn as_import(mut calls: BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    let (create, put) = ("POST /restapis", "PUT /restapis/{}?mode");
    while calls.get(create).is_some_and(|n| *n > 0) && calls.get(put).is_some_and(|n| *n > 0) {
        for key in [create, put] {
            let n = calls.get_mut(key).unwrap();
            *n -= 1;
            if *n == 0 {
                calls.remove(key);
            }
        }
        *calls.entry("POST /restapis?mode".to_string()).or_insert(0) += 1;
    }
    calls
}

fn describe_certificate_calls(moto: &Moto) -> usize {
    moto.recorded_requests()
        .iter()
        .filter(|r| r.rpc_action().as_deref() == Some("DescribeCertificate"))
        .count()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Round {
    mtls_first: Duration,
    mtls_noop: Duration,
    awscli: Duration,
    mtls_pki: Duration,
    openssl_pki: Duration,
    mtls_describes: usize,
    awscli_describes: usize,
}

fn one_round(round: usize, aws: &Path, petstore: &Path, verbose: bool) -> Round {
    let measure_mtls = || {
        let moto = start_moto();
        let dir = tempfile::tempdir().unwrap();
        let (first, out) = mtls_setup(dir.path(), &moto);
        assert!(out.contains("Applied:"), "unexpected mtls output:\n{out}");
        let describes = describe_certificate_calls(&moto);
        let calls = changing_calls(&moto);
        moto.reset_recording();
        let (noop, out) = mtls_setup(dir.path(), &moto);
        assert!(
            out.contains("Applied: 0 created, 0 updated, 0 replaced"),
            "the second run changed something:\n{out}"
        );
        assert!(
            changing_calls(&moto).is_empty(),
            "the second run made changing calls: {:?}",
            changing_calls(&moto)
        );
        (first, noop, describes, calls)
    };
    let measure_awscli = || {
        let moto = start_moto();
        let dir = tempfile::tempdir().unwrap();
        let (time, _) = awscli_setup(dir.path(), &moto, aws, petstore);
        (
            time,
            describe_certificate_calls(&moto),
            changing_calls(&moto),
        )
    };
    let (m, a, mtls_pki, openssl_pki) = if round % 2 == 0 {
        let m = measure_mtls();
        let a = measure_awscli();
        let p = pki_only(true);
        (m, a, p, pki_only(false))
    } else {
        let a = measure_awscli();
        let m = measure_mtls();
        let o = pki_only(false);
        (m, a, pki_only(true), o)
    };
    let (mtls_first, mtls_noop, mtls_describes, mtls_calls) = m;
    let (awscli, awscli_describes, awscli_calls) = a;
    assert_eq!(
        as_import(mtls_calls.clone()),
        awscli_calls,
        "the contenders made different changing calls (mtls: {mtls_calls:?})"
    );
    if verbose {
        println!("changing calls made by mtls (the script makes the same, with one ImportRestApi for POST /restapis + PUT /restapis/{{}}?mode):");
        for (call, n) in &mtls_calls {
            println!("    {n} x {call}");
        }
    }
    Round {
        mtls_first,
        mtls_noop,
        awscli,
        mtls_pki,
        openssl_pki,
        mtls_describes,
        awscli_describes,
    }
}

/// A fresh moto; `ACM_WAIT=N` sets how many seconds it takes to mark a requested ACM
/// certificate ISSUED (the test harness's 1 by default; 0 leaves only mtls's own time).
fn start_moto() -> Moto {
    let wait = env_number("ACM_WAIT", 1).to_string();
    Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", wait.as_str())])
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rounds = env_number("ROUNDS", 5).max(1);
    let warmup = env_number("WARMUP", 1);
    let aws = ensure_awscli();
    let work = tempfile::tempdir().unwrap();
    let petstore = work.path().join("petstore.json");
    std::fs::write(&petstore, mtls::petstore::openapi_json("PetStore")).unwrap();

    println!("mtls:   {MTLS} {}", mtls_args().join(" "));
    println!(
        "awscli: AWS={} PETSTORE_JSON=petstore.json bash benches/setup_awscli.sh {DOMAIN}",
        aws.display()
    );
    println!("each against a fresh moto_server; {warmup} warm-up round(s), then {rounds} timed");
    for i in 0..warmup {
        one_round(i, &aws, &petstore, i == 0);
    }
    let mut all = Vec::new();
    for i in 0..rounds {
        let r = one_round(i, &aws, &petstore, warmup == 0 && i == 0);
        println!(
            "round {:>2}: mtls {:>6.0} ms  no-op {:>5.0} ms  awscli {:>6.0} ms  | PKI alone: mtls {:>5.0} ms  openssl {:>5.0} ms  | DescribeCertificate calls: mtls {}, awscli {}",
            i + 1,
            ms(r.mtls_first),
            ms(r.mtls_noop),
            ms(r.awscli),
            ms(r.mtls_pki),
            ms(r.openssl_pki),
            r.mtls_describes,
            r.awscli_describes
        );
        all.push(r);
    }
    // `aws --version`: what one CLI invocation costs before it does anything.
    let version = median(
        (0..5)
            .map(|_| timed(Command::new(&aws).arg("--version"), "aws --version").0)
            .collect(),
    );
    let first = median(all.iter().map(|r| r.mtls_first).collect());
    let noop = median(all.iter().map(|r| r.mtls_noop).collect());
    let cli = median(all.iter().map(|r| r.awscli).collect());
    println!("medians over {rounds} rounds:");
    println!("awscli + openssl script:      {:>8.0} ms", ms(cli));
    println!(
        "mtls run setup.rhai:          {:>8.0} ms   ratio mtls/awscli = {:.2}",
        ms(first),
        first.as_secs_f64() / cli.as_secs_f64()
    );
    println!(
        "mtls run setup.rhai (no-op):  {:>8.0} ms   ratio no-op/first = {:.2}",
        ms(noop),
        noop.as_secs_f64() / first.as_secs_f64()
    );
    let mtls_pki = median(all.iter().map(|r| r.mtls_pki).collect());
    let openssl_pki = median(all.iter().map(|r| r.openssl_pki).collect());
    println!("where the time goes (medians; AWS part = whole run - PKI alone):");
    println!(
        "  PKI alone:  mtls run pki.rhai {:>6.0} ms   openssl commands {:>6.0} ms",
        ms(mtls_pki),
        ms(openssl_pki)
    );
    println!(
        "  AWS part:   mtls              {:>6.0} ms   AWS CLI          {:>6.0} ms   ratio {:.2}",
        ms(first.saturating_sub(mtls_pki)),
        ms(cli.saturating_sub(openssl_pki)),
        first.saturating_sub(mtls_pki).as_secs_f64()
            / cli.saturating_sub(openssl_pki).as_secs_f64()
    );
    println!(
        "  aws --version (one CLI start, the script runs {AWSCLI_CALLS}+ of them): {:>5.0} ms",
        ms(version)
    );
}
