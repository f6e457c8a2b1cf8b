//! A throw-away PKI made with the `openssl` CLI, for tests that need real certificates.
//!
//! openssl rather than the project's own `pki` module, so that what the gateway accepts is
//! judged against certificates from an independent implementation. EC P-256 keys keep it
//! fast. Everything lives in a temporary directory removed when the `TestPki` is dropped;
//! no key is ever committed or printed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files made by [`TestPki::new`] (all in [`TestPki::dir`]):
/// - `RootCA.pem`/`.key`: the root (v3, CA:TRUE critical, keyCertSign+cRLSign, SKI/AKI);
/// - `inca.pem`/`.key`: an intermediate signed by the root;
/// - `server.pem`/`.key`: `CN=localhost`, SAN DNS:localhost + IP:127.0.0.1, serverAuth,
///   signed by the intermediate;
/// - `client.pem`/`.key`: clientAuth, signed by the root;
/// - `OtherCA.pem`/`.key` and `other_client.pem`/`.key`: an unrelated CA and its client;
/// - `expired_client.pem`/`.key`: signed by the root, valid only in January 2020.
pub struct TestPki {
    dir: tempfile::TempDir,
}

const CONFIG: &str = r#"
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = newcerts
# Required by `openssl ca` even though -rand_serial makes every serial random.
serial = serial
default_md = sha256
default_days = 30
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied

[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[v3_intermediate]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"#;

/// Runs openssl in `dir`, panicking with its stderr on failure (stdout is not shown: it
/// may hold key material for some subcommands).
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.first().copied().unwrap_or(""),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestPki {
    /// Makes the standard set of files described on [`TestPki`].
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("openssl.cnf"), CONFIG).expect("write config");
        std::fs::write(dir.path().join("index.txt"), "").expect("write index");
        std::fs::write(dir.path().join("serial"), "01\n").expect("write serial");
        std::fs::create_dir(dir.path().join("newcerts")).expect("newcerts dir");
        let pki = TestPki { dir };
        pki.self_signed("RootCA", "mtls test root CA");
        pki.issue(
            "inca",
            "mtls test intermediate CA",
            "v3_intermediate",
            "RootCA",
        );
        pki.issue("server", "localhost", "server", "inca");
        pki.issue("client", "mtls test client", "client", "RootCA");
        pki.self_signed("OtherCA", "unrelated CA");
        pki.issue(
            "other_client",
            "client of the unrelated CA",
            "client",
            "OtherCA",
        );
        pki.issue_with_dates(
            "expired_client",
            "expired client",
            "client",
            "RootCA",
            Some(("20200101000000Z", "20200201000000Z")),
        );
        pki
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of a file in the PKI directory, such as `"client.pem"`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A new P-256 key in `NAME.key` (PKCS#8).
    pub fn key(&self, name: &str) {
        openssl(
            self.dir(),
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
    }

    /// A self-signed root CA `NAME.pem` with a fresh key.
    pub fn self_signed(&self, name: &str, cn: &str) {
        self.self_signed_with(name, cn, "v3_root");
    }

    /// Appends sections to the openssl configuration, for profiles of a test's own.
    pub fn add_config(&self, sections: &str) {
        let path = self.path("openssl.cnf");
        let mut text = std::fs::read_to_string(&path).expect("read config");
        text.push_str(sections);
        std::fs::write(&path, text).expect("write config");
    }

    /// Like [`TestPki::self_signed`], with the extensions of config section `section`.
    pub fn self_signed_with(&self, name: &str, cn: &str, section: &str) {
        self.key(name);
        openssl(
            self.dir(),
            &[
                "req",
                "-x509",
                "-new",
                "-config",
                "openssl.cnf",
                "-extensions",
                section,
                "-key",
                &format!("{name}.key"),
                "-subj",
                &format!("/CN={cn}"),
                "-days",
                "30",
                "-sha256",
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }

    /// `NAME.pem` with a fresh key, with the extensions of config section `profile`,
    /// signed by `issuer` (`ISSUER.pem` + `ISSUER.key`), valid for 30 days from now.
    pub fn issue(&self, name: &str, cn: &str, profile: &str, issuer: &str) {
        self.issue_with_dates(name, cn, profile, issuer, None);
    }

    /// Like [`TestPki::issue`], with explicit `(start, end)` dates such as
    /// `("20200101000000Z", "20200201000000Z")`.
    pub fn issue_with_dates(
        &self,
        name: &str,
        cn: &str,
        profile: &str,
        issuer: &str,
        dates: Option<(&str, &str)>,
    ) {
        let mut extra = Vec::new();
        if let Some((start, end)) = dates {
            extra.extend(["-startdate", start, "-enddate", end]);
        }
        self.issue_with(name, cn, profile, issuer, &extra);
    }

    /// Like [`TestPki::issue`], with more arguments for `openssl ca` (such as `-md sha1`).
    pub fn issue_with(&self, name: &str, cn: &str, profile: &str, issuer: &str, extra: &[&str]) {
        self.key(name);
        let csr = format!("{name}.csr");
        openssl(
            self.dir(),
            &[
                "req",
                "-new",
                "-config",
                "openssl.cnf",
                "-key",
                &format!("{name}.key"),
                "-subj",
                &format!("/CN={cn}"),
                "-out",
                &csr,
            ],
        );
        let cert = format!("{name}.pem");
        let issuer_cert = format!("{issuer}.pem");
        let issuer_key = format!("{issuer}.key");
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-rand_serial",
            "-config",
            "openssl.cnf",
            "-extensions",
            profile,
            "-cert",
            &issuer_cert,
            "-keyfile",
            &issuer_key,
            "-in",
            &csr,
            "-out",
            &cert,
        ];
        args.extend_from_slice(extra);
        openssl(self.dir(), &args);
    }

    /// Concatenates PEM files into `NAME`, as a chain or truststore file.
    pub fn concat(&self, name: &str, parts: &[&str]) -> PathBuf {
        let mut text = String::new();
        for part in parts {
            text.push_str(&std::fs::read_to_string(self.path(part)).expect("read part"));
        }
        let path = self.path(name);
        std::fs::write(&path, text).expect("write concatenation");
        path
    }
}

impl TestPki {
    /// The rehearsal gateway's configuration for these files, on a free loopback port:
    /// server.pem + inca.pem as the chain, RootCA.pem as the truststore.
    pub fn serve_config(&self) -> mtls::gateway::ServeConfig {
        mtls::gateway::ServeConfig {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            chain: Some(self.path("inca.pem")),
            truststore: self.path("RootCA.pem"),
            listen: "127.0.0.1:0".parse().expect("literal address"),
            crl: None,
        }
    }
}

/// Config sections for CAs that must not be trusted as issuers: a root whose
/// pathLenConstraint forbids the intermediate under it, and a root whose keyUsage lacks
/// keyCertSign.
const BROKEN_CA_SECTIONS: &str = r#"
[v3_root_pathlen0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[v3_root_no_cert_sign]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"#;

impl TestPki {
    /// CAs that cannot issue, each with what it issued (openssl signs regardless):
    /// - `pl0root` (`CN=pathlen0 root`, pathlen:0) -> `pl0sub` (`CN=under pathlen0`, a CA)
    ///   -> `pl0client` (`CN=client under pathlen0`); `ts_pathlen.pem` holds both CAs;
    /// - `nkcsroot` (`CN=no keyCertSign root`) -> `nkcsclient` (`CN=client of no keyCertSign`);
    /// - `fakeroot`, with RootCA's subject but its own key, -> `badsub` (`CN=badly signed CA`),
    ///   which therefore names RootCA as its issuer without RootCA's signature;
    ///   `ts_badsig.pem` holds RootCA and badsub.
    pub fn broken_cas(&self) {
        self.add_config(BROKEN_CA_SECTIONS);
        self.self_signed_with("pl0root", "pathlen0 root", "v3_root_pathlen0");
        self.issue("pl0sub", "under pathlen0", "v3_intermediate", "pl0root");
        self.issue("pl0client", "client under pathlen0", "client", "pl0sub");
        self.concat("ts_pathlen.pem", &["pl0root.pem", "pl0sub.pem"]);
        self.self_signed_with("nkcsroot", "no keyCertSign root", "v3_root_no_cert_sign");
        self.issue(
            "nkcsclient",
            "client of no keyCertSign",
            "client",
            "nkcsroot",
        );
        self.self_signed("fakeroot", "mtls test root CA");
        self.issue("badsub", "badly signed CA", "v3_intermediate", "fakeroot");
        self.concat("ts_badsig.pem", &["RootCA.pem", "badsub.pem"]);
    }
}
