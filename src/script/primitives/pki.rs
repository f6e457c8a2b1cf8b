//! Keys and certificates for scripts: `issue_cert` makes (or keeps) one key + certificate
//! pair; the stdlib's `gen_root_ca`, `gen_server_cert`, ... are thin Rhai wrappers over it.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver};

use rcgen::PublicKeyData;
use rhai::{Array, Dynamic, Map};

use super::files::{apply_file, file_diff, observe_file};
use super::{bound, primitive, Opts, Registrar};
use crate::effects::{Action, Kind, Op, Unknown};
use crate::error::Error;
use crate::inputs::{dns_name_problem, Wildcard};
use crate::pki::{
    lint, parse_key_pem, CertInfo, CertSpec, IssuerMaterial, KeyAlgorithm, KeyPair, ParsedCert,
    Profile, SecretPem, Subject,
};
use crate::reconcile::{Diff, Observed};
use crate::script::error::fail;
use crate::script::Context;
use crate::workdir::Secrecy;

type RhaiResult<T> = Result<T, Box<rhai::EvalAltResult>>;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "pregen_key", "pregen_key(path: string, algorithm: string)", "Start generating the key for `path` in the background, on a pool of one thread per core (live runs, missing keys only); the step that needs it picks it up.", |c, path: &str, algorithm: &str| -> () { pregen_key(c, path, algorithm) });
    bound!(reg, ctx, "issue_cert", "issue_cert(opts: map) -> map", "Make or keep a key + certificate pair. opts: profile (root|intermediate|server|client), key, cert, algorithm, subject #{C,ST,L,O,OU,CN}, san [..], days, issuer (a CA map), force, keep_existing (keep an existing certificate valid for its role whatever its subject and key type).", |c, opts: Map| -> Map { issue_cert(c, &opts) });
    let c = ctx.clone();
    primitive!(reg, "inspect_cert", "inspect_cert(path: string) -> map",
        "The facts of a PEM certificate: subject, issuer, serial, not_before, not_after, key_algorithm, is_ca, path_len, key_usage, extended_key_usage, san, sha256.",
        move |path: &str| -> RhaiResult<Map> {
            let pem = c.workdir.read_public(path).map_err(fail)?;
            let info = ParsedCert::from_pem(path, &pem).and_then(|p| p.info()).map_err(fail)?;
            Ok(info_map(&info))
        });
    let c = ctx.clone();
    primitive!(
        reg,
        "key_algorithms",
        "key_algorithms() -> array",
        "The key algorithms mtls can generate (all accepted by ACM and API Gateway).",
        move || -> Array {
            let _ = &c;
            KeyAlgorithm::ALL
                .iter()
                .map(|a| Dynamic::from(a.name().to_string()))
                .collect()
        }
    );
}

/// A key being generated on its own thread, and the algorithm it was asked for.
type PendingKey = (KeyAlgorithm, Receiver<Result<KeyPair, Error>>);

/// Keys being generated in the background, by file name.
#[derive(Default)]
pub(crate) struct KeyPool {
    pending: std::cell::RefCell<HashMap<String, PendingKey>>,
}

impl KeyPool {
    /// The key for `path`: the one generated in the background if it was started with the
    /// same algorithm, else a new one generated now.
    fn take_or_generate(&self, path: &str, alg: KeyAlgorithm) -> Result<KeyPair, Error> {
        let pending = self.pending.borrow_mut().remove(path);
        match pending {
            Some((started, key)) if started == alg => key.recv().unwrap_or_else(|_| {
                Err(Error::crypto(
                    format!("generate a {alg} key"),
                    "the background generation failed",
                ))
            }),
            _ => alg.generate(),
        }
    }
}

fn parse_algorithm(function: &'static str, name: &str) -> Result<KeyAlgorithm, Error> {
    name.parse().map_err(|message: String| {
        Error::invalid_argument(
            function,
            "algorithm",
            message,
            "for example \"rsa2048\" or \"ecdsa-p256\"",
        )
    })
}

