//! PKCS#12 client bundles (`pki.rhai` and `issue_clients.rhai` with `--var p12=true`, the
//! `p12_write` primitive), checked by their real readers: `openssl pkcs12` opens them and
//! names AES-256-CBC, PBKDF2 with HMAC-SHA256 and an HMAC-SHA256 MAC; curl presents one
//! (`--cert-type P12`) to the rehearsal gateway. Bundles are 0600 and kept by a re-run; the
//! password is never taken from the command line and never shown.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::cli::{mtls_env_unset, Run};

const PASSWORD: &str = "Zq9-p12-test-passphrase";
const ENV: &str = "MTLS_P12_PASSWORD";

/// `mtls ARGS` in `dir`, with `password` in MTLS_P12_PASSWORD (unset when `None`).
fn mtls(dir: &Path, args: &[&str], password: Option<&str>) -> Run {
    match password {
        Some(p) => mtls_env_unset(dir, args, &[(ENV.into(), p.into())], &[]),
        None => mtls_env_unset(dir, args, &[], &[ENV]),
    }
}

fn pki_p12(dir: &Path, extra: &[&str], password: Option<&str>) -> Run {
    let mut args = vec![
        "run",
        "pki.rhai",
        "--var",
        "domain=api.example.com",
        "--var",
        "p12=true",
    ];
    args.extend_from_slice(extra);
    mtls(dir, &args, password)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `openssl pkcs12 -in FILE -passin env:P12PASS ARGS`: what OpenSSL reads in the bundle.
fn openssl_pkcs12(dir: &Path, file: &str, password: &str, args: &[&str]) -> Run {
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-in", file, "-passin", "env:P12PASS"])
        .args(args)
        .env("P12PASS", password)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Asserts OpenSSL opens `file` with `password` and finds the modern algorithms: both the
/// certificates and the key encrypted with PBES2 (PBKDF2, HMAC-SHA256, AES-256-CBC), and a
/// SHA-256 MAC (what `openssl pkcs12 -export` of OpenSSL 3 writes by default).
#[track_caller]
fn assert_modern(dir: &Path, file: &str, password: &str) {
    let info = openssl_pkcs12(dir, file, password, &["-info", "-noout"]).success();
    let text = info.all();
    for wanted in [
        "MAC: sha256",
        "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC",
        "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC",
        "PRF hmacWithSHA256",
    ] {
        assert!(text.contains(wanted), "{file}: no {wanted:?} in:\n{text}");
    }
    assert!(!text.contains("RC2") && !text.contains("3DES"), "{text}");
    let wrong = openssl_pkcs12(dir, file, "another password", &["-info", "-noout"]);
    assert!(
        !wrong.status.success() && wrong.all().contains("Mac verify error"),
        "{file} opened with a wrong password: {}",
        wrong.all()
    );
}

#[test]
fn pki_writes_a_client_p12_openssl_reads_with_the_pair_inside() {
    let dir = tempfile::tempdir().unwrap();
    let run = pki_p12(dir.path(), &[], Some(PASSWORD)).success();
    assert!(run.all().contains("client.p12"), "{}", run.all());
    let p12 = dir.path().join("client.p12");
    assert_eq!(mode(&p12), 0o600);
    assert_modern(dir.path(), "client.p12", PASSWORD);

    // The bundle holds client.pem, its key and the root, under the client's CN.
    let certs = openssl_pkcs12(dir.path(), "client.p12", PASSWORD, &["-nokeys"]).success();
    let client = std::fs::read_to_string(dir.path().join("client.pem")).unwrap();
    let root = std::fs::read_to_string(dir.path().join("RootCA.pem")).unwrap();
    for (what, pem) in [("client.pem", &client), ("RootCA.pem", &root)] {
        assert!(
            certs.stdout.replace("\r", "").contains(pem.trim()),
            "{what} is not in the bundle:\n{}",
            certs.stdout
        );
    }
    let key = openssl_pkcs12(dir.path(), "client.p12", PASSWORD, &["-nocerts", "-nodes"]).success();
    assert!(
        key.stdout.contains("friendlyName: mtls client"),
        "{}",
        key.stdout
    );
    let pub_of = |input: &str| {
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-pubout"])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(input.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let client_key = std::fs::read_to_string(dir.path().join("client.key")).unwrap();
    assert_eq!(pub_of(&key.stdout), pub_of(&client_key));
    assert!(pub_of(&client_key).contains("PUBLIC KEY"));
}

#[test]
fn a_rerun_keeps_the_bundle_and_another_password_rewrites_it() {
    let dir = tempfile::tempdir().unwrap();
    pki_p12(dir.path(), &[], Some(PASSWORD)).success();
    let p12 = dir.path().join("client.p12");
    let before = std::fs::read(&p12).unwrap();
    let plan = mtls(
        dir.path(),
        &[
            "plan",
            "pki.rhai",
            "--var",
            "domain=api.example.com",
            "--var",
            "p12=true",
        ],
        Some(PASSWORD),
    )
    .success();
    assert!(
        plan.stdout.contains("= pkcs12 bundle"),
        "the bundle is not kept:\n{}",
        plan.stdout
    );
    pki_p12(dir.path(), &[], Some(PASSWORD)).success();
    assert_eq!(std::fs::read(&p12).unwrap(), before, "a re-run rewrote it");

    // Another password: the old file does not open with it, so it is written again.
    let run = pki_p12(dir.path(), &[], Some("a new passphrase")).success();
    assert!(
        run.all().contains("does not open with this password"),
        "{}",
        run.all()
    );
    assert_ne!(std::fs::read(&p12).unwrap(), before);
    assert_eq!(mode(&p12), 0o600);
    assert_modern(dir.path(), "client.p12", "a new passphrase");

    // A bundle others may read is written again, 0600.
    std::fs::set_permissions(&p12, std::fs::Permissions::from_mode(0o644)).unwrap();
    pki_p12(dir.path(), &[], Some("a new passphrase")).success();
    assert_eq!(mode(&p12), 0o600);
}

#[test]
fn a_fleet_gets_a_bundle_per_device_kept_by_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("p12.pass");
    std::fs::write(&pass, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let fleet = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "issue_clients.rhai",
            "--var",
            "count=3",
            "--var",
            "prefix=clients/device-",
            "--var",
            "ca_algorithm=ecdsa-p256",
        ];
        args.extend_from_slice(extra);
        mtls(dir.path(), &args, None).success()
    };
    // First without bundles, then with: the kept pairs get theirs.
    fleet(&[]);
    let p12_args = ["--var", "p12=true", "--var", "p12_password_file=p12.pass"];
    let run = fleet(&p12_args);
    assert!(run.all().contains("pkcs12 bundle"), "{}", run.all());
    let clients = dir.path().join("clients");
    let mut bundles = Vec::new();
    for n in 1..=3 {
        let file = format!("device-{n}.p12");
        assert_eq!(mode(&clients.join(&file)), 0o600, "{file}");
        assert_modern(&clients, &file, PASSWORD);
        let key = openssl_pkcs12(&clients, &file, PASSWORD, &["-nocerts", "-nodes"]).success();
        assert!(
            key.stdout.contains(&format!("friendlyName: device-{n}")),
            "{}",
            key.stdout
        );
        bundles.push(std::fs::read(clients.join(&file)).unwrap());
    }
    // A larger fleet: three kept, one made, with its bundle.
    let run = fleet(&[
        "--var",
        "count=4",
        "--var",
        "p12=true",
        "--var",
        "p12_password_file=p12.pass",
    ]);
    assert!(run.all().contains("(1 missing)"), "{}", run.all());
    for n in 1..=3 {
        let now = std::fs::read(clients.join(format!("device-{n}.p12"))).unwrap();
        assert_eq!(now, bundles[n - 1], "device-{n}.p12 was rewritten");
    }
    assert_modern(&clients, "device-4.p12", PASSWORD);
    assert!(
        !names(&clients).iter().any(|n| n.ends_with(".tmp")),
        "{:?}",
        names(&clients)
    );
}

#[test]
fn a_new_ca_its_fleet_and_their_bundles_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "issue_clients.rhai",
        "--var",
        "count=2",
        "--var",
        "ca_algorithm=ecdsa-p256",
        "--var",
        "p12=true",
    ];
    let run = mtls(dir.path(), &args, Some(PASSWORD)).success();
    assert!(
        run.all()
            .contains("pkcs12 bundle device-1.p12..device-2.p12 (2 missing)"),
        "{}",
        run.all()
    );
    for n in 1..=2 {
        assert_modern(dir.path(), &format!("device-{n}.p12"), PASSWORD);
    }
    let again = mtls(dir.path(), &args, Some(PASSWORD)).success();
    assert!(again.all().contains("No changes"), "{}", again.all());
}

