//! Revocation for scripts: `revoke_cert` adds a certificate to its issuing CA's revocation
//! list and signs the next list, written as `<CA>.crl.pem` next to the CA.
//!
//! The list on disk is the state (RFC 5280, section 5): it is read, checked to be the CA's
//! own (issuer name and signature), and the next one keeps every entry it had, adds the
//! new one and carries a higher CRL number. Everything is read and checked before the one
//! write, which is atomic, so a refused revocation leaves the list as it was.

use std::collections::HashMap;
use std::rc::Rc;

use rhai::Map;
use x509_parser::num_bigint::BigUint;

use super::files::{apply_file, observe_file};
use super::issuer::{ca_ref, int_or_text, load_ca, Ca, CaRef};
use super::{bound, Opts, Registrar};
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::pki::crl::{now_seconds, parse_serial_hex, trim_serial};
use crate::pki::{hex, rfc3339, Crl, NextCrl, ParsedCert, Reason, Revoked, MAX_CRL_BYTES};
use crate::reconcile::{Change, Diff, Observed};
use crate::script::Context;
use crate::workdir::Secrecy;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "revoke_cert", "revoke_cert(opts: map) -> map", "Add a certificate to its issuing CA's revocation list and sign the next list (<CA>.crl.pem next to the CA). opts: issuer (a CA map), cert (a file the CA issued) or serial (hex), reason (keyCompromise, superseded, ...; default unspecified), days (until the next update, default 30), crl (the list's file), crl_number (the next number, above the one on disk). Neither cert nor serial: make or renew the list only.", |c, opts: Map| -> Map { revoke_cert(c, &opts) });
}

const REVOKE_OPTIONS: [&str; 7] = [
    "issuer",
    "cert",
    "serial",
    "reason",
    "days",
    "crl",
    "crl_number",
];

/// Days until a list's next update when none is given: a month, as `openssl ca`'s
/// `default_crl_days` examples use.
const DEFAULT_CRL_DAYS: i64 = 30;

/// The longest next update mtls signs: a revocation list is meant to be renewed.
const MAX_CRL_DAYS: i64 = 3650;

/// What is revoked: a certificate file, or a serial number of the CA's.
enum Target {
    Cert(String),
    Serial(Vec<u8>),
}

/// What `revoke_cert` was asked for, every input checked.
struct Request {
    ca: CaRef,
    target: Option<Target>,
    reason: Reason,
    days: u32,
    crl: String,
    number: Option<BigUint>,
}

/// The list file of a CA certificate file: `RootCA.pem` -> `RootCA.crl.pem`.
pub(super) fn crl_path_of(ca_cert: &str) -> String {
    let stem = ca_cert.strip_suffix(".pem").unwrap_or(ca_cert);
    format!("{stem}.crl.pem")
}

fn parse_request(map: &Map) -> Result<Request, Error> {
    let o = Opts::new("revoke_cert", map);
    o.only(&REVOKE_OPTIONS)?;
    let ca = ca_ref("revoke_cert", &o)?;
    let target = match (o.opt_str("cert")?, o.opt_str("serial")?) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_argument(
                "revoke_cert",
                "serial",
                "both cert and serial are given",
                "name the certificate one way: --var cert=FILE, or --var serial=HEX",
            ))
        }
        (Some(cert), None) => Some(Target::Cert(cert)),
        (None, Some(serial)) => Some(Target::Serial(parse_serial_hex(&serial).map_err(|m| {
            Error::invalid_argument(
                "revoke_cert",
                "serial",
                m,
                "the serial as `openssl x509 -noout -serial` prints it, e.g. 5A3F09...",
            )
        })?)),
        (None, None) => None,
    };
    let reason = match o.opt_str("reason")? {
        Some(text) => Reason::parse(&text).map_err(|m| {
            Error::invalid_argument(
                "revoke_cert",
                "reason",
                m,
                format!("one of {}", Reason::accepted()),
            )
        })?,
        None => Reason::UNSPECIFIED,
    };
    let days = int_or_text(&o, "days")?.unwrap_or(DEFAULT_CRL_DAYS);
    if !(1..=MAX_CRL_DAYS).contains(&days) {
        return Err(Error::invalid_argument(
            "revoke_cert",
            "days",
            format!("{days} is out of range"),
            format!("the next update is 1 to {MAX_CRL_DAYS} days away"),
        ));
    }
    let number = match o.opt_str("crl_number")? {
        Some(text) => Some(text.trim().parse::<BigUint>().map_err(|_| {
            Error::invalid_argument(
                "revoke_cert",
                "crl_number",
                format!("{text:?} is not a whole number"),
                "a decimal number above the CRL number of the list on disk",
            )
        })?),
        None => None,
    };
    let crl = o.opt_str("crl")?.unwrap_or_else(|| crl_path_of(&ca.cert));
    Ok(Request {
        ca,
        target,
        reason,
        days: days as u32,
        crl,
        number,
    })
}

