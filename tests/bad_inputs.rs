//! A catalogue of bad inputs, tried as an attacker or a careless user would: appended keys,
//! links out of the folder, special files, malformed domains, hostile scripts.
//!
//! Every case asserts the exit code, a distinctive part of the message, that no file
//! outside the working folder changed, and, for the cases run against moto, that AWS saw
//! no mutating call at all.

use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::cli::{mtls_env, openssl, Run, SetupArgs, PKI_FILES};
use support::moto::Moto;

/// One bad input: what to lay out, what to run, what must come back.
struct Case {
    name: &'static str,
    /// Lays out the case in `work` (a copy of the walkthrough's PKI) and `outside`.
    prepare: fn(&Dirs),
    /// Arguments after `mtls`; `-C work` and, for AWS cases, the moto endpoint are added.
    args: &'static [&'static str],
    /// Extra environment.
    env: &'static [(&'static str, &'static str)],
    /// A distinctive part of the message.
    expect: &'static str,
    /// Whether the working folder starts empty instead of holding the PKI.
    empty: bool,
}

struct Dirs {
    top: tempfile::TempDir,
}

impl Dirs {
    fn work(&self) -> PathBuf {
        self.top.path().join("work")
    }
    fn outside(&self) -> PathBuf {
        self.top.path().join("outside")
    }
    fn w(&self, name: &str) -> PathBuf {
        self.work().join(name)
    }
    fn write(&self, name: &str, text: impl AsRef<[u8]>) {
        let path = self.w(name);
        let _ = fs::remove_file(&path);
        fs::write(path, text).unwrap();
    }
    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.w(name)).unwrap()
    }
    fn openssl(&self, args: &[&str]) {
        openssl(&self.work(), args).success();
    }
}

const NONE: &[(&str, &str)] = &[];
const SETUP: &[&str] = &SetupArgs::RUN;

/// The walkthrough's eight files, made once per test process and copied into each case.
fn template() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        support::cli::mtls(
            dir.path(),
            &["run", "pki.rhai", "--var", "domain=api.example.com"],
        )
        .success();
        dir
    })
    .path()
}

fn lay_out(case: &Case) -> Dirs {
    let dirs = Dirs {
        top: tempfile::tempdir().unwrap(),
    };
    fs::create_dir(dirs.work()).unwrap();
    fs::create_dir(dirs.outside()).unwrap();
    fs::write(dirs.outside().join("precious.txt"), "keep me").unwrap();
    if !case.empty {
        for f in PKI_FILES {
            fs::copy(template().join(f), dirs.w(f)).unwrap();
        }
    }
    (case.prepare)(&dirs);
    dirs
}

/// Every file and link under `dir` except the working folder: path -> (mode, content).
fn snapshot(dir: &Path, skip: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path == skip {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let content = if meta.is_file() {
                fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            out.insert(path, (meta.permissions().mode(), content));
        }
    }
    out
}

/// Runs one case and checks everything a bad input must leave as it was.
fn check(case: &Case, moto: Option<&Moto>) {
    let dirs = lay_out(case);
    let before = snapshot(dirs.top.path(), &dirs.work());
    let mut args: Vec<&str> = case.args.to_vec();
    let work = dirs.work();
    let work = work.to_str().unwrap();
    if case
        .args
        .first()
        .is_some_and(|a| *a == "run" || *a == "plan")
    {
        args.extend(["-C", work]);
    }
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(moto) = moto {
        moto.reset_recording();
        env.extend(moto.env());
    }
    // The case's own environment wins over moto's (AWS_REGION, say).
    env.extend(case.env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let out: Run = mtls_env(dirs.top.path(), &args, &env);
    let all = out.all();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}: expected exit 1:\n{all}",
        case.name
    );
    assert!(
        all.contains(case.expect),
        "{}: expected {:?} in:\n{all}",
        case.name,
        case.expect
    );
    assert!(!all.contains("panicked"), "{}: panic:\n{all}", case.name);
    let after = snapshot(dirs.top.path(), &dirs.work());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "{}: files outside the working folder appeared or went",
        case.name
    );
    assert!(
        before == after,
        "{}: a file outside the working folder changed",
        case.name
    );
    if let Some(moto) = moto {
        let mutating: Vec<String> = moto
            .recorded_requests()
            .iter()
            .filter(|r| r.is_mutating())
            .map(|r| format!("{} {} {:?}", r.method, r.path, r.rpc_action()))
            .collect();
        assert!(
            mutating.is_empty(),
            "{}: AWS was changed: {mutating:?}",
            case.name
        );
    }
}

fn run_all(cases: &[Case], aws: bool) {
    let moto = aws.then(Moto::start);
    for case in cases {
        check(case, moto.as_ref());
    }
    eprintln!("{} cases passed", cases.len());
}

