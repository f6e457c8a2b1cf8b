//! Client fleets: `issue_clients` makes (or keeps) N client key + certificate pairs from one
//! CA on every core, with a manifest (written by manifest.rs). (`sign_csr`, for a device that
//! keeps its own key, is in csr.rs; the CA both sign with, in issuer.rs.)
//!
//! A fleet is one action in a plan ("create 10000 client certificates device-1..
//! device-10000 under clients/, keep 0"), not one per file. Its files are written as one
//! [`crate::workdir::Batch`]: each to a temporary name without a sync, then all made
//! durable at once and renamed (see `Batch` for why a sync per file is not used).

use std::collections::HashSet;
use std::rc::Rc;

use rayon::prelude::*;
use rhai::Map;
use x509_parser::certificate::X509Certificate;

use super::files::apply_file;
use super::issuer::{ca_ref, days_opt, int_or_text, load_ca, Ca, CaRef};
use super::manifest::Entry;
use super::{bound, Opts, Registrar};
use crate::effects::{Action, Kind};
use crate::error::Error;
use crate::pki::{
    hex, new_serial, parse_key_pem, prepare_issuer, rfc3339, sha256_fingerprint, CertSpec,
    KeyAlgorithm, KeyPair, ParsedCert, Profile, SecretPem, Subject,
};
use crate::reconcile::{Diff, Observed};
use crate::script::Context;
use crate::workdir::BatchFile;

/// The most certificates one `issue_clients` makes.
pub const MAX_FLEET: i64 = 1_000_000;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "issue_clients", "issue_clients(opts: map) -> map", "Make or keep N client key + certificate pairs <prefix>1..<prefix>N on every core, and a manifest (<prefix>manifest.csv/.json). opts: count, prefix, issuer (a CA map), algorithm (default ecdsa-p256), days (365), subject #{O,..} (CN is each name), force (replace pairs that cannot be kept).", |c, opts: Map| -> Map { issue_clients(c, &opts) });
}

/// What `issue_clients` was asked for.
struct Fleet {
    count: usize,
    /// The folder part of the prefix (`clients` for `clients/device-`), `""` for none.
    folder: String,
    /// The file part of the prefix (`device-`).
    file_prefix: String,
    algorithm: KeyAlgorithm,
    days: u32,
    /// The subject's attributes other than CN.
    subject: Vec<(String, String)>,
    ca: CaRef,
    force: bool,
    /// The manifest, without its extension (`clients/device-manifest`).
    manifest: String,
    /// `p12: true`: a PKCS#12 bundle beside each pair, with this password.
    p12: Option<super::p12::BundlePassword>,
}

const FLEET_OPTIONS: [&str; 10] = [
    "p12",
    "p12_password_file",
    "count",
    "prefix",
    "algorithm",
    "days",
    "subject",
    "issuer",
    "force",
    "manifest",
];

impl Fleet {
    /// The name of certificate `n` (1-based): `device-7`; its CN.
    fn name(&self, n: usize) -> String {
        format!("{}{n}", self.file_prefix)
    }

    /// A path of the working folder for a file of the fleet's folder.
    fn path(&self, file: &str) -> String {
        if self.folder.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", self.folder)
        }
    }

    fn subject(&self, name: &str) -> Result<Subject, Error> {
        let pairs = self
            .subject
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain([("CN", name.to_string())]);
        Subject::from_pairs(pairs).map_err(|m| {
            Error::invalid_argument(
                "issue_clients",
                "subject",
                m,
                "for example #{ O: \"Example\" }",
            )
        })
    }

    fn spec(&self, name: &str) -> Result<CertSpec, Error> {
        Ok(CertSpec {
            profile: Profile::Client,
            subject: self.subject(name)?,
            sans: Vec::new(),
            days: self.days,
        })
    }
}

/// A file-name part of a prefix: letters, digits, `.`, `_`, `-`, not starting with `.`.
fn name_part_problem(part: &str) -> Option<String> {
    if part.is_empty() {
        return Some("it has an empty part".into());
    }
    if part.starts_with('.') {
        return Some(format!("{part:?} starts with a dot"));
    }
    if let Some(c) = part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "{c:?} is not allowed (use letters, digits, '.', '_', '-')"
        ));
    }
    None
}