fn revoke_cert(ctx: &Context, map: &Map) -> Result<Map, Error> {
    let req = parse_request(map)?;
    let wd = &ctx.workdir;
    // Two revocations at once would each read list N and write their own N+1, and one
    // entry would be lost: the second waits for the first, then reads its list.
    let (folder, file) = req.crl.rsplit_once('/').unwrap_or(("", &req.crl));
    let _lock = super::lock::Scoped::take_files(ctx, folder, file, "the revocation list")?;
    if let Some(pending) = made_by_this_run(ctx, &req)? {
        return planned(ctx, &req, &pending);
    }
    let ca = load_ca(ctx, &req.ca)?.ok_or_else(|| {
        Error::invalid_argument(
            "revoke_cert",
            "issuer",
            format!("{} does not exist yet", req.ca.cert),
            "a CA revokes what it issued: make the CA first (pki.rhai)",
        )
    })?;
    let serial = match &req.target {
        Some(Target::Cert(path)) => Some(serial_issued_by(ctx, path, &req.ca.cert, &ca)?),
        Some(Target::Serial(serial)) => Some(serial.clone()),
        None => None,
    };
    let exists = wd.exists(&req.crl)?;
    let current = if exists {
        Some(read_list(ctx, &req.crl, &ca.parsed)?)
    } else {
        None
    };
    let number = NextCrl::number_after(current.as_ref().map(|c| &c.number), req.number.clone())
        .map_err(|problem| Error::CrlRefused {
            path: req.crl.clone(),
            problem,
            help: "a CRL number only grows (RFC 5280, section 5.2.3): leave crl_number out to take the next one; nothing was written".to_string(),
        })?;
    let listed = match (&current, &serial) {
        (Some(list), Some(s)) => list.find(s).cloned(),
        _ => None,
    };
    let expired = current
        .as_ref()
        .is_some_and(|c| c.expired_at(now_seconds()));
    // RFC 5280 names: a list is signed anew when its entries or its next update change.
    let signed_again = |field| Diff::Update(vec![Change { field, patch: () }]);
    let (diff, why): (Diff<()>, String) = match (&current, &serial, &listed) {
        (None, _, _) => (Diff::Create, String::new()),
        (Some(_), _, _) if expired => (
            signed_again("nextUpdate"),
            "its next update has passed: signed again".to_string(),
        ),
        (Some(_), Some(s), None) => (
            signed_again("revokedCertificates"),
            format!("adds serial {}", hex(s, "")),
        ),
        (Some(_), Some(_), Some(r)) => (
            Diff::Keep("already revoked"),
            format!("already revoked on {} ({})", rfc3339(r.at), r.reason.name()),
        ),
        (Some(_), None, _) => (Diff::Keep("exists"), String::new()),
    };
    let op = diff.op();
    // A kept list shows its own number; a list signed anew, the next one.
    let shown_number = match (&current, op) {
        (Some(c), Op::Keep) => c.number.clone(),
        _ => number.clone(),
    };
    // The list read is not needed again: its entries move into the next one (a list of
    // 100,000 is not copied on the way to being signed).
    let mut entries = current.map(|c| c.entries).unwrap_or_default();
    if let (Some(s), None) = (&serial, &listed) {
        entries.push(Revoked {
            serial: s.clone(),
            at: now_seconds(),
            reason: req.reason,
        });
    }
    let mut action =
        Action::new(op, Kind::RevocationList, &req.crl, why).arg("issuer", &req.ca.cert);
    if let Some(s) = &serial {
        action = action.arg("serial", hex(s, "")).arg(
            "reason",
            listed.as_ref().map_or(req.reason, |r| r.reason).name(),
        );
    }
    action = action.arg("entries", entries.len());
    action = action.arg("crl_number", &shown_number);
    if op != Op::Keep {
        action = action.arg("next_update", format!("in {} days", req.days));
    }
    let seen = if exists {
        Observed::Present(())
    } else {
        Observed::Absent
    };
    let next = NextCrl {
        number,
        days: req.days,
        entries,
    };
    apply_file(ctx, &seen, &diff, action, || {
        let pem = next.sign(&ca.parsed, &ca.pem, &ca.key)?;
        wd.write(&req.crl, pem.as_bytes(), Secrecy::Public, exists)
    })?;
    let entries = next.entries;
    let mut m = Map::new();
    m.insert("status".into(), op.name().into());
    m.insert("crl".into(), req.crl.clone().into());
    m.insert("issuer".into(), req.ca.cert.clone().into());
    m.insert("crl_number".into(), shown_number.to_string().into());
    m.insert("entries".into(), (entries.len() as i64).into());
    if let Some(s) = &serial {
        let entry = listed.as_ref().or(entries.last());
        m.insert("serial".into(), hex(s, "").into());
        if let Some(e) = entry {
            m.insert("reason".into(), e.reason.name().into());
            m.insert("revoked_at".into(), rfc3339(e.at).into());
        }
    }
    Ok(m)
}