/// A CA certificate made by openssl with `extra` options (e.g. `-sha1`, dates), under the
/// walkthrough's root name and key, replacing RootCA.pem.
fn replace_root(d: &Dirs, extra: &[&str]) {
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-key",
        "RootCA.key",
        "-out",
        "RootCA.pem",
        "-subj",
        "/C=JP/ST=Tokyo/O=Example/CN=mtls root CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    ];
    args.extend_from_slice(extra);
    d.openssl(&args);
}

#[test]
fn truststores_and_keys_that_must_never_reach_aws() {
    let cases = [
        Case {
            name: "root certificate with its key appended",
            prepare: |d| {
                let both = format!("{}{}", d.read("RootCA.pem"), d.read("RootCA.key"));
                d.write("RootCA.pem", both);
            },
            args: SETUP,
            env: NONE,
            expect: "RootCA.pem holds a private key (PRIVATE KEY at line",
            empty: false,
        },
        Case {
            name: "root certificate as a link to a combined cert+key file",
            prepare: |d| {
                let both = format!("{}{}", d.read("RootCA.pem"), d.read("RootCA.key"));
                d.write("combined.pem", both);
                fs::remove_file(d.w("RootCA.pem")).unwrap();
                symlink(d.w("combined.pem"), d.w("RootCA.pem")).unwrap();
            },
            args: SETUP,
            env: NONE,
            expect: "holds a private key",
            empty: false,
        },
        Case {
            name: "PKCS#1 RSA key appended to the root certificate",
            prepare: |d| {
                d.openssl(&[
                    "rsa",
                    "-in",
                    "client.key",
                    "-traditional",
                    "-out",
                    "pkcs1.key",
                ]);
                let both = format!("{}{}", d.read("RootCA.pem"), d.read("pkcs1.key"));
                d.write("RootCA.pem", both);
            },
            args: SETUP,
            env: NONE,
            expect: "RSA PRIVATE KEY at line",
            empty: false,
        },
        Case {
            name: "EC key appended to the root certificate",
            prepare: |d| {
                d.openssl(&[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "ec.key",
                ]);
                d.openssl(&["ec", "-in", "ec.key", "-out", "sec1.key"]);
                let both = format!("{}{}", d.read("RootCA.pem"), d.read("sec1.key"));
                d.write("RootCA.pem", both);
            },
            args: SETUP,
            env: NONE,
            expect: "EC PRIVATE KEY at line",
            empty: false,
        },
        Case {
            name: "openssl -text output around the root certificate",
            prepare: |d| {
                let text = format!("Certificate:\n    Data: ...\n{}", d.read("RootCA.pem"));
                d.write("RootCA.pem", text);
            },
            args: SETUP,
            env: NONE,
            expect: "line 1: text outside a PEM block",
            empty: false,
        },
        Case {
            name: "a CRL in the truststore",
            prepare: |d| {
                let text = format!(
                    "{}-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
                    d.read("RootCA.pem")
                );
                d.write("RootCA.pem", text);
            },
            args: SETUP,
            env: NONE,
            expect: "a truststore holds CERTIFICATE blocks only",
            empty: false,
        },
        Case {
            name: "the root certificate in DER",
            prepare: |d| {
                d.openssl(&[
                    "x509",
                    "-in",
                    "RootCA.pem",
                    "-outform",
                    "der",
                    "-out",
                    "root.der",
                ]);
                fs::rename(d.w("root.der"), d.w("RootCA.pem")).unwrap();
            },
            args: SETUP,
            env: NONE,
            expect: "it is binary DER, not PEM text",
            empty: false,
        },
        Case {
            name: "an encrypted server key",
            prepare: |d| {
                d.openssl(&[
                    "pkey",
                    "-in",
                    "server.key",
                    "-aes256",
                    "-passout",
                    "pass:secret",
                    "-out",
                    "enc.key",
                ]);
                fs::rename(d.w("enc.key"), d.w("server.key")).unwrap();
                fs::set_permissions(d.w("server.key"), fs::Permissions::from_mode(0o600)).unwrap();
            },
            args: SETUP,
            env: NONE,
            expect: "encrypted with a passphrase",
            empty: false,
        },
        Case {
            name: "a certificate in the key file",
            prepare: |d| {
                let cert = d.read("server.pem");
                d.write("server.key", cert);
                fs::set_permissions(d.w("server.key"), fs::Permissions::from_mode(0o600)).unwrap();
            },
            args: SETUP,
            env: NONE,
            expect: "holds a certificate, not a private key",
            empty: false,
        },
        Case {
            name: "an RSA 1024 client key",
            prepare: |d| {
                d.openssl(&["genrsa", "-out", "small.key", "1024"]);
                fs::rename(d.w("small.key"), d.w("client.key")).unwrap();
                fs::set_permissions(d.w("client.key"), fs::Permissions::from_mode(0o600)).unwrap();
            },
            args: SETUP,
            env: NONE,
            expect: "RSA 1024-bit key",
            empty: false,
        },
        Case {
            name: "a key others can read",
            prepare: |d| {
                fs::set_permissions(d.w("RootCA.key"), fs::Permissions::from_mode(0o644)).unwrap()
            },
            args: SETUP,
            env: NONE,
            expect: "chmod 600 RootCA.key",
            empty: false,
        },
        Case {
            name: "the intermediate's file with the root first",
            prepare: |d| {
                let text = format!("{}{}", d.read("RootCA.pem"), d.read("inca.pem"));
                d.write("inca.pem", text);
            },
            args: SETUP,
            env: NONE,
            expect: "inca.key belongs to certificate 2, not the first",
            empty: false,
        },
        Case {
            name: "an expired root",
            prepare: |d| {
                // openssl 3.0's `req` cannot backdate: rcgen signs with the same key.
                let key = rcgen::KeyPair::from_pem(&d.read("RootCA.key")).unwrap();
                let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, "mtls root CA");
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
                d.write("RootCA.pem", params.self_signed(&key).unwrap().pem());
            },
            args: SETUP,
            env: NONE,
            expect: "RootCA.pem cannot be used any more: not valid now",
            empty: false,
        },
        Case {
            name: "a SHA-1 root",
            prepare: |d| replace_root(d, &["-sha1", "-days", "30"]),
            args: SETUP,
            env: NONE,
            expect: "signed with sha1WithRSAEncryption",
            empty: false,
        },
    ];
    run_all(&cases, true);
}

