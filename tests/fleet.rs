//! Client fleets (`issue_clients.rhai`) and device requests (`sign_csr.rhai`), checked with
//! openssl: 10,000 certificates verified by sample, serials distinct in the manifest and in
//! the files, keys 0600, re-runs that keep everything, a kill -9 that a re-run repairs, and
//! CSRs made by `openssl req` (good, weak, tampered, asking to be a CA).

use crate::support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::cli::{openssl, Run};

/// A private copy of the binary under test, made once: other builds sharing the target
/// folder may replace `target/debug/mtls` while these long tests run.
fn mtls_bin() -> &'static Path {
    static BIN: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    &BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("mtls");
        std::fs::copy(env!("CARGO_BIN_EXE_mtls"), &bin).unwrap();
        let out = Command::new(&bin).arg("functions").output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("issue_clients"),
            "{} is not this build (another build replaced it): run the tests again",
            env!("CARGO_BIN_EXE_mtls")
        );
        (dir, bin)
    })
    .1
}

/// Runs the pinned `mtls ARGS` in `cwd`, without colours.
fn mtls(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(mtls_bin())
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run mtls");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `dir` (relative name -> modification time and contents).
fn snapshot(dir: &Path) -> BTreeMap<String, (std::time::SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.insert(
                    rel,
                    (meta.modified().unwrap(), std::fs::read(e.path()).unwrap()),
                );
            }
        }
    }
    out
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The manifest's CSV rows: name -> (serial, sha256, not_after).
fn manifest_csv(path: &Path) -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("name,serial,sha256,not_after,revoked"));
    let mut rows = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let dup = rows.insert(
            f[0].to_string(),
            (f[1].to_string(), f[2].to_string(), f[3].to_string()),
        );
        assert!(dup.is_none(), "{} listed twice", f[0]);
    }
    rows
}

/// `mtls run issue_clients.rhai` with an ECDSA P-256 root made on first use.
fn fleet(dir: &Path, extra: &[&str]) -> support::cli::Run {
    let mut args = vec![
        "run",
        "issue_clients.rhai",
        "--var",
        "ca_algorithm=ecdsa-p256",
    ];
    args.extend_from_slice(extra);
    mtls(dir, &args)
}

/// Asserts that `STEM.pem` certifies the key in `STEM.key` (openssl reads both).
fn assert_certifies(dir: &Path, stem: &str) {
    let cert_pub = openssl(
        dir,
        &["x509", "-in", &format!("{stem}.pem"), "-noout", "-pubkey"],
    )
    .success()
    .stdout;
    let key_pub = openssl(dir, &["pkey", "-in", &format!("{stem}.key"), "-pubout"])
        .success()
        .stdout;
    assert_eq!(
        cert_pub, key_pub,
        "{stem}.pem is not for the key in {stem}.key"
    );
}

/// Verifies `certs` (paths relative to `dir`) against RootCA.pem as client certificates.
fn verify(dir: &Path, certs: &[String]) {
    let mut args = vec![
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        "RootCA.pem",
    ];
    args.extend(certs.iter().map(String::as_str));
    let run = openssl(dir, &args).success();
    assert_eq!(
        run.stdout.matches(": OK").count(),
        certs.len(),
        "{}",
        run.all()
    );
}

