//! The CA that fleets (`issue_clients`) and CSR signing (`sign_csr`) sign with: named by the
//! map an earlier `issue_cert` returned, read and checked once, and the options they share.

use super::Opts;
use crate::error::Error;
use crate::pki::{parse_key_pem, KeyPair, ParsedCert};
use crate::script::Context;

/// The CA a fleet or a CSR is signed by, as an earlier `issue_cert` returned it.
pub(super) struct CaRef {
    pub(super) key: String,
    pub(super) cert: String,
    /// Made by this run (a plan has no file to read yet).
    pub(super) is_new: bool,
}

pub(super) fn ca_ref(function: &'static str, o: &Opts<'_>) -> Result<CaRef, Error> {
    let m = o.opt_map("issuer")?.ok_or_else(|| {
        Error::invalid_argument(
            function,
            "issuer",
            "missing",
            "pass the map returned by gen_root_ca or gen_intermediate_ca (or #{ key: \"inca.key\", cert: \"inca.pem\" })",
        )
    })?;
    let io = Opts::new(function, &m);
    let status = io.opt_str("status")?.unwrap_or_default();
    Ok(CaRef {
        key: io.str("key")?,
        cert: io.str("cert")?,
        is_new: status == "create" || status == "replace",
    })
}

/// The CA, read and checked, when its files exist (a CA this plan only would make has none).
pub(super) struct Ca {
    pub(super) pem: String,
    pub(super) parsed: ParsedCert,
    pub(super) key: KeyPair,
}

pub(super) fn load_ca(ctx: &Context, ca: &CaRef) -> Result<Option<Ca>, Error> {
    let wd = &ctx.workdir;
    if ca.is_new && !wd.exists(&ca.cert)? {
        return Ok(None);
    }
    let pem = wd.read_public(&ca.cert)?;
    let parsed = ParsedCert::from_pem(&ca.cert, &pem)?;
    let problems = crate::pki::lint::aws_problems(&parsed)?;
    if !problems.is_empty() {
        return Err(Error::CertificateUnusable {
            cert: ca.cert.clone(),
            problems: problems.join("; "),
        });
    }
    if !parsed.info()?.is_ca {
        return Err(Error::CertificateUnusable {
            cert: ca.cert.clone(),
            problems: "it is not a CA certificate (basicConstraints CA:FALSE)".into(),
        });
    }
    let key = parse_key_pem(&ca.key, &wd.read_secret(&ca.key)?)?;
    if parsed.spki_der()? != rcgen::PublicKeyData::subject_public_key_info(&key) {
        return Err(Error::KeyMismatch {
            key: ca.key.clone(),
            cert: ca.cert.clone(),
        });
    }
    Ok(Some(Ca { pem, parsed, key }))
}

pub(super) fn days_opt(function: &'static str, o: &Opts<'_>) -> Result<u32, Error> {
    let days = int_or_text(o, "days")?.unwrap_or(365);
    if !(1..=36500).contains(&days) {
        return Err(Error::invalid_argument(
            function,
            "days",
            format!("{days} is out of range"),
            "use 1 to 36500 days",
        ));
    }
    Ok(days as u32)
}

/// An integer option that may also come as the text of a `--var` ("10000").
pub(super) fn int_or_text(o: &Opts<'_>, key: &str) -> Result<Option<i64>, Error> {
    let Some(v) = o.map.get(key).filter(|v| !v.is_unit()) else {
        return Ok(None);
    };
    if let Ok(i) = v.as_int() {
        return Ok(Some(i));
    }
    if v.is_string() {
        let text = v.to_string();
        return text.trim().parse().map(Some).map_err(|_| {
            Error::invalid_argument(
                o.function,
                key,
                format!("{text:?} is not a whole number"),
                format!("pass `{key}` as a number, e.g. --var {key}=100"),
            )
        });
    }
    o.opt_int(key)
}

// ---------------------------------------------------------------------------------------