#[tokio::test]
async fn curl_presents_the_bundle_to_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    pki_p12(dir.path(), &[], Some(PASSWORD)).success();
    let path = |n: &str| dir.path().join(n);
    let gateway = mtls::gateway::Gateway::start(&mtls::gateway::ServeConfig {
        cert: path("server.pem"),
        key: path("server.key"),
        chain: Some(path("inca.pem")),
        truststore: path("RootCA.pem"),
        listen: "127.0.0.1:0".parse().unwrap(),
        crl: None,
    })
    .await
    .expect("start the gateway");
    let port = gateway.local_addr().port();
    let args = vec![
        "--silent".to_string(),
        "--show-error".into(),
        "--max-time".into(),
        "10".into(),
        "--cacert".into(),
        path("RootCA.pem").display().to_string(),
        "--resolve".into(),
        format!("api.example.com:{port}:127.0.0.1"),
        "--cert-type".into(),
        "P12".into(),
        "--cert".into(),
        format!("{}:{PASSWORD}", path("client.p12").display()),
        "--write-out".into(),
        "\n%{http_code}".into(),
        format!("https://api.example.com:{port}/pets"),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .output()
            .expect("run curl")
    })
    .await
    .unwrap();
    gateway.shutdown().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, status) = stdout.rsplit_once('\n').unwrap();
    assert_eq!(status, "200", "{stdout}");
    assert!(body.contains("\"type\":\"dog\""), "{body}");
}