#[cfg(unix)]
#[test]
fn ten_thousand_clients_verify_with_distinct_serials_and_rerun_keeps_them() {
    const N: usize = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = fleet(dir, &["--var", "count=10000", "--var", "prefix=device-"]).success();
    assert!(
        run.all()
            .contains("+ created client certificates device-1..device-10000"),
        "{}",
        run.all()
    );

    // A sample of a few hundred (every 37th, the first and the last), verified by openssl.
    let mut sample: Vec<usize> = (1..=N).step_by(37).collect();
    sample.push(N);
    let sample_files: Vec<String> = sample.iter().map(|n| format!("device-{n}.pem")).collect();
    assert!(sample_files.len() > 250);
    verify(dir, &sample_files);

    // Every key 0600 and every pair complete; nothing else but the CA and the manifest.
    let names: HashSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2 * N + 4, "unexpected files");
    for n in 1..=N {
        let key = dir.join(format!("device-{n}.key"));
        assert_eq!(mode(&key), 0o600, "{}", key.display());
        assert!(names.contains(&format!("device-{n}.pem")));
    }

    // The manifest (CSV and JSON) agrees with the files; serials distinct in both.
    let csv = manifest_csv(&dir.join("device-manifest.csv"));
    assert_eq!(csv.len(), N);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("device-manifest.json")).unwrap())
            .unwrap();
    let json = json.as_array().unwrap();
    assert_eq!(json.len(), N);
    let mut file_serials = HashSet::new();
    let mut manifest_serials = HashSet::new();
    for (i, entry) in json.iter().enumerate() {
        let name = entry["name"].as_str().unwrap();
        assert_eq!(name, format!("device-{}", i + 1), "manifest in order");
        let (serial, sha256, not_after) = &csv[name];
        assert_eq!(entry["serial"].as_str().unwrap(), serial);
        assert_eq!(entry["sha256"].as_str().unwrap(), sha256);
        assert_eq!(entry["not_after"].as_str().unwrap(), not_after);
        let pem = std::fs::read_to_string(dir.join(format!("{name}.pem"))).unwrap();
        let info = mtls::pki::ParsedCert::from_pem(name, &pem)
            .unwrap()
            .info()
            .unwrap();
        assert_eq!(&info.serial, serial, "{name}");
        assert_eq!(&info.sha256, sha256, "{name}");
        assert_eq!(&info.not_after, not_after, "{name}");
        assert_eq!(info.subject, format!("CN={name}"));
        assert_eq!(info.extended_key_usage, ["clientAuth"]);
        assert_eq!(info.key_algorithm, "ECDSA P-256");
        assert!(!info.is_ca);
        file_serials.insert(info.serial);
        manifest_serials.insert(serial.clone());
    }
    assert_eq!(file_serials.len(), N, "serials read from the files repeat");
    assert_eq!(manifest_serials.len(), N, "serials in the manifest repeat");
    // openssl reads the same serial and fingerprint as the manifest, and the key is the
    // certificate's.
    for n in [1, 5000, N] {
        let name = format!("device-{n}");
        let out = openssl(
            dir,
            &[
                "x509",
                "-in",
                &format!("{name}.pem"),
                "-noout",
                "-serial",
                "-fingerprint",
                "-sha256",
            ],
        )
        .success()
        .stdout;
        assert!(out.contains(&format!("serial={}", csv[&name].0)), "{out}");
        assert!(out.contains(&csv[&name].1), "{out}");
        assert_certifies(dir, &name);
    }

    // The same run again keeps every file as it is (contents and modification times).
    let before = snapshot(dir);
    let again = fleet(dir, &["--var", "count=10000", "--var", "prefix=device-"]).success();
    assert!(
        again.all().contains("No changes"),
        "a re-run changed something:\n{}",
        again.all()
    );
    assert!(snapshot(dir) == before, "a re-run touched files");

    // A larger count adds only the missing pairs (and updates the manifest).
    let more = fleet(dir, &["--var", "count=10050", "--var", "prefix=device-"]).success();
    assert!(more.all().contains("(50 missing)"), "{}", more.all());
    let after = snapshot(dir);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed.len(), 100 + 2, "{changed:?}");
    assert!(changed.iter().all(|n| {
        n.starts_with("device-manifest.")
            || n.trim_start_matches("device-")
                .split('.')
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
                > N
    }));
    assert_eq!(manifest_csv(&dir.join("device-manifest.csv")).len(), N + 50);
    verify(dir, &["device-10001.pem".into(), "device-10050.pem".into()]);
}

#[test]
fn plan_is_one_summarised_action_offline_without_key_material() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=3"]).success();
    let run = mtls(
        dir,
        &[
            "plan",
            "issue_clients.rhai",
            "--var",
            "count=10000",
            "--var",
            "prefix=device-",
        ],
    )
    .success();
    let out = run.all();
    assert_eq!(
        out.matches("client certificates").count(),
        1,
        "one action for the fleet:\n{out}"
    );
    assert!(out.contains("device-1..device-10000"), "{out}");
    assert!(out.contains("(9997 missing)"), "{out}");
    assert!(out.contains("keep      = \"3\""), "{out}");
    assert!(
        out.lines().count() < 60,
        "the plan lists files one by one:\n{out}"
    );
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    for n in 1..=3 {
        let key = std::fs::read_to_string(dir.join(format!("device-{n}.key"))).unwrap();
        let middle = key.lines().nth(1).unwrap();
        assert!(!out.contains(middle), "key material in the plan");
    }
    assert!(
        !dir.join("device-4.pem").exists(),
        "a plan wrote a certificate"
    );
}