#[test]
fn domains_regions_and_names_checked_before_the_first_file_or_call() {
    let cases = [
        Case {
            name: "empty label",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=a..b"],
            env: NONE,
            expect: "empty label",
            empty: true,
        },
        Case {
            name: "wildcard",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=*.example.com"],
            env: NONE,
            expect: "wildcards are not allowed",
            empty: true,
        },
        Case {
            name: "label of 300 characters",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"],
            env: NONE,
            expect: "characters long; the most is",
            empty: true,
        },
        Case {
            name: "IP address",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=10.0.0.1"],
            env: NONE,
            expect: "it is an IP address",
            empty: true,
        },
        Case {
            name: "capital letters",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=API.Example.COM"],
            env: NONE,
            expect: "use api.example.com",
            empty: true,
        },
        Case {
            name: "domain outside the zone",
            prepare: |_| {},
            args: &[
                "run",
                "setup.rhai",
                "--var",
                "domain=api.example.com",
                "--var",
                "zone=example.org",
            ],
            env: NONE,
            expect: "is not inside --var zone=example.org",
            empty: true,
        },
        Case {
            name: "internationalised name",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.bücher.example"],
            env: NONE,
            expect: "api.xn--bcher-kva.example",
            empty: true,
        },
        Case {
            name: "trailing dot",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.example.com."],
            env: NONE,
            expect: "drop the trailing dot",
            empty: true,
        },
        Case {
            name: "unknown region flag",
            prepare: |_| {},
            args: &[
                "run",
                "setup.rhai",
                "--var",
                "domain=api.example.com",
                "--region",
                "moon-base-1",
            ],
            env: NONE,
            expect: "is not an AWS region name",
            empty: true,
        },
        Case {
            name: "unknown region in the environment",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.example.com"],
            env: &[("AWS_REGION", "us_east_1")],
            expect: "AWS_REGION: \"us_east_1\" is not an AWS region name",
            empty: true,
        },
        Case {
            name: "bucket name",
            prepare: |_| {},
            args: &[
                "run",
                "setup.rhai",
                "--var",
                "domain=api.example.com",
                "--var",
                "bucket=Not_A_Bucket",
            ],
            env: NONE,
            expect: "--var bucket=\"Not_A_Bucket\"",
            empty: true,
        },
        Case {
            name: "stage name",
            prepare: |_| {},
            args: &[
                "run",
                "setup.rhai",
                "--var",
                "domain=api.example.com",
                "--var",
                "stage=prod stage",
            ],
            env: NONE,
            expect: "a stage name is 1-128 letters",
            empty: true,
        },
        Case {
            name: "validation timeout",
            prepare: |_| {},
            args: &[
                "run",
                "setup.rhai",
                "--var",
                "domain=api.example.com",
                "--var",
                "validation_timeout=soon",
            ],
            env: NONE,
            expect: "a number of seconds",
            empty: true,
        },
        Case {
            name: "space in the pki domain",
            prepare: |_| {},
            args: &["run", "pki.rhai", "--var", "domain=exa mple.com"],
            env: NONE,
            expect: "contains ' '",
            empty: true,
        },
        Case {
            name: "slash in a SAN",
            prepare: |d| {
                d.write(
                    "san.rhai",
                    "let root = gen_root_ca(#{ algorithm: \"ecdsa-p256\" });\ngen_server_cert(root, \"api.example.com\", #{ san: [\"a/b\"], algorithm: \"ecdsa-p256\" });\n",
                )
            },
            args: &["run", "work/san.rhai"],
            env: NONE,
            expect: "\"a/b\" is not a DNS name or IP address",
            empty: true,
        },
        Case {
            name: "control character in a CN",
            prepare: |d| {
                d.write(
                    "cn.rhai",
                    "gen_root_ca(#{ algorithm: \"ecdsa-p256\", subject: #{ CN: \"evil\\ncn\" } });\n",
                )
            },
            args: &["run", "work/cn.rhai"],
            env: NONE,
            expect: "CN contains a control character",
            empty: true,
        },
        Case {
            name: "a 120 KB CN",
            prepare: |d| {
                d.write(
                    "cn.rhai",
                    "let cn = \"x\"; for i in 0..17 { cn += cn; }\ngen_root_ca(#{ algorithm: \"ecdsa-p256\", subject: #{ CN: cn } });\n",
                )
            },
            args: &["run", "work/cn.rhai"],
            env: NONE,
            expect: "the most RFC 5280 allows is 64",
            empty: true,
        },
    ];
    let moto = Moto::start();
    for case in &cases {
        check(case, Some(&moto));
        // Nothing was written either: not a key, not a folder.
        let dirs = lay_out(case);
        let work = dirs.work();
        let mut args: Vec<&str> = case.args.to_vec();
        args.extend(["-C", work.to_str().unwrap()]);
        let mut env = moto.env();
        env.extend(case.env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        mtls_env(dirs.top.path(), &args, &env);
        let left: Vec<_> = fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.ends_with(".rhai"))
            .collect();
        assert!(
            left.is_empty(),
            "{}: files were written: {left:?}",
            case.name
        );
    }
}