/// The CA or the certificate to revoke when this run makes it and it is not on disk yet
/// (a plan): what the list will hold is known only once they are made.
fn made_by_this_run(ctx: &Context, req: &Request) -> Result<Option<String>, Error> {
    let wd = &ctx.workdir;
    if req.ca.is_new && !wd.exists(&req.ca.cert)? {
        return Ok(Some(req.ca.cert.clone()));
    }
    match &req.target {
        Some(Target::Cert(path)) if ctx.effects.touched(path) && !wd.exists(path)? => {
            Ok(Some(path.clone()))
        }
        _ => Ok(None),
    }
}

/// The plan's action for a list whose CA or certificate this run makes first.
fn planned(ctx: &Context, req: &Request, pending: &str) -> Result<Map, Error> {
    let seen = observe_file(ctx, &req.crl)?;
    let diff: Diff<()> = match seen {
        Observed::Present(()) => Diff::Update(vec![Change {
            field: "revokedCertificates",
            patch: (),
        }]),
        _ => Diff::Create,
    };
    let op = diff.op();
    let mut action = Action::new(
        op,
        Kind::RevocationList,
        &req.crl,
        format!("after {pending} is made"),
    )
    .arg("issuer", &req.ca.cert);
    if req.target.is_some() {
        action = action
            .arg_maybe("serial", None::<String>)
            .arg("reason", req.reason.name());
    }
    action = action
        .arg_maybe("crl_number", None::<String>)
        .arg("next_update", format!("in {} days", req.days));
    apply_file(ctx, &seen, &diff, action, || {
        Err::<(), _>(Error::internal(
            "revoke a certificate",
            format!("{pending} was still missing when the list was signed"),
        ))
    })?;
    let mut m = Map::new();
    m.insert("status".into(), op.name().into());
    m.insert("crl".into(), req.crl.clone().into());
    m.insert("issuer".into(), req.ca.cert.clone().into());
    for field in ["crl_number", "entries", "serial", "revoked_at"] {
        m.insert(field.into(), rhai::Dynamic::from(crate::effects::Unknown));
    }
    m.insert("reason".into(), req.reason.name().into());
    Ok(m)
}

/// The serial of the certificate in `path`, once it is known that the CA issued it: its
/// issuer name is the CA's subject and the CA's key made its signature.
fn serial_issued_by(ctx: &Context, path: &str, ca_path: &str, ca: &Ca) -> Result<Vec<u8>, Error> {
    let cert = ParsedCert::from_pem(path, &ctx.workdir.read_public(path)?)?;
    let info = cert.info()?;
    if !cert.is_issued_by(&ca.parsed) {
        let ca_subject = ca.parsed.info()?.subject;
        let problem = if info.issuer == ca_subject {
            format!("its issuer is named {ca_subject}, but another key signed it")
        } else {
            format!("its issuer is {}, not {ca_subject}", info.issuer)
        };
        return Err(Error::NotIssuedByCa {
            cert: path.to_string(),
            ca: ca_path.to_string(),
            problem,
        });
    }
    Ok(trim_serial(
        &parse_serial_hex(&info.serial).unwrap_or_default(),
    ))
}

/// The CA's list on disk, read and checked to be the CA's own.
fn read_list(ctx: &Context, path: &str, ca: &ParsedCert) -> Result<Crl, Error> {
    let text = ctx.workdir.read_public_up_to(path, MAX_CRL_BYTES)?;
    let list = Crl::from_pem(path, &text)?;
    if let Some(problem) = list.not_signed_by(ca) {
        return Err(Error::CrlRefused {
            path: path.to_string(),
            problem,
            help: "the list next to a CA must be the CA's own, unchanged since it was signed: restore it from a backup, or move it away to start a new list (the revocations it held are then lost); nothing was written".to_string(),
        });
    }
    Ok(list)
}

/// Marks the revoked ones among a fleet's `(serial, revoked)` cells with the date their CA
/// revoked them, read from the CA's list when one exists (checked to be the CA's own).
pub(super) fn mark_revoked<'a>(
    ctx: &Context,
    ca_cert: &str,
    ca: &ParsedCert,
    cells: impl Iterator<Item = (&'a str, &'a mut String)>,
) -> Result<(), Error> {
    let path = crl_path_of(ca_cert);
    if !ctx.workdir.exists(&path)? {
        return Ok(());
    }
    let list = read_list(ctx, &path, ca)?;
    let revoked: HashMap<String, String> = list
        .entries
        .iter()
        .map(|r| (r.serial_hex(), rfc3339(r.at)))
        .collect();
    for (serial, cell) in cells {
        let serial = parse_serial_hex(serial).map_or_else(|_| serial.to_string(), |s| hex(&s, ""));
        *cell = revoked.get(&serial).cloned().unwrap_or_default();
    }
    Ok(())
}