#[test]
fn bad_count_prefix_algorithm_or_days_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=3"]).success();
    let before = snapshot(dir);
    let cases: [(&[&str], &str); 10] = [
        (&["--var", "count=0"], "out of range"),
        (&["--var", "count=1000001"], "out of range"),
        (&["--var", "count=ten"], "not a whole number"),
        (&["--var", "count=5", "--var", "prefix=../up-"], "prefix"),
        (&["--var", "count=5", "--var", "prefix=/etc/dev-"], "prefix"),
        (
            &["--var", "count=5", "--var", "prefix=a/.hidden-"],
            "starts with a dot",
        ),
        (
            &["--var", "count=5", "--var", "prefix=dev ice-"],
            "not allowed",
        ),
        (
            &["--var", "count=5", "--var", "prefix=clients/"],
            "empty part",
        ),
        (
            &["--var", "count=5", "--var", "algorithm=dsa"],
            "unknown key algorithm",
        ),
        (&["--var", "count=5", "--var", "days=0"], "out of range"),
    ];
    for (args, message) in cases {
        let run = fleet(dir, args).failure();
        assert!(run.all().contains(message), "{args:?}: {}", run.all());
        assert!(snapshot(dir) == before, "{args:?} changed files");
    }
}

#[cfg(unix)]
#[test]
fn damaged_or_mismatched_pairs_are_named_and_force_replaces_only_those() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=12"]).success();
    std::fs::write(dir.join("device-5.pem"), "not a certificate\n").unwrap();
    // device-7 gets device-8's key: a pair whose key is not the certificate's.
    std::fs::copy(dir.join("device-8.key"), dir.join("device-7.key")).unwrap();
    let before = snapshot(dir);

    let run = fleet(dir, &["--var", "count=12"]).failure();
    assert!(run.all().contains("device-5.pem"), "{}", run.all());
    assert!(snapshot(dir) == before);
    std::fs::copy(dir.join("device-4.pem"), dir.join("device-5.pem")).unwrap();
    let run = fleet(dir, &["--var", "count=12"]).failure();
    assert!(
        run.all().contains("device-5.key") && run.all().contains("device-5.pem"),
        "{}",
        run.all()
    );
    let before = snapshot(dir);

    let run = fleet(dir, &["--var", "count=12", "--force"]).success();
    assert!(run.all().contains("2 cannot be kept"), "{}", run.all());
    let after = snapshot(dir);
    for (name, v) in &before {
        let replaced = ["device-5.", "device-7."]
            .iter()
            .any(|p| name.starts_with(p))
            || name.starts_with("device-manifest");
        assert_eq!(after[name] != *v, replaced, "{name}");
    }
    verify(dir, &["device-5.pem".into(), "device-7.pem".into()]);
    // The repaired pairs match, and the run after that keeps everything.
    for name in ["device-5", "device-7"] {
        assert_certifies(dir, name);
        assert_eq!(mode(&dir.join(format!("{name}.key"))), 0o600);
    }
    assert!(fleet(dir, &["--var", "count=12"])
        .success()
        .all()
        .contains("No changes"));
}

#[cfg(unix)]
#[test]
fn rsa_clients_in_a_folder_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(
        dir,
        &[
            "--var",
            "count=3",
            "--var",
            "prefix=clients/dev-",
            "--var",
            "algorithm=rsa2048",
        ],
    )
    .success();
    assert_eq!(mode(&dir.join("clients")), 0o700);
    for n in 1..=3 {
        assert_eq!(mode(&dir.join(format!("clients/dev-{n}.key"))), 0o600);
        let text = openssl(
            dir,
            &[
                "pkey",
                "-in",
                &format!("clients/dev-{n}.key"),
                "-noout",
                "-text",
            ],
        )
        .success()
        .stdout;
        assert!(text.contains("2048 bit"), "{text}");
    }
    verify(
        dir,
        &(1..=3)
            .map(|n| format!("clients/dev-{n}.pem"))
            .collect::<Vec<_>>(),
    );
    assert_eq!(manifest_csv(&dir.join("clients/dev-manifest.csv")).len(), 3);
}