fn pregen_key(ctx: &Context, path: &str, algorithm: &str) -> Result<(), Error> {
    let alg = parse_algorithm("pregen_key", algorithm)?;
    // An existing key is reused unless --force replaces it.
    if ctx.workdir.exists(path)? && !ctx.force {
        return Ok(());
    }
    // A plan generates nothing.
    ctx.effects.prepare(|| {
        // On rayon's pool (one thread per core, shared with the fleets), not a thread per
        // key: a script may ask for many.
        let (tx, key) = channel();
        rayon::spawn(move || {
            let _ = tx.send(alg.generate());
        });
        ctx.keys
            .pending
            .borrow_mut()
            .insert(path.to_string(), (alg, key));
        Ok(())
    })?;
    Ok(())
}

/// What `issue_cert` was asked for.
struct Request {
    spec: CertSpec,
    algorithm: KeyAlgorithm,
    key_path: String,
    cert_path: String,
    issuer: Option<IssuerRef>,
    force: bool,
    /// `keep_existing: true` (setup's `--var keep_existing_pki=true`): an existing
    /// certificate valid for its role is kept whatever its subject and key type.
    keep_existing: bool,
}

/// The CA a certificate is signed by, as returned by an earlier `issue_cert`.
struct IssuerRef {
    key_path: String,
    cert_path: String,
    /// The CA is new in this run (so nothing existing can have been signed by it).
    is_new: bool,
}

const ISSUE_OPTIONS: [&str; 10] = [
    "profile",
    "key",
    "cert",
    "algorithm",
    "subject",
    "san",
    "days",
    "issuer",
    "force",
    "keep_existing",
];

fn parse_request(ctx: &Context, map: &Map) -> Result<Request, Error> {
    let o = Opts::new("issue_cert", map);
    o.only(&ISSUE_OPTIONS)?;
    let profile: Profile = o.str("profile")?.parse().map_err(|m: String| {
        Error::invalid_argument(
            "issue_cert",
            "profile",
            m,
            "one of root, intermediate, server, client",
        )
    })?;
    let algorithm = parse_algorithm(
        "issue_cert",
        &o.opt_str("algorithm")?.unwrap_or_else(|| "rsa2048".into()),
    )?;
    let subject_map = o.opt_map("subject")?.unwrap_or_default();
    let mut pairs = Vec::new();
    for (k, v) in &subject_map {
        if !v.is_string() {
            return Err(Error::invalid_argument(
                "issue_cert",
                &format!("subject.{k}"),
                format!(
                    "expected a string, got {}",
                    crate::script::primitives::args::describe(v)
                ),
                "subject values are strings, e.g. #{ CN: \"api.example.com\" }",
            ));
        }
        pairs.push((k.as_str(), v.to_string()));
    }
    let subject = Subject::from_pairs(pairs).map_err(|m| {
        Error::invalid_argument(
            "issue_cert",
            "subject",
            m,
            "for example #{ C: \"JP\", O: \"Example\", CN: \"api.example.com\" }",
        )
    })?;
    let days = o.opt_int("days")?.unwrap_or(365);
    if !(1..=36500).contains(&days) {
        return Err(Error::invalid_argument(
            "issue_cert",
            "days",
            format!("{days} is out of range"),
            "use 1 to 36500 days",
        ));
    }
    let issuer = match o.opt_map("issuer")? {
        Some(m) => {
            let io = Opts::new("issue_cert", &m);
            let status = io.opt_str("status")?.unwrap_or_default();
            Some(IssuerRef {
                key_path: io.str("key")?,
                cert_path: io.str("cert")?,
                is_new: status == "create" || status == "replace",
            })
        }
        None => None,
    };
    if issuer.is_none() && !profile.is_self_signed() {
        return Err(Error::invalid_argument(
            "issue_cert",
            "issuer",
            format!("a {profile} certificate needs an issuing CA"),
            "pass the map returned by gen_root_ca or gen_intermediate_ca",
        ));
    }
    let sans = o.str_list("san")?;
    for san in &sans {
        if san.parse::<std::net::IpAddr>().is_err() {
            if let Some(problem) = dns_name_problem(san, Wildcard::Allowed) {
                return Err(Error::invalid_argument(
                    "issue_cert",
                    "san",
                    format!("{san:?} is not a DNS name or IP address: {problem}"),
                    "subject alternative names are DNS names (api.example.com, *.example.com) or IP addresses",
                ));
            }
        }
    }
    Ok(Request {
        spec: CertSpec {
            profile,
            subject,
            sans,
            days: days as u32,
        },
        algorithm,
        key_path: o.str("key")?,
        cert_path: o.str("cert")?,
        issuer,
        force: o.bool_or("force", false)? || ctx.force,
        keep_existing: o.bool_or("keep_existing", false)?,
    })
}