#[test]
fn the_working_folder_is_a_boundary() {
    let cases = [
        Case {
            name: "a key written through a folder linked outside",
            prepare: |d| {
                symlink(d.outside(), d.w("sub")).unwrap();
                d.write(
                    "evil.rhai",
                    "gen_root_ca(#{ key: \"sub/evil.key\", cert: \"sub/evil.pem\", algorithm: \"ecdsa-p256\" });\n",
                );
            },
            args: &["run", "work/evil.rhai"],
            env: NONE,
            expect: "outside the working folder",
            empty: true,
        },
        Case {
            name: "inspect_cert through a link outside",
            prepare: |d| {
                fs::write(d.outside().join("x.pem"), "not yours").unwrap();
                symlink(d.outside().join("x.pem"), d.w("x.pem")).unwrap();
                d.write("peek.rhai", "print(inspect_cert(\"x.pem\"));\n");
            },
            args: &["run", "work/peek.rhai"],
            env: NONE,
            expect: "is a link to",
            empty: true,
        },
        Case {
            name: "an existing root key linking outside",
            prepare: |d| {
                fs::copy(d.w("RootCA.key"), d.outside().join("RootCA.key")).unwrap();
                fs::remove_file(d.w("RootCA.key")).unwrap();
                symlink(d.outside().join("RootCA.key"), d.w("RootCA.key")).unwrap();
            },
            args: &["run", "pki.rhai", "--var", "domain=api.example.com"],
            env: NONE,
            expect: "outside the working folder",
            empty: false,
        },
        Case {
            name: "the root certificate linking to /dev/zero",
            prepare: |d| {
                fs::remove_file(d.w("RootCA.pem")).unwrap();
                symlink("/dev/zero", d.w("RootCA.pem")).unwrap();
            },
            args: &["run", "pki.rhai", "--var", "domain=api.example.com"],
            env: NONE,
            expect: "RootCA.pem is a link to /dev/zero",
            empty: false,
        },
        Case {
            name: "the root certificate is a FIFO",
            prepare: |d| {
                fs::remove_file(d.w("RootCA.pem")).unwrap();
                let ok = std::process::Command::new("mkfifo")
                    .arg(d.w("RootCA.pem"))
                    .status()
                    .unwrap();
                assert!(ok.success());
            },
            args: &["run", "pki.rhai", "--var", "domain=api.example.com"],
            env: NONE,
            expect: "RootCA.pem is a named pipe (FIFO), not a regular file",
            empty: false,
        },
        Case {
            name: "a dangling link where the root key goes",
            prepare: |d| {
                symlink(d.outside().join("made-here.key"), d.w("RootCA.key")).unwrap();
            },
            args: &["run", "pki.rhai", "--var", "domain=api.example.com"],
            env: NONE,
            expect: "which does not exist",
            empty: true,
        },
        Case {
            name: "an oversized certificate",
            prepare: |d| d.write("RootCA.pem", vec![b'A'; 2 << 20]),
            args: &["run", "pki.rhai", "--var", "domain=api.example.com"],
            env: NONE,
            expect: "is larger than 1048576 bytes",
            empty: false,
        },
        Case {
            name: "an absolute key path",
            prepare: |d| {
                d.write(
                    "abs.rhai",
                    "gen_root_ca(#{ key: \"/tmp/mtls-abs.key\", algorithm: \"ecdsa-p256\" });\n",
                )
            },
            args: &["run", "work/abs.rhai"],
            env: NONE,
            expect: "\"/tmp/mtls-abs.key\" is outside the working folder",
            empty: true,
        },
        Case {
            name: "a key path with ..",
            prepare: |d| {
                d.write(
                    "up.rhai",
                    "gen_root_ca(#{ key: \"../outside/up.key\", algorithm: \"ecdsa-p256\" });\n",
                )
            },
            args: &["run", "work/up.rhai"],
            env: NONE,
            expect: "is outside the working folder",
            empty: true,
        },
        Case {
            name: "import of an absolute path",
            prepare: |d| {
                fs::write(d.outside().join("lib.rhai"), "fn f() { 1 }").unwrap();
                let script = format!("import \"{}\" as lib;\n", d.outside().join("lib").display());
                d.write("imp.rhai", script);
            },
            args: &["run", "work/imp.rhai"],
            env: NONE,
            expect: "is outside the working folder",
            empty: true,
        },
        Case {
            name: "import of ../",
            prepare: |d| {
                fs::write(d.outside().join("lib.rhai"), "fn f() { 1 }").unwrap();
                d.write("imp.rhai", "import \"../outside/lib\" as lib;\n");
            },
            args: &["run", "work/imp.rhai"],
            env: NONE,
            expect: "is outside the working folder",
            empty: true,
        },
        Case {
            name: "import through a link outside",
            prepare: |d| {
                fs::write(d.outside().join("lib.rhai"), "fn f() { 1 }").unwrap();
                symlink(d.outside().join("lib.rhai"), d.w("lib.rhai")).unwrap();
                d.write("imp.rhai", "import \"lib\" as lib;\n");
            },
            args: &["run", "work/imp.rhai"],
            env: NONE,
            expect: "is a link to",
            empty: true,
        },
        Case {
            name: "init into a dangling link",
            prepare: |d| {
                symlink(d.outside().join("made.rhai"), d.w("pki.rhai")).unwrap();
            },
            args: &["init", "work"],
            env: NONE,
            expect: "which does not exist",
            empty: true,
        },
        Case {
            name: "init --force over a link to a file outside",
            prepare: |d| {
                symlink(d.outside().join("precious.txt"), d.w("setup.rhai")).unwrap();
            },
            args: &["init", "work", "--force"],
            env: NONE,
            expect: "outside the working folder",
            empty: true,
        },
    ];
    run_all(&cases, false);
}

