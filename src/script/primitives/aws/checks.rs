//! Local checks run before anything is sent to AWS: S3 bucket names, API Gateway's
//! truststore rules and ACM's import rules. Each reports every problem at once.

use std::rc::Rc;

use rhai::{Array, Dynamic};

use super::{text, RhaiResult};
use crate::error::Error;
use crate::pki::ParsedCert;
use crate::script::error::fail;
use crate::script::primitives::{primitive, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    let c = ctx.clone();
    primitive!(reg, "check_truststore", "check_truststore(path: string) -> array",
        "API Gateway's truststore rules on a local PEM file (X.509, SHA-256+, RSA 2048+/ECDSA 256+, valid now); errors list every problem. Returns the subjects.",
        move |path: &str| -> RhaiResult<Array> { check_truststore(&c, path).map_err(fail) });
    primitive!(reg, "check_bucket_name", "check_bucket_name(name: string)",
        "S3's bucket naming rules (3-63 lowercase letters, digits, dots and hyphens, ...) checked locally; an error says which rule fails.",
        |name: Dynamic| -> RhaiResult<()> { check_bucket_name(&name).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "check_acm_import", "check_acm_import(cert: string, key: string, chain: string)",
        "ACM's import rules on local files (v3, key type and size, valid now, chain order, no leaf in chain); errors list every problem.",
        move |cert: &str, key: &str, chain: &str| -> RhaiResult<()> { check_acm_import(&c, cert, key, chain).map_err(fail) });
}

/// Problems found in local inputs, all at once.
fn invalid(function: &str, what: &str, problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::invalid_argument(
        function,
        what,
        problems.join("; "),
        "fix the files (or make new ones with --force) before anything is sent to AWS",
    ))
}

fn check_bucket_name(name: &Dynamic) -> Result<(), Error> {
    // An account id not known yet: the rest of the name is the article's, and valid.
    let Some(name) = text("check_bucket_name", "name", name)? else {
        return Ok(());
    };
    let problem = bucket_name_problem(&name);
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::invalid_argument(
            "check_bucket_name",
            "name",
            format!("{name:?} is not a valid S3 bucket name: {p}"),
            "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; pass another with --var bucket=NAME",
        )),
    }
}

/// The first S3 bucket naming rule `name` breaks, if any.
fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some("it must be 3 to 63 characters long");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return Some("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("two dots may not be adjacent");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("it may not look like an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return Some("it uses a prefix or suffix S3 reserves");
    }
    None
}

fn check_truststore(ctx: &Context, path: &str) -> Result<Array, Error> {
    if !ctx.workdir.exists(path)? && ctx.effects.is_plan() {
        return Ok(Array::new());
    }
    let pem = ctx.workdir.read_to_string(path)?;
    let certs = ParsedCert::all_from_pem(path, &pem)?;
    let mut problems = Vec::new();
    let mut subjects = Array::new();
    for cert in &certs {
        let info = cert.info()?;
        problems.extend(
            cert.aws_problems()?
                .into_iter()
                .map(|p| format!("{}: {p}", info.subject)),
        );
        subjects.push(info.subject.into());
    }
    invalid("check_truststore", path, problems)?;
    Ok(subjects)
}

fn check_acm_import(ctx: &Context, cert: &str, key: &str, chain: &str) -> Result<(), Error> {
    let all_exist =
        ctx.workdir.exists(cert)? && ctx.workdir.exists(key)? && ctx.workdir.exists(chain)?;
    if !all_exist && ctx.effects.is_plan() {
        return Ok(());
    }
    let leaf = ParsedCert::from_pem(cert, &ctx.workdir.read_to_string(cert)?)?;
    let key_pem = ctx.workdir.read_to_string(key)?;
    let chain_certs = ParsedCert::all_from_pem(chain, &ctx.workdir.read_to_string(chain)?)?;
    let mut problems = Vec::new();
    problems.extend(
        leaf.aws_problems()?
            .into_iter()
            .map(|p| format!("{cert}: {p}")),
    );
    if key_pem.len() > 5120 {
        problems.push(format!(
            "{key} is {} bytes; ACM accepts keys up to 5120 bytes",
            key_pem.len()
        ));
    }
    if key_pem.contains("ENCRYPTED") {
        problems.push(format!("{key} is encrypted; ACM needs an unencrypted key"));
    }
    match crate::pki::parse_key_pem(key, &key_pem) {
        Ok(k) => {
            use rcgen::PublicKeyData;
            if leaf.spki_der()? != k.subject_public_key_info() {
                problems.push(format!("{key} does not belong to {cert}"));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    let mut child = leaf.clone();
    for (i, ca) in chain_certs.iter().enumerate() {
        if ca.der == leaf.der {
            problems.push(format!(
                "{chain} contains the end-entity certificate {cert}; ACM wants only its issuers"
            ));
        } else if !child.is_issued_by(ca) {
            problems.push(format!(
                "certificate {} of {chain} did not issue the one before it",
                i + 1
            ));
        }
        child = ca.clone();
    }
    invalid("check_acm_import", cert, problems)
}

#[cfg(test)]
mod tests {
    use super::bucket_name_problem;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["trust-store-123456789012", "my.bucket-1", "abc"] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            "Not_A_Bucket",
            "-lead",
            "trail-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            &"a".repeat(64),
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }
}