fn parse_fleet(ctx: &Context, map: &Map) -> Result<Fleet, Error> {
    let o = Opts::new("issue_clients", map);
    o.only(&FLEET_OPTIONS)?;
    let count = int_or_text(&o, "count")?.ok_or_else(|| {
        Error::invalid_argument(
            "issue_clients",
            "count",
            "missing",
            "for example --var count=100",
        )
    })?;
    if !(1..=MAX_FLEET).contains(&count) {
        return Err(Error::invalid_argument(
            "issue_clients",
            "count",
            format!("{count} is out of range"),
            format!("make 1 to {MAX_FLEET} certificates at a time"),
        ));
    }
    let prefix = o.str("prefix")?;
    let bad_prefix = |problem: String| {
        Error::invalid_argument(
            "issue_clients",
            "prefix",
            format!("{prefix:?}: {problem}"),
            "a file-name prefix such as device- or clients/device- (a folder inside the working folder)",
        )
    };
    let (folder, file_prefix) = match prefix.rsplit_once('/') {
        Some((folder, file)) => (folder.to_string(), file.to_string()),
        None => (String::new(), prefix.clone()),
    };
    for part in folder.split('/').filter(|_| !folder.is_empty()) {
        if let Some(problem) = name_part_problem(part) {
            return Err(bad_prefix(problem));
        }
    }
    if let Some(problem) = name_part_problem(&file_prefix) {
        return Err(bad_prefix(problem));
    }
    // The CN is the name: at most 64 characters with the largest number.
    if file_prefix.len() + 7 > 64 {
        return Err(bad_prefix(
            "it is too long (at most 57 characters after the folder)".into(),
        ));
    }
    ctx.workdir.resolve(&prefix)?;
    let algorithm = o
        .opt_str("algorithm")?
        .unwrap_or_else(|| "ecdsa-p256".into())
        .parse()
        .map_err(|m: String| {
            Error::invalid_argument(
                "issue_clients",
                "algorithm",
                m,
                "for example \"ecdsa-p256\" or \"rsa2048\"",
            )
        })?;
    let days = days_opt("issue_clients", &o)?;
    let mut subject = Vec::new();
    for (k, v) in o.opt_map("subject")?.unwrap_or_default() {
        if k.eq_ignore_ascii_case("CN") {
            return Err(Error::invalid_argument(
                "issue_clients",
                "subject.CN",
                "each certificate's CN is its name",
                "leave CN out; set O, OU, C, ST or L if you want them",
            ));
        }
        if !v.is_string() {
            return Err(Error::invalid_argument(
                "issue_clients",
                &format!("subject.{k}"),
                "expected a string",
                "subject values are strings, e.g. #{ O: \"Example\" }",
            ));
        }
        subject.push((k.to_string(), v.to_string()));
    }
    let manifest = match o.opt_str("manifest")? {
        Some(m) => {
            ctx.workdir.resolve(&m)?;
            m
        }
        None => format!("{prefix}manifest"),
    };
    // The manifest is written after the pairs: its names are checked now, so that a folder,
    // a FIFO or a link out of the working folder there stops the run before the first pair.
    for extension in ["csv", "json"] {
        ctx.workdir.exists(&format!("{manifest}.{extension}"))?;
    }
    let fleet = Fleet {
        count: count as usize,
        folder,
        file_prefix,
        algorithm,
        days,
        subject,
        ca: ca_ref("issue_clients", &o)?,
        force: o.bool_or("force", false)? || ctx.force,
        manifest,
        p12: super::p12::fleet_option(&ctx.workdir, &o)?,
    };
    // Checks the subject once, before anything is read or written.
    fleet.subject(&fleet.name(fleet.count))?;
    Ok(fleet)
}

/// What happens to certificate `n`.
enum Slot {
    /// The pair exists as asked.
    Keep(Entry),
    /// A certificate is made for it (and a key, unless `key` holds the existing one).
    Issue {
        n: usize,
        key: Option<KeyPair>,
        key_exists: bool,
        cert_exists: bool,
    },
}