#[test]
fn scripts_cannot_switch_off_checks_or_run_away() {
    let cases = [
        Case {
            name: "a stdlib next to the script that empties check_truststore",
            prepare: |d| {
                fs::create_dir(d.w("stdlib")).unwrap();
                d.write("stdlib/evil.rhai", "fn check_truststore(path) { [] }\n");
                d.write("flow.rhai", "print(1);\n");
            },
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "defines check_truststore(), which is a built-in primitive",
            empty: true,
        },
        Case {
            name: "a script that redefines the upload primitive",
            prepare: |d| {
                d.write(
                    "flow.rhai",
                    "fn s3_ensure_truststore(b, k, p) { #{} }\nprint(1);\n",
                )
            },
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "defines s3_ensure_truststore(), which is a built-in primitive",
            empty: true,
        },
        Case {
            name: "a script over 1 MiB",
            prepare: |d| d.write("big.rhai", "// x\n".repeat(300_000)),
            args: &["run", "work/big.rhai"],
            env: NONE,
            expect: "scripts are limited to 1048576 bytes",
            empty: true,
        },
        Case {
            name: "a script that is a FIFO",
            prepare: |d| {
                let ok = std::process::Command::new("mkfifo")
                    .arg(d.w("fifo.rhai"))
                    .status()
                    .unwrap();
                assert!(ok.success());
            },
            args: &["run", "work/fifo.rhai"],
            env: NONE,
            expect: "named pipe (FIFO)",
            empty: true,
        },
        Case {
            name: "a map that grows without end",
            prepare: |d| {
                d.write(
                    "grow.rhai",
                    "let s = \"x\"; for j in 0..20 { s += s; }\nlet m = #{}; let i = 0;\nloop { m[\"k\" + i] = s + i; i += 1; }\n",
                )
            },
            args: &["run", "work/grow.rhai"],
            env: NONE,
            expect: "grew past 1024 MiB",
            empty: true,
        },
        Case {
            name: "a --var without =",
            prepare: |_| {},
            args: &["plan", "pki.rhai", "--var", "domain"],
            env: NONE,
            expect: "is not of the form NAME=VALUE",
            empty: true,
        },
    ];
    run_all(&cases, false);
}

/// The other side of the stdlib rules: a comment before a call no longer hides it, and a
/// replaced bundled step is named before the run starts.
#[test]
fn overrides_are_loaded_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("stdlib")).unwrap();
    fs::write(
        d.join("stdlib/mine.rhai"),
        "fn print_certs(certs) { print(`mine: ${certs.len()}`); }\n",
    )
    .unwrap();
    fs::write(
        d.join("flow.rhai"),
        "// make the root\ngen_root_ca(#{ algorithm: \"ecdsa-p256\" });\nprint_certs([1, 2]);\n",
    )
    .unwrap();
    let out = support::cli::mtls(d, &["run", "flow.rhai"]).success();
    assert!(out.stdout.contains("mine: 2"), "{}", out.all());
    assert!(
        out.stderr.contains(
            "note: using print_certs() from stdlib/mine.rhai instead of the bundled step"
        ),
        "{}",
        out.stderr
    );
}