fn issue_cert(ctx: &Context, map: &Map) -> Result<Map, Error> {
    let req = parse_request(ctx, map)?;
    let wd = &ctx.workdir;
    let key_seen = observe_file(ctx, &req.key_path)?;
    let cert_seen = observe_file(ctx, &req.cert_path)?;
    let key_exists = key_seen.present().is_some();
    let cert_exists = cert_seen.present().is_some();

    if cert_exists && !req.force {
        return keep_existing(ctx, &req);
    }
    // Before the key is written: a CA that cannot sign (expired, SHA-1, weak) is an error
    // now, not after a new key is on disk.
    if let Some(issuer) = &req.issuer {
        if wd.exists(&issuer.cert_path)? {
            let ca = ParsedCert::from_pem(&issuer.cert_path, &wd.read_public(&issuer.cert_path)?)?;
            usable(&issuer.cert_path, &ca)?;
            issuer_allows(&issuer.cert_path, &ca, &req)?;
        }
    }

    // The key: reuse an existing one unless forced, otherwise make one.
    let key_diff = file_diff(&key_seen, req.force, "exists, reused");
    let key = if let Diff::Keep(_) = key_diff {
        let existing = load_key(ctx, &req.key_path)?;
        check_algorithm(&req, &existing)?;
        let shown = kept_key_action(ctx, &req)?;
        apply_file(ctx, &key_seen, &key_diff, shown, || Ok(()))?;
        Some(existing)
    } else {
        let shown = key_action(key_diff.op(), &req);
        apply_file(ctx, &key_seen, &key_diff, shown, || {
            let new = ctx.keys.take_or_generate(&req.key_path, req.algorithm)?;
            wd.write_secret(&req.key_path, &SecretPem::of_key_pair(&new), key_exists)?;
            Ok(new)
        })?
    };

    // Kept certificates went to `keep_existing` above: this one is made, or made anew.
    let cert_diff = file_diff(&cert_seen, req.force, "exists, as asked");
    let op = cert_diff.op();
    let shown = cert_action(op, &req);
    let issued = apply_file(ctx, &cert_seen, &cert_diff, shown, || {
        let key = key
            .as_ref()
            .ok_or_else(|| Error::internal("issue a certificate", "its key was not loaded"))?;
        let pem = match &req.issuer {
            Some(issuer) => {
                let ca_pem = wd.read_public(&issuer.cert_path)?;
                let ca_key = load_key(ctx, &issuer.key_path)?;
                req.spec.issue(
                    key,
                    req.algorithm,
                    Some(IssuerMaterial {
                        cert_pem: &ca_pem,
                        key: &ca_key,
                    }),
                )?
            }
            None => req.spec.issue(key, req.algorithm, None)?,
        };
        wd.write(&req.cert_path, pem.as_bytes(), Secrecy::Public, cert_exists)?;
        ParsedCert::from_pem(&req.cert_path, &pem)?.info()
    })?;
    if let Some(info) = &issued {
        ctx.effects.resolve(&req.cert_path, "sha256", &info.sha256);
    }
    Ok(result_map(&req, op, issued.as_ref()))
}