fn issue_clients(ctx: &Context, map: &Map) -> Result<Map, Error> {
    let fleet = parse_fleet(ctx, map)?;
    let wd = &ctx.workdir;
    // Two runs for the same fleet at once would each find pairs missing and both write
    // them: the second waits for the first (live runs only), then finds them made. The
    // lock is the fleet's real folder and prefix, however a run spells them.
    let _lock = super::lock::Scoped::take_files(
        ctx,
        &fleet.folder,
        &fleet.file_prefix,
        &format!("the client certificates {}*", fleet.file_prefix),
    )?;
    let ca = load_ca(ctx, &fleet.ca)?;

    // What exists: one listing of the folder, then each present pair checked, in parallel.
    let present: HashSet<String> = wd.list_folder(&fleet.folder)?.into_iter().collect();
    // The first pair that cannot be kept (by number, whichever thread found it) is the error.
    let surveyed: Vec<Result<Slot, Error>> = (1..=fleet.count)
        .into_par_iter()
        .map(|n| survey(wd, &fleet, ca.as_ref(), &present, n))
        .collect();
    let slots: Vec<Slot> = surveyed.into_iter().collect::<Result<_, _>>()?;

    let kept: Vec<&Entry> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Keep(e) => Some(e),
            Slot::Issue { .. } => None,
        })
        .collect();
    let replace = slots
        .iter()
        .filter(|s| {
            matches!(
                s,
                Slot::Issue {
                    cert_exists: true,
                    ..
                }
            )
        })
        .count();
    let create = fleet.count - kept.len() - replace;
    let range = format!(
        "{}..{}",
        fleet.path(&fleet.name(1)),
        fleet.name(fleet.count)
    );
    let (csv, json) = (
        format!("{}.csv", fleet.manifest),
        format!("{}.json", fleet.manifest),
    );
    // The folder was listed, in a plan too: what it holds is known.
    let diff: Diff<()> = if replace > 0 {
        Diff::Replace(format!(
            "{create} missing, {replace} cannot be kept (--force)"
        ))
    } else if create > 0 {
        Diff::Create
    } else {
        Diff::Keep("exist, as asked")
    };
    let op = diff.op();
    let reason = match diff {
        Diff::Create => format!("{create} missing"),
        _ => String::new(),
    };
    let shown = Action::new(op, Kind::ClientCertificates, &range, reason)
        .arg("count", fleet.count)
        .arg("create", create)
        .arg("replace", replace)
        .arg("keep", kept.len())
        .arg(
            "folder",
            if fleet.folder.is_empty() {
                "."
            } else {
                &fleet.folder
            },
        )
        .arg("algorithm", fleet.algorithm)
        .arg("profile", Profile::Client)
        .arg("issuer", &fleet.ca.cert)
        .arg("days", fleet.days)
        .arg("keys", "0600")
        .arg("manifest", format!("{csv}, {json}"));
    let kept_serials: Vec<String> = kept.iter().map(|e| e.serial.clone()).collect();
    let made = apply_file(ctx, &Observed::Present(()), &diff, shown, || {
        let ca = ca
            .as_ref()
            .ok_or_else(|| Error::internal("issue client certificates", "the CA was not made"))?;
        make_fleet(ctx, &fleet, ca, &slots, &kept_serials)
    })?;
    // Every entry is known when all are kept, or once a live run made them.
    let mut entries: Option<Vec<Entry>> = match diff {
        Diff::Keep(_) => Some(kept.into_iter().cloned().collect()),
        _ => made,
    };

    if let Some(password) = &fleet.p12 {
        let devices = slots
            .iter()
            .enumerate()
            .map(|(i, s)| (fleet.name(i + 1), matches!(s, Slot::Issue { .. })));
        super::p12::write_fleet(
            ctx,
            &super::p12::FleetBundles {
                folder: &fleet.folder,
                file_prefix: &fleet.file_prefix,
                devices: devices.collect(),
                ca_cert: &fleet.ca.cert,
                password,
            },
        )?;
    }

    // The manifest's `revoked` column, from the CA's revocation list.
    if let (Some(entries), Some(ca)) = (&mut entries, &ca) {
        let marks = entries
            .iter_mut()
            .map(|e| (e.serial.as_str(), &mut e.revoked));
        super::revoke::mark_revoked(ctx, &fleet.ca.cert, &ca.parsed, marks)?;
    }
    // The manifest: written when it is not already what it should be.
    let manifest_status =
        super::manifest::write(ctx, &csv, &json, entries.as_deref(), fleet.count)?;

    let mut m = Map::new();
    m.insert("status".into(), op.name().into());
    m.insert("count".into(), (fleet.count as i64).into());
    m.insert("create".into(), (create as i64).into());
    m.insert("replace".into(), (replace as i64).into());
    m.insert(
        "keep".into(),
        ((fleet.count - create - replace) as i64).into(),
    );
    m.insert("first".into(), fleet.path(&fleet.name(1)).into());
    m.insert("last".into(), fleet.path(&fleet.name(fleet.count)).into());
    m.insert("manifest_csv".into(), csv.into());
    m.insert("manifest_json".into(), json.into());
    m.insert("manifest_status".into(), manifest_status.into());
    m.insert("algorithm".into(), fleet.algorithm.name().into());
    m.insert("issuer".into(), fleet.ca.cert.clone().into());
    Ok(m)
}

