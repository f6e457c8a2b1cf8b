//! `sign_csr`: signs the request of a device that keeps its own key, with the client
//! profile, after checking its signature, key and request.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::files::{apply_file, file_diff, observe_file};
use super::issuer::{ca_ref, days_opt, load_ca, Ca, CaRef};
use super::{bound, Opts, Registrar};
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::pki::{new_serial, prepare_issuer, CertSpec, CsrRequest, ParsedCert, Profile};
use crate::reconcile::Diff;
use crate::script::Context;
use crate::workdir::Secrecy;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "sign_csr", "sign_csr(opts: map) -> map", "Sign a device's certificate signing request with the client profile, after checking its signature, key and request. opts: csr, cert (default: the csr's name with .pem), issuer (a CA map), days (365), force.", |c, opts: Map| -> Map { sign_csr(c, &opts) });
}

const CSR_OPTIONS: [&str; 5] = ["csr", "cert", "issuer", "days", "force"];

fn sign_csr(ctx: &Context, map: &Map) -> Result<Map, Error> {
    let o = Opts::new("sign_csr", map);
    o.only(&CSR_OPTIONS)?;
    let csr_path = o.str("csr")?;
    let cert_path = match o.opt_str("cert")? {
        Some(c) => c,
        None => match csr_path.strip_suffix(".csr") {
            Some(stem) => format!("{stem}.pem"),
            None => format!("{csr_path}.pem"),
        },
    };
    ctx.workdir.resolve(&cert_path)?;
    if cert_path == csr_path {
        return Err(Error::invalid_argument(
            "sign_csr",
            "cert",
            "it is the request itself",
            "name the certificate differently, e.g. device.pem",
        ));
    }
    let days = days_opt("sign_csr", &o)?;
    let ca_ref = ca_ref("sign_csr", &o)?;
    let force = o.bool_or("force", false)? || ctx.force;
    let wd = &ctx.workdir;

    let request = CsrRequest::from_pem(&csr_path, &read_csr(wd, &csr_path)?)?;
    let ca = load_ca(ctx, &ca_ref)?;
    let spec = CertSpec {
        profile: Profile::Client,
        subject: request.subject.clone(),
        sans: request.sans.clone(),
        days,
    };
    // The certificate as the plan shows it (the driver gives the reason).
    let describe = |op: Op| {
        let mut a = Action::new(op, Kind::Certificate, &cert_path, "")
            .arg("profile", Profile::Client)
            .arg("subject", &spec.subject)
            .arg("csr", &csr_path)
            .arg("key_algorithm", request.algorithm);
        if !spec.sans.is_empty() {
            a = a.arg("san", spec.sans.join(", "));
        }
        a.arg("issuer", &ca_ref.cert)
    };

    // A signed certificate is a local file like any other: observed, diffed, and taken
    // through the one driver (pki.rs), so the plan shows it as it shows keys.
    let seen = observe_file(ctx, &cert_path)?;
    let diff = file_diff(&seen, force, "exists, as asked");
    if let Diff::Keep(_) = diff {
        let info = keep_signed(wd, &cert_path, &request, &spec, ca.as_ref(), &ca_ref)?;
        let shown = describe(Op::Keep).arg("sha256", &info.sha256);
        apply_file(ctx, &seen, &diff, shown, || Ok(()))?;
        return Ok(csr_result(&cert_path, Op::Keep, Some(&info)));
    }
    let op = diff.op();
    let info = apply_file(
        ctx,
        &seen,
        &diff,
        describe(op)
            .arg("days", days)
            .arg_maybe("sha256", None::<String>),
        || {
            let ca = ca
                .as_ref()
                .ok_or_else(|| Error::internal("sign the request", "the CA was not made"))?;
            let issuer = prepare_issuer(&ca.pem, &ca.key)?;
            let signed = spec.sign(
                &request.public_key()?,
                request.algorithm,
                &issuer,
                &new_serial()?,
            )?;
            wd.write(
                &cert_path,
                signed.pem.as_bytes(),
                Secrecy::Public,
                seen.present().is_some(),
            )?;
            ParsedCert::from_pem(&cert_path, &signed.pem)?.info()
        },
    )?;
    if let Some(info) = &info {
        ctx.effects.resolve(&cert_path, "sha256", &info.sha256);
    }
    Ok(csr_result(&cert_path, op, info.as_ref()))
}

/// The request's text. A binary (DER) request is called one, with the `openssl req`
/// command that converts it (the hint for other files names `openssl x509`, which reads
/// certificates, not requests).
fn read_csr(wd: &crate::workdir::Workdir, path: &str) -> Result<String, Error> {
    match wd.read_public(path) {
        Err(Error::NotText { .. }) if crate::pki::pem::is_der(&wd.read_public_bytes(path)?) => {
            Err(Error::CsrRefused {
                path: path.to_string(),
                problem: "it is binary DER, not PEM text".into(),
                help: format!("convert it first: `openssl req -inform der -in {path} -out device.csr`, then sign device.csr"),
            })
        }
        text => text,
    }
}

/// An existing certificate for the request: kept when it certifies the request's key, to
/// its subject and names, from this CA, and is still usable.
fn keep_signed(
    wd: &crate::workdir::Workdir,
    cert_path: &str,
    request: &CsrRequest,
    spec: &CertSpec,
    ca: Option<&Ca>,
    ca_ref: &CaRef,
) -> Result<crate::pki::CertInfo, Error> {
    let cert = ParsedCert::from_pem(cert_path, &wd.read_public(cert_path)?)?;
    let differs = |field, found: String, wanted: String| Error::CertificateDiffers {
        cert: cert_path.to_string(),
        field,
        found,
        wanted,
    };
    if cert.spki_der()? != request.spki_der {
        return Err(differs(
            "public key",
            "another key".into(),
            "the request's key".into(),
        ));
    }
    let problems = crate::pki::lint::aws_problems(&cert)?;
    if !problems.is_empty() {
        return Err(Error::CertificateUnusable {
            cert: cert_path.to_string(),
            problems: problems.join("; "),
        });
    }
    match ca {
        Some(ca) if cert.is_issued_by(&ca.parsed) => {}
        _ => {
            return Err(Error::WrongIssuer {
                cert: cert_path.to_string(),
                issuer: ca_ref.cert.clone(),
            })
        }
    }
    let info = cert.info()?;
    if info.subject != spec.subject.to_string() {
        return Err(differs(
            "subject",
            info.subject.clone(),
            spec.subject.to_string(),
        ));
    }
    let wanted: Vec<String> = spec.sans.iter().map(|s| format!("DNS:{s}")).collect();
    if info.san != wanted {
        return Err(differs(
            "subject alternative names",
            format!("{:?}", info.san),
            format!("{wanted:?}"),
        ));
    }
    Ok(info)
}

fn csr_result(cert_path: &str, op: Op, info: Option<&crate::pki::CertInfo>) -> Map {
    let mut m = Map::new();
    m.insert("cert".into(), cert_path.to_string().into());
    m.insert("status".into(), op.name().into());
    for (k, v) in [
        ("subject", info.map(|i| i.subject.clone())),
        ("serial", info.map(|i| i.serial.clone())),
        ("not_after", info.map(|i| i.not_after.clone())),
        ("sha256", info.map(|i| i.sha256.clone())),
    ] {
        m.insert(
            k.into(),
            v.map_or_else(|| Dynamic::from(crate::effects::Unknown), Dynamic::from),
        );
    }
    m
}