#[test]
fn a_password_file_others_may_read_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("p12.pass");
    std::fs::write(&pass, PASSWORD).unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = pki_p12(dir.path(), &["--var", "p12_password_file=p12.pass"], None).failure();
    let text = run.all();
    assert!(text.contains("others may read it (mode 0644)"), "{text}");
    assert!(text.contains("chmod 600 p12.pass"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert_eq!(names(dir.path()), ["p12.pass"], "files were written");
}

#[test]
fn a_password_on_the_command_line_is_refused_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    for var in ["p12_password", "P12_PASSWORD", "db password"] {
        let run = pki_p12(
            dir.path(),
            &["--var", &format!("{var}={PASSWORD}")],
            Some(PASSWORD),
        )
        .failure();
        let text = run.all();
        assert!(
            text.contains("a password is never taken on the command line"),
            "{var}: {text}"
        );
        assert!(
            text.contains(ENV) && text.contains("p12_password_file"),
            "{text}"
        );
        assert!(
            !text.contains(PASSWORD),
            "{var}: the password was echoed: {text}"
        );
    }
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn a_missing_or_empty_password_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let missing = pki_p12(dir.path(), &[], None).failure();
    assert!(
        missing
            .all()
            .contains("MTLS_P12_PASSWORD cannot be used: it is not set"),
        "{}",
        missing.all()
    );
    let empty = pki_p12(dir.path(), &[], Some("")).failure();
    assert!(empty.all().contains("it is empty"), "{}", empty.all());
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn the_password_is_in_no_plan_no_json_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["--var", "domain=api.example.com", "--var", "p12=true"];
    let plan = mtls(
        dir.path(),
        &[&["plan", "pki.rhai"][..], &base].concat(),
        Some(PASSWORD),
    )
    .success();
    assert!(plan.stdout.contains("+ pkcs12 bundle"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("password   = \"environment MTLS_P12_PASSWORD\""),
        "{}",
        plan.stdout
    );
    let json = mtls(
        dir.path(),
        &[&["plan", "pki.rhai", "--format", "json"][..], &base].concat(),
        Some(PASSWORD),
    )
    .success();
    let run = mtls(
        dir.path(),
        &[&["run", "pki.rhai", "-v"][..], &base].concat(),
        Some(PASSWORD),
    )
    .success();
    let rerun = mtls(
        dir.path(),
        &[&["run", "pki.rhai", "--format", "json"][..], &base].concat(),
        Some(PASSWORD),
    )
    .success();
    for (what, out) in [
        ("plan", &plan),
        ("json plan", &json),
        ("run", &run),
        ("re-run", &rerun),
    ] {
        assert!(
            !out.all().contains(PASSWORD),
            "{what} shows the password:\n{}",
            out.all()
        );
    }
    assert!(json.stdout.contains("pkcs12 bundle"), "{}", json.stdout);
}