/// What to do with certificate `n`: keep a pair that is as asked; otherwise issue, or
/// refuse (a pair that cannot be kept is an error naming it, unless `force`).
fn survey(
    wd: &crate::workdir::Workdir,
    fleet: &Fleet,
    ca: Option<&Ca>,
    present: &HashSet<String>,
    n: usize,
) -> Result<Slot, Error> {
    let name = fleet.name(n);
    let (key_file, cert_file) = (format!("{name}.key"), format!("{name}.pem"));
    let (key_path, cert_path) = (fleet.path(&key_file), fleet.path(&cert_file));
    let key_exists = present.contains(&key_file) && wd.exists(&key_path)?;
    let cert_exists = present.contains(&cert_file) && wd.exists(&cert_path)?;
    let issue = |key| Slot::Issue {
        n,
        key,
        key_exists,
        cert_exists,
    };
    let checked = match (key_exists, cert_exists) {
        (false, false) => return Ok(issue(None)),
        (false, true) => Err(Error::CertWithoutKey {
            cert: cert_path.clone(),
            key: key_path.clone(),
        }),
        (true, false) => load_fleet_key(wd, fleet, &key_path).map(|k| issue(Some(k))),
        (true, true) => check_pair(wd, fleet, ca, &name, &key_path, &cert_path).map(Slot::Keep),
    };
    match checked {
        Err(_) if fleet.force => Ok(issue(None)),
        other => other,
    }
}

fn load_fleet_key(
    wd: &crate::workdir::Workdir,
    fleet: &Fleet,
    path: &str,
) -> Result<KeyPair, Error> {
    let key = parse_key_pem(path, &wd.read_secret(path)?)?;
    match KeyAlgorithm::of_key(&key) {
        Some(found) if found == fleet.algorithm => Ok(key),
        found => Err(Error::KeyAlgorithmMismatch {
            path: path.to_string(),
            found: found.map_or_else(|| "unsupported".to_string(), |a| a.to_string()),
            wanted: fleet.algorithm.to_string(),
        }),
    }
}

/// An existing pair: its key of the asked algorithm and matching the certificate, issued by
/// the CA to the asked subject, still usable.
fn check_pair(
    wd: &crate::workdir::Workdir,
    fleet: &Fleet,
    ca: Option<&Ca>,
    name: &str,
    key_path: &str,
    cert_path: &str,
) -> Result<Entry, Error> {
    let key = load_fleet_key(wd, fleet, key_path)?;
    let cert = ParsedCert::from_pem(cert_path, &wd.read_public(cert_path)?)?;
    let (_, x509) = x509_parser::parse_x509_certificate(&cert.der)
        .map_err(|e| Error::crypto("parse a certificate", e))?;
    if x509.public_key().raw != rcgen::PublicKeyData::subject_public_key_info(&key).as_slice() {
        return Err(Error::KeyMismatch {
            key: key_path.to_string(),
            cert: cert_path.to_string(),
        });
    }
    let problems = crate::pki::lint::aws_problems(&cert)?;
    if !problems.is_empty() {
        return Err(Error::CertificateUnusable {
            cert: cert_path.to_string(),
            problems: problems.join("; "),
        });
    }
    let wrong_issuer = || Error::WrongIssuer {
        cert: cert_path.to_string(),
        issuer: fleet.ca.cert.clone(),
    };
    match ca {
        Some(ca) if issued_by(&x509, &ca.parsed) => {}
        _ => return Err(wrong_issuer()),
    }
    let wanted = fleet.subject(name)?.to_string();
    let found = x509.subject().to_string();
    if found != wanted {
        return Err(Error::CertificateDiffers {
            cert: cert_path.to_string(),
            field: "subject",
            found,
            wanted,
        });
    }
    Ok(entry_of(name, &x509, &cert.der))
}