/// The certificate exists: check it is what the script asks for, then keep it.
fn keep_existing(ctx: &Context, req: &Request) -> Result<Map, Error> {
    let wd = &ctx.workdir;
    if !wd.exists(&req.key_path)? {
        return Err(Error::CertWithoutKey {
            cert: req.cert_path.clone(),
            key: req.key_path.clone(),
        });
    }
    let key = load_key(ctx, &req.key_path)?;
    if !req.keep_existing {
        check_algorithm(req, &key)?;
    }
    let certs = ParsedCert::all_from_pem(&req.cert_path, &wd.read_public(&req.cert_path)?)?;
    let cert = certs[0].clone();
    if cert.spki_der()? != key.subject_public_key_info() {
        // A file whose key matches a later certificate is a chain in the wrong order.
        let position = certs.iter().position(|c| {
            c.spki_der().ok().as_deref() == Some(key.subject_public_key_info().as_slice())
        });
        return Err(match position {
            Some(i) => Error::CertificateOrder {
                cert: req.cert_path.clone(),
                key: req.key_path.clone(),
                position: i + 1,
                count: certs.len(),
            },
            None => Error::KeyMismatch {
                key: req.key_path.clone(),
                cert: req.cert_path.clone(),
            },
        });
    }
    if let Some(extra) = certs.get(1) {
        let extra_info = extra.info()?;
        return Err(Error::ExtraCertificate {
            cert: req.cert_path.clone(),
            count: certs.len(),
            extra: format!("{} (SHA-256 {})", extra_info.subject, extra_info.sha256),
        });
    }
    usable(&req.cert_path, &cert)?;
    if req.spec.profile.is_ca() {
        able_to_issue(&req.cert_path, &cert, "certificates", 0)?;
    }
    let info = cert.info()?;
    let differs = |field, found: String, wanted: String| Error::CertificateDiffers {
        cert: req.cert_path.clone(),
        field,
        found,
        wanted,
    };
    let wanted_subject = req.spec.subject.to_string();
    let wanted_sans: Vec<String> = req.spec.sans.iter().map(|s| san_text(s)).collect();
    if req.keep_existing {
        // Whatever its subject: it must still name what it serves (a server certificate
        // its domain, in a DNS name or, as the article's has it, in its CN).
        if let Some(missing) = req.spec.sans.iter().find(|n| {
            !info.san.contains(&san_text(n)) && !info.subject.ends_with(&format!("CN={n}"))
        }) {
            return Err(differs(
                "names",
                format!("{:?} (subject {})", info.san, info.subject),
                format!("a certificate that names {missing}"),
            ));
        }
    } else if info.subject != wanted_subject {
        return Err(differs("subject", info.subject.clone(), wanted_subject));
    }
    if !req.keep_existing && info.san != wanted_sans {
        return Err(differs(
            "subject alternative names",
            format!("{:?}", info.san),
            format!("{wanted_sans:?}"),
        ));
    }
    if let Some(issuer) = &req.issuer {
        let wrong = || Error::WrongIssuer {
            cert: req.cert_path.clone(),
            issuer: issuer.cert_path.clone(),
        };
        if issuer.is_new {
            return Err(wrong());
        }
        let ca = ParsedCert::from_pem(&issuer.cert_path, &wd.read_public(&issuer.cert_path)?)?;
        if !cert.is_issued_by(&ca) {
            return Err(wrong());
        }
        issuer_allows(&issuer.cert_path, &ca, req)?;
    }
    let present = Observed::Present(());
    let kept_key = kept_key_action(ctx, req)?;
    apply_file(ctx, &present, &Diff::Keep("exists"), kept_key, || Ok(()))?;
    let kept_cert = cert_action(Op::Keep, req).arg("sha256", &info.sha256);
    apply_file(
        ctx,
        &present,
        &Diff::Keep("exists, as asked"),
        kept_cert,
        || Ok(()),
    )?;
    ctx.warn_if_cert_expiring(
        &req.cert_path,
        &cert,
        "make a new one with --force (or `force: true` in the step's options)",
    );
    Ok(result_map(req, Op::Keep, Some(&info)))
}

/// A certificate mtls keeps, or signs with, must still be one AWS and openssl accept:
/// not expired, SHA-256 or stronger, a key of a size they take.
fn usable(path: &str, cert: &ParsedCert) -> Result<(), Error> {
    let problems = crate::pki::lint::aws_problems(cert)?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::CertificateUnusable {
        cert: path.to_string(),
        problems: problems.join("; "),
    })
}

/// The CA `path` may issue what `req` makes: it is a CA with keyCertSign, and a CA
/// made under it fits its pathLenConstraint (the rules of `mtls check`).
fn issuer_allows(path: &str, ca: &ParsedCert, req: &Request) -> Result<(), Error> {
    let profile = req.spec.profile;
    // An intermediate made under the CA is one more CA below it on every client path.
    let below = usize::from(profile.is_ca());
    able_to_issue(
        path,
        ca,
        &format!("the {} certificate {}", profile, req.cert_path),
        below,
    )
}

/// `ca` may sign a certificate with `below` CAs between them ([`lint::cannot_issue`]).
fn able_to_issue(path: &str, ca: &ParsedCert, what: &str, below: usize) -> Result<(), Error> {
    match lint::cannot_issue(&ca.der, below) {
        None => Ok(()),
        Some(reason) => Err(Error::CaCannotIssue {
            cert: path.to_string(),
            what: what.to_string(),
            reason,
        }),
    }
}