/// Returns as soon as the batch of `child` has written its first temporary files (more than
/// 20), so that an interruption lands in the middle of it.
#[cfg(unix)]
fn wait_until_the_batch_writes(dir: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let writing = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        if writing > 20 {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "the run never started writing");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(unix)]
#[test]
fn kill_9_in_the_middle_then_a_rerun_converges() {
    const N: usize = 6000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=1"]).success();
    let mut child = Command::new(mtls_bin())
        .args(["run", "issue_clients.rhai", "--var", &format!("count={N}")])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_the_batch_writes(dir, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let pems = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name();
                let n = n.to_string_lossy();
                n.starts_with("device-") && n.ends_with(".pem")
            })
            .count()
    };
    assert!(pems(dir) < N, "killed after the run had finished");
    assert_eq!(
        manifest_csv(&dir.join("device-manifest.csv")).len(),
        1,
        "the manifest is only written once every pair is"
    );

    let run = mtls(
        dir,
        &["run", "issue_clients.rhai", "--var", &format!("count={N}")],
    )
    .success();
    assert!(run.all().contains("client certificates"), "{}", run.all());
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files left"
    );
    for n in &names {
        assert!(
            std::fs::metadata(dir.join(n)).unwrap().len() > 0,
            "{n} is empty"
        );
    }
    assert_eq!(names.len(), 2 * N + 4);
    assert_eq!(manifest_csv(&dir.join("device-manifest.csv")).len(), N);
    let sample: Vec<String> = (1..=N)
        .step_by(97)
        .map(|n| format!("device-{n}.pem"))
        .collect();
    verify(dir, &sample);
    let again = mtls(
        dir,
        &["run", "issue_clients.rhai", "--var", &format!("count={N}")],
    )
    .success();
    assert!(again.all().contains("No changes"), "{}", again.all());
}

// ---------------------------------------------------------------------------------------
// sign_csr

/// A folder with an ECDSA P-256 root CA made by mtls.
fn ca_folder() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ca.rhai"),
        "gen_root_ca(#{ algorithm: \"ecdsa-p256\" });\n",
    )
    .unwrap();
    mtls(tmp.path(), &["run", "ca.rhai"]).success();
    tmp
}

fn request(dir: &Path, name: &str, newkey: &[&str], extra: &[&str]) {
    let mut args = vec!["req", "-new", "-nodes"];
    args.extend_from_slice(newkey);
    let (key, csr, subj) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("/CN={name}"),
    );
    args.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subj]);
    args.extend_from_slice(extra);
    openssl(dir, &args).success();
}

const P256: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