/// Runs `mtls ARGS` in `dir` under `umask 000`, the most permissive a user can set; it must
/// succeed.
fn run_under_umask_000(dir: &Path, args: &str) {
    let mtls = env!("CARGO_BIN_EXE_mtls");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000 && exec {mtls} {args}"))
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mtls {args} failed");
}

/// A file's permission bits.
fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Under `umask 000` the folder mtls makes for keys is still 0700 and keys are 0600.
#[test]
fn folders_made_for_keys_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    run_under_umask_000(
        dir.path(),
        "run pki.rhai -C out --var domain=api.example.com",
    );
    let mode = |p: &str| mode_of(&dir.path().join(p));
    assert_eq!(mode("out"), 0o700);
    assert_eq!(mode("out/RootCA.key"), 0o600);
    assert_eq!(mode("out/RootCA.pem"), 0o644);
}

/// A kept key's plan line shows the mode it really has.
#[test]
fn the_plan_shows_a_kept_keys_real_mode() {
    let dir = tempfile::tempdir().unwrap();
    for f in PKI_FILES {
        fs::copy(template().join(f), dir.path().join(f)).unwrap();
    }
    fs::set_permissions(
        dir.path().join("RootCA.key"),
        fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    let out = support::cli::mtls(
        dir.path(),
        &[
            "plan",
            "pki.rhai",
            "--var",
            "domain=api.example.com",
            "--format",
            "json",
        ],
    )
    .success();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let modes: Vec<(String, String)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "private key")
        .map(|a| {
            (
                a["target"].as_str().unwrap().to_string(),
                a["args"]["mode"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        modes.contains(&("RootCA.key".to_string(), "0400".to_string())),
        "{modes:?}"
    );
}

/// The walkthrough's root subject, as pki.rhai asks for it.
const ROOT_SUBJECT: &str = "/C=JP/ST=Tokyo/O=Example/CN=mtls root CA";

/// A root on RootCA.key with these extensions, replacing RootCA.pem; what the root issued
/// (inca.pem, client.pem) still verifies under it: same name, same key.
fn root_with(d: &Dirs, basic: &str, usage: &str) {
    d.openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "RootCA.key",
        "-out",
        "RootCA.pem",
        "-subj",
        ROOT_SUBJECT,
        "-days",
        "30",
        "-addext",
        basic,
        "-addext",
        usage,
    ]);
}

/// CAs that cannot issue what the flow makes under them, a truststore changed by a `cat`,
/// and a truststore without its root: setup stops before any AWS call.
#[test]
fn cas_that_cannot_issue_and_truststores_without_their_root() {
    let cases = [
        Case {
            name: "a client certificate appended to the root certificate",
            prepare: |d| {
                let both = format!("{}{}", d.read("RootCA.pem"), d.read("client.pem"));
                d.write("RootCA.pem", both);
            },
            args: SETUP,
            env: NONE,
            expect: "RootCA.pem holds 2 certificates; after its own comes C=JP, ST=Tokyo, O=Example, CN=mtls client (SHA-256 ",
            empty: false,
        },
        Case {
            name: "a root with pathlen:0 over the intermediate",
            prepare: |d| {
                root_with(
                    d,
                    "basicConstraints=critical,CA:TRUE,pathlen:0",
                    "keyUsage=critical,keyCertSign,cRLSign",
                )
            },
            args: SETUP,
            env: NONE,
            expect: "RootCA.pem cannot issue the intermediate certificate inca.pem: its pathLenConstraint is 0",
            empty: false,
        },
        Case {
            name: "a root without keyCertSign",
            prepare: |d| {
                root_with(
                    d,
                    "basicConstraints=critical,CA:TRUE",
                    "keyUsage=critical,digitalSignature,cRLSign",
                )
            },
            args: SETUP,
            env: NONE,
            expect: "RootCA.pem cannot issue certificates: its keyUsage has no keyCertSign",
            empty: false,
        },
        Case {
            name: "a truststore holding an intermediate only",
            prepare: |d| {
                // RootCA.pem issued by another CA: the root's name and key, not self-signed.
                d.openssl(&[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    "other.key",
                    "-subj",
                    "/CN=other root",
                    "-days",
                    "30",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                    "-out",
                    "other.pem",
                ]);
                d.write(
                    "ca.ext",
                    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
                );
                d.openssl(&[
                    "req", "-new", "-key", "RootCA.key", "-subj", ROOT_SUBJECT, "-out", "root.csr",
                ]);
                d.openssl(&[
                    "x509", "-req", "-in", "root.csr", "-CA", "other.pem", "-CAkey", "other.key",
                    "-set_serial", "7", "-days", "30", "-sha256", "-extfile", "ca.ext", "-out",
                    "RootCA.pem",
                ]);
            },
            args: SETUP,
            env: NONE,
            expect: "[truststore-root]",
            empty: false,
        },
    ];
    run_all(&cases, true);
}

/// Names a script hands to the AWS primitives directly, and names S3 or IDNA refuse that
/// looked valid: each stops the run before its first file or AWS call (issue 17, row 8).
#[test]
fn names_given_to_primitives_and_reserved_or_false_names() {
    let cases = [
        Case {
            name: "a script sends a bad bucket name to s3_ensure_bucket",
            prepare: |d| d.write("b.rhai", "s3_ensure_bucket(\"Bad_Bucket\");\n"),
            args: &["run", "work/b.rhai"],
            env: NONE,
            expect: "s3_ensure_bucket: argument `name`: \"Bad_Bucket\" is not a valid S3 bucket name",
            empty: true,
        },
        Case {
            name: "a script sends a wildcard with an empty label to acm_ensure_requested",
            prepare: |d| d.write("a.rhai", "acm_ensure_requested(\"*.bad..x\");\n"),
            args: &["run", "work/a.rhai"],
            env: NONE,
            expect: "acm_ensure_requested: argument `domain`: \"*.bad..x\"",
            empty: true,
        },
        Case {
            name: "a script sends a reserved bucket name to s3_ensure_truststore",
            prepare: |d| {
                d.write(
                    "t.rhai",
                    "s3_ensure_truststore(\"trust--x-s3\", \"api.example.com/RootCA.pem\", \"RootCA.pem\");\n",
                )
            },
            args: &["run", "work/t.rhai"],
            env: NONE,
            expect: "s3_ensure_truststore: argument `bucket`: \"trust--x-s3\" is not a valid S3 bucket name: it uses a prefix or suffix S3 reserves",
            empty: false,
        },
        Case {
            name: "S3's reserved prefix amzn-s3-demo-",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.example.com", "--var", "bucket=amzn-s3-demo-bucket"],
            env: NONE,
            expect: "--var bucket=\"amzn-s3-demo-bucket\": it uses a prefix or suffix S3 reserves",
            empty: true,
        },
        Case {
            name: "S3's reserved suffixes --table-s3 and .mrap",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.example.com", "--var", "bucket=trust.mrap"],
            env: NONE,
            expect: "--var bucket=\"trust.mrap\": it uses a prefix or suffix S3 reserves",
            empty: true,
        },
        Case {
            name: "S3's reserved suffix --table-s3",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.example.com", "--var", "bucket=trust--table-s3"],
            env: NONE,
            expect: "--var bucket=\"trust--table-s3\": it uses a prefix or suffix S3 reserves",
            empty: true,
        },
        Case {
            name: "invalid punycode as the domain",
            prepare: |_| {},
            args: &["run", "setup.rhai", "--var", "domain=api.xn--zz.example"],
            env: NONE,
            expect: "the label \"xn--zz\" is not valid punycode",
            empty: true,
        },
        Case {
            name: "a script sends an empty object key to s3_delete_truststore",
            prepare: |d| d.write("k.rhai", "s3_delete_truststore(\"trust-store-1\", \"\");\n"),
            args: &["run", "work/k.rhai"],
            env: NONE,
            expect: "s3_delete_truststore: argument `key`: the object key is 0 bytes long",
            empty: true,
        },
        Case {
            name: "a script sends a stage name with a space to apigw_ensure_stage",
            prepare: |d| d.write("s.rhai", "apigw_ensure_stage(\"abc123\", \"prod stage\");\n"),
            args: &["run", "work/s.rhai"],
            env: NONE,
            expect: "apigw_ensure_stage: argument `stage`: \"prod stage\": a stage name is 1-128",
            empty: true,
        },
        Case {
            name: "a script asks for the zone of a false punycode name",
            prepare: |d| d.write("z.rhai", "print(route53_find_zone(\"xn--a.example\"));\n"),
            args: &["run", "work/z.rhai"],
            env: NONE,
            expect: "route53_find_zone: argument `domain`: \"xn--a.example\"",
            empty: true,
        },
    ];
    run_all(&cases, true);
}

/// A fleet's manifest that cannot be written is found before the first pair is (the
/// manifest is written last; before, 3 pairs were made, then the run failed).
#[test]
fn a_fleet_manifest_that_cannot_be_written_stops_the_run_before_any_pair() {
    let cases = [
        Case {
            name: "a folder where the CSV manifest goes",
            prepare: |d| fs::create_dir(d.w("device-manifest.csv")).unwrap(),
            args: &["run", "issue_clients.rhai", "--var", "count=3"],
            env: NONE,
            expect: "device-manifest.csv is a folder",
            empty: false,
        },
        Case {
            name: "the JSON manifest a link out of the folder",
            prepare: |d| {
                symlink(
                    d.outside().join("precious.txt"),
                    d.w("device-manifest.json"),
                )
                .unwrap()
            },
            args: &["run", "issue_clients.rhai", "--var", "count=3"],
            env: NONE,
            expect: "outside the working folder",
            empty: false,
        },
    ];
    for case in &cases {
        check(case, None);
        let dirs = lay_out(case);
        let work = dirs.work();
        let mut args = case.args.to_vec();
        args.extend(["-C", work.to_str().unwrap()]);
        support::cli::mtls(dirs.top.path(), &args).failure();
        let made: Vec<String> = fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("device-") && !n.starts_with("device-manifest"))
            .collect();
        assert!(
            made.is_empty(),
            "{}: pairs were written: {made:?}",
            case.name
        );
    }
}