fn issued_by(cert: &X509Certificate<'_>, ca: &ParsedCert) -> bool {
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(&ca.der) else {
        return false;
    };
    cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

fn entry_of(name: &str, cert: &X509Certificate<'_>, der: &[u8]) -> Entry {
    Entry {
        name: name.to_string(),
        serial: hex(cert.raw_serial(), ""),
        sha256: sha256_fingerprint(der),
        not_after: rfc3339(cert.validity().not_after.to_datetime()),
        revoked: String::new(),
    }
}

/// Makes every pair to issue, on every core, as one batch; returns the whole manifest.
fn make_fleet(
    ctx: &Context,
    fleet: &Fleet,
    ca: &Ca,
    slots: &[Slot],
    kept_serials: &[String],
) -> Result<Vec<Entry>, Error> {
    let issuer = prepare_issuer(&ca.pem, &ca.key)?;
    let todo: Vec<&Slot> = slots
        .iter()
        .filter(|s| matches!(s, Slot::Issue { .. }))
        .collect();
    // Serials are drawn first, all distinct, and distinct from those kept.
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(todo.len());
    let kept: HashSet<&str> = kept_serials.iter().map(String::as_str).collect();
    let mut serials = Vec::with_capacity(todo.len());
    while serials.len() < todo.len() {
        let s = new_serial()?;
        if !kept.contains(hex(&s, "").as_str()) && seen.insert(s.clone()) {
            serials.push(s);
        }
    }

    let batch = ctx.workdir.batch(&fleet.folder)?;
    batch.remove_stale(&fleet.file_prefix)?;
    let interrupt = ctx.interrupt.clone();
    let made: Vec<(usize, Entry)> = todo
        .par_iter()
        .zip(serials.par_iter())
        .map(|(slot, serial)| {
            let Slot::Issue {
                n,
                key,
                key_exists,
                cert_exists,
            } = slot
            else {
                return Err(Error::internal(
                    "issue a client certificate",
                    "nothing to issue",
                ));
            };
            if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                // Ctrl-C: stop making pairs; the batch, dropped, removes what it wrote.
                return Err(Error::Interrupted);
            }
            let name = fleet.name(*n);
            let new_key;
            let (key, replace_key) = match key {
                Some(k) => (k, None),
                None => {
                    new_key = fleet.algorithm.generate()?;
                    (&new_key, Some(*key_exists))
                }
            };
            let signed = fleet
                .spec(&name)?
                .sign(key, fleet.algorithm, &issuer, serial)?;
            let cert_file = format!("{name}.pem");
            match replace_key {
                Some(replace) => {
                    let key_pem = SecretPem::of_key_pair(key);
                    let key_file = format!("{name}.key");
                    batch.stage(&[
                        (&key_file, BatchFile::Secret(&key_pem), replace),
                        (
                            &cert_file,
                            BatchFile::Public(signed.pem.as_bytes()),
                            *cert_exists,
                        ),
                    ])?;
                }
                None => batch.stage(&[(
                    &cert_file,
                    BatchFile::Public(signed.pem.as_bytes()),
                    *cert_exists,
                )])?,
            }
            Ok((
                *n,
                Entry {
                    name,
                    serial: hex(&signed.serial, ""),
                    sha256: sha256_fingerprint(&signed.der),
                    not_after: rfc3339(signed.not_after),
                    revoked: String::new(),
                },
            ))
        })
        .collect::<Result<_, Error>>()?;
    batch.commit()?;

    let mut made = made.into_iter().peekable();
    let mut entries = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter().enumerate() {
        match slot {
            Slot::Keep(e) => entries.push(e.clone()),
            Slot::Issue { .. } => match made.next() {
                Some((n, e)) if n == i + 1 => entries.push(e),
                _ => {
                    return Err(Error::internal(
                        "write the manifest",
                        "a certificate is missing",
                    ))
                }
            },
        }
    }
    Ok(entries)
}