#[test]
fn a_good_request_is_signed_with_the_client_profile_only() {
    let tmp = ca_folder();
    let dir = tmp.path();
    request(
        dir,
        "device-a",
        &P256,
        &[
            "-addext",
            "subjectAltName=DNS:device-a.example.com",
            // Asked for, not honoured: the client profile decides.
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "keyUsage=keyCertSign,digitalSignature",
        ],
    );
    let run = mtls(
        dir,
        &[
            "run",
            "sign_csr.rhai",
            "--var",
            "csr=device-a.csr",
            "--var",
            "days=30",
        ],
    )
    .success();
    assert!(
        run.all().contains("+ created certificate device-a.pem"),
        "{}",
        run.all()
    );
    verify(dir, &["device-a.pem".into()]);
    let text = openssl(dir, &["x509", "-in", "device-a.pem", "-noout", "-text"])
        .success()
        .stdout;
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(!text.contains("TLS Web Server Authentication"), "{text}");
    assert!(!text.contains("Certificate Sign"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("DNS:device-a.example.com"), "{text}");
    assert!(text.contains("Subject: CN = device-a"), "{text}");
    assert_certifies(dir, "device-a");
    // 30 days: openssl says it expires within 31 days, not within 29.
    for (secs, expires) in [(31 * 86400, true), (29 * 86400, false)] {
        let run = openssl(
            dir,
            &[
                "x509",
                "-in",
                "device-a.pem",
                "-noout",
                "-checkend",
                &secs.to_string(),
            ],
        );
        assert_eq!(!run.status.success(), expires, "{secs}: {}", run.all());
    }

    let before = snapshot(dir);
    let again = mtls(
        dir,
        &[
            "run",
            "sign_csr.rhai",
            "--var",
            "csr=device-a.csr",
            "--var",
            "days=30",
        ],
    )
    .success();
    assert!(again.all().contains("No changes"), "{}", again.all());
    assert!(snapshot(dir) == before);
}

#[test]
fn weak_tampered_ca_and_odd_key_requests_are_refused_and_write_nothing() {
    use base64::Engine as _;
    let tmp = ca_folder();
    let dir = tmp.path();
    request(dir, "weak", &["-newkey", "rsa:1024"], &[]);
    request(
        dir,
        "ca",
        &P256,
        &["-addext", "basicConstraints=critical,CA:TRUE"],
    );
    request(dir, "ed", &["-newkey", "ed25519"], &[]);
    request(
        dir,
        "k1",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
        &[],
    );
    request(dir, "good", &P256, &[]);
    // Tampered: one letter of the signed subject changed (good -> goof), signature kept.
    let out = Command::new("openssl")
        .args(["req", "-in", "good.csr", "-outform", "DER"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut bytes = out.stdout;
    let at = bytes.windows(4).position(|w| w == b"good").unwrap();
    bytes[at + 3] = b'f';
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        dir.join("tampered.csr"),
        format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    // openssl agrees the tampered request does not verify, and that the good one does
    // (OpenSSL 3.0 exits 0 either way: read what it says).
    let says = |csr: &str| openssl(dir, &["req", "-in", csr, "-verify", "-noout"]).all();
    assert!(says("tampered.csr").contains("verify failure"));
    assert!(says("good.csr").contains("verify OK"));

    let before = snapshot(dir);
    for (name, message) in [
        ("weak", "1024 bits"),
        ("tampered", "signature does not verify"),
        ("ca", "asks to be a CA"),
        ("ed", "not RSA or ECDSA"),
        ("k1", "not P-256 or P-384"),
    ] {
        let csr = format!("csr={name}.csr");
        let run = mtls(dir, &["run", "sign_csr.rhai", "--var", &csr]).failure();
        assert!(run.all().contains(message), "{name}: {}", run.all());
        assert!(
            run.all().contains(&format!("{name}.csr")),
            "{name}: {}",
            run.all()
        );
        assert!(snapshot(dir) == before, "{name}: files changed");
    }
    // The good one is signed: the checks above are not refusing everything.
    mtls(dir, &["run", "sign_csr.rhai", "--var", "csr=good.csr"]).success();
    verify(dir, &["good.pem".into()]);
}

/// Two runs for the same fleet at once: the second waits for the first (a lock per folder
/// and prefix; without it both failed, each finding the other's files), then keeps what it
/// made. Both succeed, and exactly the asked pairs exist, every one a key and its
/// certificate, with no temporary file.
#[cfg(unix)]
#[test]
fn two_runs_at_once_both_succeed_the_second_after_the_first() {
    const N: usize = 3000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=1"]).success();
    let count = format!("count={N}");
    let start = || {
        Command::new(mtls_bin())
            .args(["run", "issue_clients.rhai", "--var", &count])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
    }
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files left: {names:?}"
    );
    assert_eq!(names.len(), 2 * N + 4, "{names:?}");
    assert_eq!(manifest_csv(&dir.join("device-manifest.csv")).len(), N);
    let sample: Vec<String> = (1..=N)
        .step_by(61)
        .map(|n| format!("device-{n}.pem"))
        .collect();
    verify(dir, &sample);
    // Every key belongs to its certificate (a re-run checks each pair and changes nothing).
    let again = mtls(dir, &["run", "issue_clients.rhai", "--var", &count]).success();
    assert!(again.all().contains("No changes"), "{}", again.all());
}

/// Ctrl-C while the batch writes: the run stops with the interrupted error, removes every
/// temporary file it made, names no pair it did not finish (the manifest is untouched), and
/// the next run makes the rest.
#[cfg(unix)]
#[test]
fn ctrl_c_in_the_middle_leaves_no_temporary_file_and_a_rerun_converges() {
    const N: usize = 6000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=1"]).success();
    let before = snapshot(dir);
    let mut child = Command::new(mtls_bin())
        .args(["run", "issue_clients.rhai", "--var", &format!("count={N}")])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_the_batch_writes(dir, &mut child);
    // SAFETY: kill(2) with the pid of a child not yet waited for.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "the run finished before Ctrl-C: {text}"
    );
    assert!(text.contains("interrupted"), "{text}");
    assert!(
        snapshot(dir) == before,
        "an interrupted batch changed the folder (temporary files or pairs left)"
    );

    let run = fleet(dir, &["--var", &format!("count={N}")]).success();
    assert!(
        run.all().contains(&format!("create {}", N - 1)),
        "{}",
        run.all()
    );
    assert_eq!(manifest_csv(&dir.join("device-manifest.csv")).len(), N);
    let sample: Vec<String> = (1..=N)
        .step_by(149)
        .map(|n| format!("device-{n}.pem"))
        .collect();
    verify(dir, &sample);
}

/// `--var ca=inca`: the fleet is signed by an existing intermediate CA, whose chain openssl
/// accepts up to the root; the root's key is never needed.
#[cfg(unix)]
#[test]
fn a_fleet_signed_by_an_intermediate_named_with_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("cas.rhai"),
        "let root = gen_root_ca(#{ algorithm: \"ecdsa-p256\" });\n\
         gen_intermediate_ca(root, #{ algorithm: \"ecdsa-p256\" });\n",
    )
    .unwrap();
    mtls(dir, &["run", "cas.rhai"]).success();
    // The fleet must not read the root's key: it is not even there.
    std::fs::rename(dir.join("RootCA.key"), dir.join("elsewhere.key")).unwrap();

    let run = mtls(
        dir,
        &[
            "run",
            "issue_clients.rhai",
            "--var",
            "count=5",
            "--var",
            "ca=inca",
        ],
    )
    .success();
    assert!(run.all().contains("create 5"), "{}", run.all());
    let certs: Vec<String> = (1..=5).map(|n| format!("device-{n}.pem")).collect();
    let mut args = vec![
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        "RootCA.pem",
        "-untrusted",
        "inca.pem",
    ];
    args.extend(certs.iter().map(String::as_str));
    let out = openssl(dir, &args).success();
    assert_eq!(out.stdout.matches(": OK").count(), 5, "{}", out.all());
    // Without the intermediate, the root alone does not verify them: inca signed them.
    let alone = openssl(dir, &["verify", "-CAfile", "RootCA.pem", "device-1.pem"]);
    assert!(!alone.status.success(), "{}", alone.all());
    let issuer = openssl(dir, &["x509", "-in", "device-1.pem", "-noout", "-issuer"])
        .success()
        .stdout;
    assert!(issuer.contains("mtls intermediate CA"), "{issuer}");
    // A CA that does not exist is an error naming it, before anything is written.
    let before = snapshot(dir);
    let run = mtls(
        dir,
        &[
            "run",
            "issue_clients.rhai",
            "--var",
            "count=5",
            "--var",
            "prefix=other-",
            "--var",
            "ca=nosuch",
        ],
    )
    .failure();
    assert!(run.all().contains("nosuch"), "{}", run.all());
    assert!(snapshot(dir) == before);
}