/// Scripts that import themselves, import each other, import too deep, build an ever
/// deeper array, or define one stdlib function twice: each stops with a clear error
/// (issue 17, rows 9 and 12; the imports overflowed the stack, exit 134).
#[test]
fn import_cycles_deep_data_and_twice_defined_functions_stop_with_a_clear_error() {
    let cases = [
        Case {
            name: "a script that imports itself",
            prepare: |d| d.write("flow.rhai", "import \"flow\" as me;\nprint(1);\n"),
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "import cycle): the script imports flow.rhai (line 1), flow.rhai imports flow.rhai (line 1)",
            empty: true,
        },
        Case {
            name: "two modules that import each other",
            prepare: |d| {
                d.write("a.rhai", "import \"b\" as b;\nfn f() { 1 }\n");
                d.write("b.rhai", "\nimport \"a\" as a;\n");
                d.write("flow.rhai", "import \"a\" as a;\n");
            },
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "a.rhai imports b.rhai (line 1), b.rhai imports a.rhai (line 2)",
            empty: true,
        },
        Case {
            name: "imports nested ten deep",
            prepare: |d| {
                for i in 1..10 {
                    d.write(&format!("m{i}.rhai"), format!("import \"m{}\" as m;\n", i + 1));
                }
                d.write("m10.rhai", "fn f() { 1 }\n");
                d.write("flow.rhai", "import \"m1\" as m;\n");
            },
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "imports nest more than 8 deep: the script imports m1.rhai (line 1), m1.rhai imports m2.rhai",
            empty: true,
        },
        Case {
            name: "an array nested in itself without end",
            prepare: |d| d.write("deep.rhai", "let a = [];\nloop { a = [a]; }\n"),
            args: &["run", "work/deep.rhai"],
            env: NONE,
            expect: "deep.rhai:2:13: Size of array/BLOB grew past the limit (2000 items",
            empty: true,
        },
        Case {
            name: "a map nested in itself without end",
            prepare: |d| d.write("deep.rhai", "let m = #{};\nloop { m = #{ k: m }; }\n"),
            args: &["run", "work/deep.rhai"],
            env: NONE,
            expect: "Size of object map grew past the limit (2000 items",
            empty: true,
        },
        Case {
            name: "one stdlib function in two files",
            prepare: |d| {
                fs::create_dir(d.w("stdlib")).unwrap();
                d.write("stdlib/a.rhai", "fn my_step(x) { 1 }\n");
                d.write("stdlib/b.rhai", "fn my_step(y) { 2 }\n");
                d.write("flow.rhai", "print(my_step(0));\n");
            },
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "my_step() is defined in two stdlib files:",
            empty: true,
        },
        Case {
            name: "a bundled step replaced in two files",
            prepare: |d| {
                fs::create_dir(d.w("stdlib")).unwrap();
                d.write("stdlib/a.rhai", "fn print_certs(c) { print(\"a\"); }\n");
                d.write("stdlib/b.rhai", "fn print_certs(c) { print(\"b\"); }\n");
                d.write("flow.rhai", "print_certs([]);\n");
            },
            args: &["run", "work/flow.rhai"],
            env: NONE,
            expect: "stdlib/a.rhai and ",
            empty: true,
        },
    ];
    for case in &cases {
        let started = std::time::Instant::now();
        check(case, None);
        // "Within seconds": before, the array loop ran for minutes, then aborted.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{}: took {:?}",
            case.name,
            started.elapsed()
        );
    }
}

/// Folders mtls makes for a certificate alone are 0700 too, under `umask 000`: before,
/// `sign_csr --var cert=x/y/z.pem` made x and x/y 0755 (issue 17, row 11).
#[test]
fn folders_made_for_a_certificate_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    for f in PKI_FILES {
        fs::copy(template().join(f), dir.path().join(f)).unwrap();
    }
    openssl(
        dir.path(),
        &[
            "req",
            "-new",
            "-key",
            "client.key",
            "-out",
            "dev.csr",
            "-subj",
            "/CN=dev1",
        ],
    )
    .success();
    run_under_umask_000(
        dir.path(),
        "run sign_csr.rhai --var csr=dev.csr --var cert=x/y/z.pem",
    );
    let mode = |p: &str| mode_of(&dir.path().join(p));
    assert_eq!(mode("x"), 0o700);
    assert_eq!(mode("x/y"), 0o700);
    assert_eq!(mode("x/y/z.pem"), 0o644);
}
