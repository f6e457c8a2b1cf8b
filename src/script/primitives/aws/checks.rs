//! Local checks run before anything is sent to AWS: S3 bucket names, API Gateway's
//! truststore rules and ACM's import rules. Each reports every problem at once.

use std::rc::Rc;

use rhai::{Array, Dynamic};

use super::{text, RhaiResult};
use crate::error::Error;
use crate::pki::lint::{self, Finding, Severity};
use crate::pki::{ParsedCert, SecretPem, Truststore};
use crate::script::error::fail;
use crate::script::primitives::{bound, primitive, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "check_truststore", "check_truststore(path: string) -> array", "API Gateway's truststore rules on a local PEM file (X.509, SHA-256+, RSA 2048+/ECDSA 256+, valid now); errors list every problem. Returns the subjects.", |c, path: &str| -> Array { check_truststore(c, path) });
    primitive!(reg, "check_bucket_name", "check_bucket_name(name: string)",
        "S3's bucket naming rules (3-63 lowercase letters, digits, dots and hyphens, ...) checked locally; an error says which rule fails.",
        |name: Dynamic| -> RhaiResult<()> { check_bucket_name(&name).map_err(fail) });
    bound!(reg, ctx, "check_acm_import", "check_acm_import(cert: string, key: string, chain: string)", "ACM's import rules on local files (v3, key type and size, valid now, chain order, no leaf in chain); errors list every problem.", |c, cert: &str, key: &str, chain: &str| -> () { check_acm_import(c, cert, key, chain) });
}

/// The findings of the lint rules (`crate::pki::lint`), all at once: any error stops the
/// run before anything is sent to AWS; warnings are shown and the run goes on.
pub(in crate::script::primitives) fn refuse(
    ctx: &Context,
    function: &str,
    what: &str,
    findings: Vec<Finding>,
) -> Result<(), Error> {
    let line = |f: &Finding| {
        format!(
            "{}: {}: {} [{}]",
            f.file,
            f.certificate(),
            f.message,
            f.rule
        )
    };
    for f in findings.iter().filter(|f| f.severity == Severity::Warning) {
        ctx.notice(&format!("warning: {}", line(f)));
    }
    if !lint::has_errors(&findings) {
        return Ok(());
    }
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(line)
        .collect();
    Err(Error::invalid_argument(
        function,
        what,
        errors.join("; "),
        "fix the files (or make new ones with --force) before anything is sent to AWS; `mtls check` lists the same findings with what to do",
    ))
}

fn check_bucket_name(name: &Dynamic) -> Result<(), Error> {
    // An account id not known yet: the rest of the name is the article's, and valid.
    let name = text("check_bucket_name", "name", name)?;
    super::check_bucket("check_bucket_name", "name", name.as_deref())
}

fn check_truststore(ctx: &Context, path: &str) -> Result<Array, Error> {
    let Some(store) = checked_truststore(ctx, path)? else {
        return Ok(Array::new());
    };
    let mut subjects = Array::new();
    for cert in store.certs() {
        subjects.push(cert.info()?.subject.into());
    }
    Ok(subjects)
}

/// The truststore at `path` once it passes API Gateway's rules: certificates only, each
/// acceptable. `None` in a plan when an earlier step will make the file.
///
/// The upload primitive calls this itself, so the rules hold whatever a script does.
pub(crate) fn checked_truststore(ctx: &Context, path: &str) -> Result<Option<Truststore>, Error> {
    // A file an earlier step of this run makes (in a plan, never written) is checked
    // when it exists: by the live run.
    if !ctx.workdir.exists(path)? && ctx.effects.touched(path) {
        return Ok(None);
    }
    let store = Truststore::from_pem(path, &ctx.workdir.read_public(path)?)?;
    refuse(
        ctx,
        "check_truststore",
        path,
        lint::truststore(path, &store)?,
    )?;
    for ca in store.certs() {
        ctx.warn_if_cert_expiring(
            path,
            ca,
            "put its successor into the truststore before it expires (rollover.rhai)",
        );
    }
    Ok(Some(store))
}

fn check_acm_import(ctx: &Context, cert: &str, key: &str, chain: &str) -> Result<(), Error> {
    checked_acm_import(ctx, cert, key, chain).map(|_| ())
}

/// What ACM's `ImportCertificate` is given: the certificate and chain rebuilt from their
/// parsed DER, and the key.
pub(crate) struct AcmImportFiles {
    pub certificate: String,
    pub chain: String,
    pub private_key: SecretPem,
}

/// The files of an ACM import once they pass ACM's rules. `None` in a plan when an
/// earlier step will make them. The import primitive calls this itself.
pub(crate) fn checked_acm_import(
    ctx: &Context,
    cert: &str,
    key: &str,
    chain: &str,
) -> Result<Option<AcmImportFiles>, Error> {
    for file in [cert, key, chain] {
        if !ctx.workdir.exists(file)? && ctx.effects.touched(file) {
            return Ok(None);
        }
    }
    let leaf = ParsedCert::from_pem(cert, &ctx.workdir.read_public(cert)?)?;
    let private_key = ctx.workdir.read_secret(key)?;
    let chain_certs = ParsedCert::all_from_pem(chain, &ctx.workdir.read_public(chain)?)?;
    let findings = lint::acm_import(&lint::AcmFiles {
        cert_file: cert,
        cert: &leaf,
        key: Some((key, &private_key)),
        chain: Some((chain, &chain_certs)),
    })?;
    refuse(ctx, "check_acm_import", cert, findings)?;
    ctx.warn_if_cert_expiring(
        cert,
        &leaf,
        "issue a new one with --force and run setup again, which re-imports it",
    );
    for ca in &chain_certs {
        ctx.warn_if_cert_expiring(
            chain,
            ca,
            "issue a new intermediate with --force and run setup again",
        );
    }
    let pem = |c: &ParsedCert| crate::pki::pem::encode_certificate(&c.der);
    Ok(Some(AcmImportFiles {
        certificate: pem(&leaf),
        chain: chain_certs.iter().map(pem).collect(),
        private_key,
    }))
}