/// `sign_csr --force` re-signs: a new serial for the same device key, and a certificate
/// from another CA at the path, refused without --force, is replaced with it.
#[test]
fn sign_csr_force_re_signs_and_replaces_a_certificate_of_another_ca() {
    let tmp = ca_folder();
    let dir = tmp.path();
    request(dir, "device-b", &P256, &[]);
    let sign = |extra: &[&str]| {
        let mut args = vec!["run", "sign_csr.rhai", "--var", "csr=device-b.csr"];
        args.extend_from_slice(extra);
        mtls(dir, &args)
    };
    let serial = || {
        openssl(dir, &["x509", "-in", "device-b.pem", "-noout", "-serial"])
            .success()
            .stdout
    };
    sign(&[]).success();
    let first = serial();

    let run = sign(&["--force"]).success();
    assert!(run.all().contains("device-b.pem"), "{}", run.all());
    let second = serial();
    assert_ne!(first, second, "--force kept the old certificate");
    verify(dir, &["device-b.pem".into()]);
    assert_certifies(dir, "device-b");

    // A certificate for the same key from another CA (openssl's own self-made root).
    support::cli::self_signed_p256(dir, "other", "/CN=other CA", &[]);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "device-b.csr",
            "-CA",
            "other.pem",
            "-CAkey",
            "other.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            "device-b.pem",
        ],
    )
    .success();
    let before = snapshot(dir);
    let run = sign(&[]).failure();
    assert!(run.all().contains("device-b.pem"), "{}", run.all());
    assert!(snapshot(dir) == before, "a refused run changed files");
    sign(&["--force"]).success();
    verify(dir, &["device-b.pem".into()]);
}