fn load_key(ctx: &Context, path: &str) -> Result<KeyPair, Error> {
    parse_key_pem(path, &ctx.workdir.read_secret(path)?)
}

fn check_algorithm(req: &Request, key: &KeyPair) -> Result<(), Error> {
    match KeyAlgorithm::of_key(key) {
        Some(found) if found == req.algorithm => Ok(()),
        found => Err(Error::KeyAlgorithmMismatch {
            path: req.key_path.clone(),
            found: found.map_or_else(|| "unsupported".to_string(), |a| a.to_string()),
            wanted: req.algorithm.to_string(),
        }),
    }
}

fn san_text(name: &str) -> String {
    if name.parse::<std::net::IpAddr>().is_ok() {
        format!("IP:{name}")
    } else {
        format!("DNS:{name}")
    }
}

/// A key as the plan shows it (the driver gives the reason).
fn key_action(op: Op, req: &Request) -> Action {
    Action::new(op, Kind::PrivateKey, &req.key_path, "")
        .arg("algorithm", req.algorithm)
        .arg("mode", "0600")
}

/// A kept key, with the mode it really has (reading it already refused a mode that lets
/// others read it).
fn kept_key_action(ctx: &Context, req: &Request) -> Result<Action, Error> {
    let mode = ctx.workdir.mode(&req.key_path)?.unwrap_or(0o600);
    Ok(Action::new(Op::Keep, Kind::PrivateKey, &req.key_path, "")
        .arg("algorithm", req.algorithm)
        .arg("mode", format!("{mode:04o}")))
}

/// A certificate as the plan shows it (the driver gives the reason).
fn cert_action(op: Op, req: &Request) -> Action {
    let mut a = Action::new(op, Kind::Certificate, &req.cert_path, "")
        .arg("profile", req.spec.profile)
        .arg("subject", &req.spec.subject);
    if !req.spec.sans.is_empty() {
        a = a.arg("san", req.spec.sans.join(", "));
    }
    a = a.arg(
        "issuer",
        req.issuer
            .as_ref()
            .map_or("self-signed", |i| i.cert_path.as_str()),
    );
    if op != Op::Keep {
        a = a
            .arg("days", req.spec.days)
            .arg_maybe("sha256", None::<String>);
    }
    a
}

/// What `issue_cert` returns: the request's paths, and the certificate's facts (unknown in
/// a plan for a certificate not made yet).
fn result_map(req: &Request, op: Op, info: Option<&CertInfo>) -> Map {
    let mut m = match info {
        Some(info) => info_map(info),
        None => {
            let mut m = Map::new();
            m.insert("subject".into(), req.spec.subject.to_string().into());
            for field in ["serial", "not_before", "not_after", "sha256", "issuer"] {
                m.insert(field.into(), Dynamic::from(Unknown));
            }
            m
        }
    };
    m.insert("profile".into(), req.spec.profile.name().into());
    m.insert("key".into(), req.key_path.clone().into());
    m.insert("cert".into(), req.cert_path.clone().into());
    m.insert("algorithm".into(), req.algorithm.name().into());
    m.insert("status".into(), op.name().into());
    m
}

fn info_map(info: &CertInfo) -> Map {
    let list = |v: &[String]| -> Dynamic {
        v.iter()
            .cloned()
            .map(Dynamic::from)
            .collect::<Array>()
            .into()
    };
    let mut m = Map::new();
    m.insert("subject".into(), info.subject.clone().into());
    m.insert("issuer".into(), info.issuer.clone().into());
    m.insert("serial".into(), info.serial.clone().into());
    m.insert("not_before".into(), info.not_before.clone().into());
    m.insert("not_after".into(), info.not_after.clone().into());
    m.insert("key_algorithm".into(), info.key_algorithm.clone().into());
    m.insert(
        "signature_algorithm".into(),
        info.signature_algorithm.clone().into(),
    );
    m.insert("version".into(), (info.version as i64).into());
    m.insert("is_ca".into(), info.is_ca.into());
    m.insert(
        "path_len".into(),
        info.path_len.map_or(Dynamic::UNIT, |p| (p as i64).into()),
    );
    m.insert("key_usage".into(), list(&info.key_usage));
    m.insert("extended_key_usage".into(), list(&info.extended_key_usage));
    m.insert("san".into(), list(&info.san));
    m.insert("sha256".into(), info.sha256.clone().into());
    m
}