/// Requests whose names print as other names, that ask for too many names, that hide a
/// second request, that are hashed with SHA-1 or SHA-224, or that are DER: each refused,
/// saying why, with nothing written (issue 17, row 10).
#[test]
fn requests_whose_names_mislead_or_whose_form_is_wrong_are_refused_and_write_nothing() {
    let tmp = ca_folder();
    let dir = tmp.path();
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "dev.key",
        ],
    )
    .success();
    let req = |csr: &str, extra: &[&str]| {
        let mut args = vec!["req", "-new", "-key", "dev.key", "-out", csr, "-utf8"];
        args.extend_from_slice(extra);
        openssl(dir, &args).success();
    };
    req("rlo.csr", &["-subj", "/CN=dev\u{202E}1gpj.exe"]);
    req("zwsp.csr", &["-subj", "/CN=ad\u{200B}min"]);
    req("comma.csr", &["-subj", "/CN=dev1, O=Root CA"]);
    req("slash.csr", &["-subj", "/CN=admin\\/O=Root CA"]);
    let names: Vec<String> = (1..=101).map(|i| format!("DNS:d{i}.example.com")).collect();
    let san = format!("subjectAltName={}", names.join(","));
    req("many.csr", &["-subj", "/CN=dev1", "-addext", &san]);
    req("sha1.csr", &["-subj", "/CN=dev1", "-sha1"]);
    req("sha224.csr", &["-subj", "/CN=dev1", "-sha224"]);
    req("one.csr", &["-subj", "/CN=dev1"]);
    req("two.csr", &["-subj", "/CN=dev2"]);
    let both = std::fs::read_to_string(dir.join("one.csr")).unwrap()
        + std::fs::read_to_string(dir.join("two.csr"))
            .unwrap()
            .as_str();
    std::fs::write(dir.join("both.csr"), both).unwrap();
    openssl(
        dir,
        &[
            "req", "-in", "one.csr", "-outform", "der", "-out", "der.csr",
        ],
    )
    .success();
    // openssl made what each case claims (read back, not assumed).
    let text = |csr: &str| openssl(dir, &["req", "-in", csr, "-noout", "-text"]).all();
    assert!(
        text("sha1.csr").contains("sha1WithRSAEncryption")
            || text("sha1.csr").contains("ecdsa-with-SHA1")
    );
    assert!(text("sha224.csr").contains("ecdsa-with-SHA224"));
    assert!(text("many.csr").contains("DNS:d101.example.com"));
    assert!(
        text("comma.csr").contains("CN = \"dev1, O=Root CA\"")
            || text("comma.csr").contains("dev1, O=Root CA")
    );

    let before = snapshot(dir);
    for (csr, message) in [
        ("rlo.csr", "invisible format character U+202E"),
        ("zwsp.csr", "invisible format character U+200B"),
        (
            "comma.csr",
            "holds \"O=\", which reads as another attribute",
        ),
        (
            "slash.csr",
            "holds \"O=\", which reads as another attribute",
        ),
        (
            "many.csr",
            "it asks for 101 names; a client certificate takes at most 100",
        ),
        (
            "sha1.csr",
            "it is signed with ecdsa-with-SHA1; SHA-256 or stronger is required",
        ),
        ("sha224.csr", "it is signed with ecdsa-with-SHA224"),
        ("both.csr", "more than one CERTIFICATE REQUEST block"),
        ("der.csr", "openssl req -inform der -in der.csr"),
    ] {
        let var = format!("csr={csr}");
        let run = mtls(dir, &["run", "sign_csr.rhai", "--var", &var]).failure();
        assert!(run.all().contains(message), "{csr}: {}", run.all());
        assert!(snapshot(dir) == before, "{csr}: files changed");
    }
    // The same key and subject, one request, SHA-256: signed.
    mtls(dir, &["run", "sign_csr.rhai", "--var", "csr=one.csr"]).success();
}

/// A prefix that makes names a spreadsheet evaluates (`-1-7` is a formula) gives manifest
/// cells quoted as text, as OWASP's CSV injection rule says (issue 17, row 12).
#[test]
fn manifest_cells_a_spreadsheet_would_evaluate_are_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fleet(dir, &["--var", "count=2", "--var", "prefix=-1-"]).success();
    let csv = std::fs::read_to_string(dir.join("-1-manifest.csv")).unwrap();
    let names: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(names, ["\"'-1-1\"", "\"'-1-2\""], "{csv}");
    // The JSON manifest keeps the names as they are.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("-1-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(json[0]["name"], "-1-1");
}
