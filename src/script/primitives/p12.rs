//! PKCS#12 client bundles for scripts: `p12_write` makes (or keeps) one `.p12` from a key,
//! its certificate and chain; [`write_fleet`] does the same for every pair of an
//! `issue_clients` fleet (`p12: true`), as one batch.
//!
//! A bundle is 0600 like a key (it holds one, encrypted) and written atomically. It is kept
//! when it opens with the password and holds exactly the key, certificate, chain and name
//! asked for; any other file there is written again. The password comes from the
//! environment (`MTLS_P12_PASSWORD`) or from a 0600 file of the user's
//! (`password_file`), never from a script value or a `--var`, and a plan shows only where
//! it comes from.

use std::collections::HashSet;
use std::rc::Rc;

use rayon::prelude::*;
use rhai::Map;

use super::files::apply_file;
use super::{bound, Opts, Registrar};
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::pki::pkcs12::{common_name, Bundle, P12Password};
use crate::pki::{parse_key_pem, ParsedCert, SecretPem};
use crate::reconcile::{Diff, Observed};
use crate::script::Context;
use crate::workdir::{BatchFile, Secrecy, Workdir};

/// The environment variable that holds the password when no file is named.
pub const PASSWORD_ENV: &str = "MTLS_P12_PASSWORD";

/// What a plan says about the encryption (openssl pkcs12 -info names the same).
const ENCRYPTION: &str = "AES-256-CBC, PBKDF2-HMAC-SHA256; MAC HMAC-SHA256";

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "p12_write", "p12_write(opts: map) -> map", "Make or keep a PKCS#12 bundle (0600) of a key, its certificate and chain, for browsers, Postman, Java and Windows key stores (AES-256-CBC, PBKDF2-HMAC-SHA256, HMAC-SHA256 MAC). opts: key, cert, chain (a file or a list), path (default: the cert's name with .p12), name (default: the cert's CN), password_file (a 0600 file; default: the environment variable MTLS_P12_PASSWORD).", |c, opts: Map| -> Map { p12_write(c, &opts) });
}

/// A bundle's password and where it came from (what a plan shows instead of it).
pub(crate) struct BundlePassword {
    source: String,
    password: P12Password,
}

/// The password: from `file` (a 0600 file of the working folder, owned by the user) when
/// given, else from [`PASSWORD_ENV`]. Read before anything is written, so a missing or
/// unsafe password stops the run first.
pub(crate) fn read_password(wd: &Workdir, file: Option<&str>) -> Result<BundlePassword, Error> {
    match file {
        Some(path) => Ok(BundlePassword {
            source: format!("file {path}"),
            password: password_from_file(wd, path)?,
        }),
        None => Ok(BundlePassword {
            source: format!("environment {PASSWORD_ENV}"),
            password: password_from_env()?,
        }),
    }
}

fn password_from_env() -> Result<P12Password, Error> {
    let bad = |problem: &str| {
        Error::P12Password {
        source_name: format!("in {PASSWORD_ENV}"),
        problem: problem.to_string(),
        help: format!("set {PASSWORD_ENV} to the password (e.g. `read -rs {PASSWORD_ENV} && export {PASSWORD_ENV}`), or name a file only you can read with --var p12_password_file=FILE"),
    }
    };
    match std::env::var(PASSWORD_ENV) {
        Ok(text) => P12Password::new(&text).map_err(bad),
        Err(std::env::VarError::NotPresent) => Err(bad("it is not set")),
        Err(std::env::VarError::NotUnicode(_)) => Err(bad("it is not UTF-8 text")),
    }
}

/// The password file: the user's own, readable by them only (the rule of key files, read
/// by the same reader), the password on its first line.
fn password_from_file(wd: &Workdir, path: &str) -> Result<P12Password, Error> {
    let bad = |problem: String, help: String| Error::P12Password {
        source_name: format!("in {path}"),
        problem,
        help,
    };
    if !wd.exists(path)? {
        return Err(bad(
            "the file does not exist".into(),
            format!("make it readable by you only, then write the password on its first line: `touch {path} && chmod 600 {path}`"),
        ));
    }
    if let Some(owner) = owner_problem(&wd.path_for_reading(path)?) {
        return Err(bad(owner, format!("make your own copy: `cp {path} mine.pass && chmod 600 mine.pass`, then pass --var p12_password_file=mine.pass")));
    }
    let secret = wd.read_secret(path).map_err(|e| match e {
        Error::KeyReadableByOthers { mode, .. } => bad(
            format!("others may read it (mode {mode})"),
            format!("run `chmod 600 {path}`, then run mtls again"),
        ),
        other => other,
    })?;
    P12Password::from_secret_file(&secret).map_err(|problem| {
        bad(
            problem.to_string(),
            "write the password on the file's first line".into(),
        )
    })
}

/// Why a file is not the user's own (another user could have written the password).
#[cfg(unix)]
fn owner_problem(real: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(real).ok()?.uid();
    // SAFETY: geteuid takes nothing and cannot fail.
    let me = unsafe { libc::geteuid() };
    (owner != me).then(|| format!("it belongs to another user (uid {owner}, you are {me})"))
}

#[cfg(not(unix))]
fn owner_problem(_real: &std::path::Path) -> Option<String> {
    None
}

/// The key, certificate and chain of one bundle, read from their files.
struct Materials {
    key: SecretPem,
    cert: Vec<u8>,
    chain: Vec<Vec<u8>>,
    name: String,
}

impl Materials {
    fn bundle<'a>(&'a self, key_path: &'a str) -> Bundle<'a> {
        Bundle {
            key_path,
            key: &self.key,
            cert: &self.cert,
            chain: &self.chain,
            name: &self.name,
        }
    }
}

/// Reads a pair and its chain; the key must be the certificate's. `name`: the friendly
/// name, else the certificate's CN (else its file name).
fn load(
    wd: &Workdir,
    key_path: &str,
    cert_path: &str,
    chain: &[Vec<u8>],
    name: Option<&str>,
) -> Result<Materials, Error> {
    let key = wd.read_secret(key_path)?;
    let cert = ParsedCert::from_pem(cert_path, &wd.read_public(cert_path)?)?;
    let pair = parse_key_pem(key_path, &key)?;
    if cert.spki_der()? != rcgen::PublicKeyData::subject_public_key_info(&pair) {
        return Err(Error::KeyMismatch {
            key: key_path.to_string(),
            cert: cert_path.to_string(),
        });
    }
    let name = match name {
        Some(n) => n.to_string(),
        None => common_name(&cert.der).unwrap_or_else(|| cert_path.to_string()),
    };
    Ok(Materials {
        key,
        cert: cert.der,
        chain: chain.to_vec(),
        name,
    })
}

/// Every certificate of the chain files, in order.
fn load_chain(wd: &Workdir, files: &[String]) -> Result<Vec<Vec<u8>>, Error> {
    let mut chain = Vec::new();
    for file in files {
        for cert in ParsedCert::all_from_pem(file, &wd.read_public(file)?)? {
            chain.push(cert.der);
        }
    }
    Ok(chain)
}

/// Why an existing bundle at `path` is not kept, `None` when it holds what is asked.
fn replace_reason(
    wd: &Workdir,
    path: &str,
    bundle: &Bundle<'_>,
    password: &P12Password,
) -> Result<Option<String>, Error> {
    let mode = wd.mode(path)?.unwrap_or(0o600);
    if mode & 0o077 != 0 {
        return Ok(Some(format!("others may read it (mode {mode:04o})")));
    }
    if bundle.is_held_in(&wd.read_public_bytes(path)?, password)? {
        return Ok(None);
    }
    Ok(Some(
        "it does not open with this password, or holds another key, certificate or chain".into(),
    ))
}

// ---------------------------------------------------------------------------------------
// p12_write

const OPTIONS: [&str; 6] = ["key", "cert", "chain", "path", "name", "password_file"];

/// What `p12_write` was asked for.
struct Request {
    key: String,
    cert: String,
    chain: Vec<String>,
    path: String,
    name: Option<String>,
}

fn parse_request(ctx: &Context, map: &Map) -> Result<(Request, BundlePassword), Error> {
    let o = Opts::new("p12_write", map);
    o.only(&OPTIONS)?;
    let cert = o.str("cert")?;
    let path = match o.opt_str("path")? {
        Some(p) => p,
        None => format!("{}.p12", cert.strip_suffix(".pem").unwrap_or(&cert)),
    };
    let req = Request {
        key: o.str("key")?,
        chain: o.str_list("chain")?,
        name: o.opt_str("name")?,
        cert,
        path,
    };
    for file in [&req.key, &req.cert, &req.path]
        .into_iter()
        .chain(&req.chain)
    {
        ctx.workdir.resolve(file)?;
    }
    if [&req.key, &req.cert]
        .into_iter()
        .chain(&req.chain)
        .any(|f| *f == req.path)
    {
        return Err(Error::invalid_argument(
            "p12_write",
            "path",
            format!("{:?} is one of the bundle's own files", req.path),
            "name the bundle differently, e.g. client.p12",
        ));
    }
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(Error::invalid_argument(
            "p12_write",
            "name",
            "it is empty",
            "leave it out to use the certificate's CN",
        ));
    }
    let password = read_password(&ctx.workdir, o.opt_str("password_file")?.as_deref())?;
    Ok((req, password))
}

fn p12_write(ctx: &Context, map: &Map) -> Result<Map, Error> {
    let (req, password) = parse_request(ctx, map)?;
    let wd = &ctx.workdir;
    let inputs: Vec<&String> = [&req.key, &req.cert]
        .into_iter()
        .chain(&req.chain)
        .collect();
    // A file this run makes or changes (in a plan: not written yet) is read when applying.
    let mut made_now = false;
    for file in &inputs {
        made_now |= ctx.effects.pending(file) || !wd.exists(file)?;
    }
    let exists = wd.exists(&req.path)?;
    let materials = if made_now {
        None
    } else {
        let chain = load_chain(wd, &req.chain)?;
        Some(load(wd, &req.key, &req.cert, &chain, req.name.as_deref())?)
    };
    let reason = match &materials {
        _ if !exists => Some("does not exist".to_string()),
        None => Some("its key or certificate is made in this run".to_string()),
        Some(m) => replace_reason(wd, &req.path, &m.bundle(&req.key), &password.password)?,
    };
    let action = |op| {
        Action::new(
            op,
            Kind::Pkcs12Bundle,
            &req.path,
            reason
                .as_deref()
                .unwrap_or("holds this key and certificate"),
        )
        .arg("key", &req.key)
        .arg("cert", &req.cert)
        .arg(
            "chain",
            if req.chain.is_empty() {
                "(none)".to_string()
            } else {
                req.chain.join(", ")
            },
        )
        .arg(
            "name",
            materials.as_ref().map_or_else(
                || {
                    req.name
                        .clone()
                        .unwrap_or_else(|| "(the certificate's CN)".into())
                },
                |m| m.name.clone(),
            ),
        )
        .arg("encryption", ENCRYPTION)
        .arg("password", &password.source)
        .arg("mode", "0600")
    };
    let (seen, diff): (_, Diff<()>) = match (&reason, exists) {
        (None, _) => (
            Observed::Present(()),
            Diff::Keep("holds this key and certificate"),
        ),
        (Some(why), true) => (Observed::Present(()), Diff::Replace(why.clone())),
        (Some(_), false) => (Observed::Absent, Diff::Create),
    };
    let op = diff.op();
    apply_file(ctx, &seen, &diff, action(op), || {
        let m = match materials {
            Some(m) => m,
            None => load(
                wd,
                &req.key,
                &req.cert,
                &load_chain(wd, &req.chain)?,
                req.name.as_deref(),
            )?,
        };
        let p12 = m.bundle(&req.key).encode(&password.password)?;
        wd.write(&req.path, &p12, Secrecy::Secret, exists)
    })?;
    Ok(result_map(&req, op))
}

fn result_map(req: &Request, op: Op) -> Map {
    let mut m = Map::new();
    m.insert("path".into(), req.path.clone().into());
    m.insert("cert".into(), req.cert.clone().into());
    m.insert("status".into(), op.name().into());
    m
}

// ---------------------------------------------------------------------------------------
// a fleet's bundles

/// The bundles of an `issue_clients` fleet.
pub(crate) struct FleetBundles<'a> {
    /// The fleet's folder (`""` for the working folder) and file-name prefix.
    pub folder: &'a str,
    pub file_prefix: &'a str,
    /// Each device's name (`device-7`: its files and its CN), and whether this run issues
    /// its pair.
    pub devices: Vec<(String, bool)>,
    /// The CA that signed the fleet, the bundles' chain.
    pub ca_cert: &'a str,
    pub password: &'a BundlePassword,
}

/// The fleet options that ask for bundles (`p12`, `p12_password_file`): the password when
/// they do, read now, before the first pair is written.
pub(crate) fn fleet_option(wd: &Workdir, o: &Opts<'_>) -> Result<Option<BundlePassword>, Error> {
    // `--var p12=true` arrives as text.
    let wanted = match o
        .map
        .get("p12")
        .filter(|v| v.is_string())
        .map(|v| v.to_string())
    {
        Some(text) => match text.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(Error::invalid_argument(
                    o.function,
                    "p12",
                    format!("{text:?} is not true or false"),
                    "for example --var p12=true",
                ))
            }
        },
        None => o.bool_or("p12", false)?,
    };
    let file = o.opt_str("p12_password_file")?;
    if !wanted {
        return Ok(None);
    }
    read_password(wd, file.as_deref()).map(Some)
}

impl FleetBundles<'_> {
    fn path(&self, file: &str) -> String {
        if self.folder.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", self.folder)
        }
    }

    /// A device's pair, read, and its key's path (for messages); the CN is the name.
    fn device(
        &self,
        wd: &Workdir,
        name: &str,
        chain: &[Vec<u8>],
    ) -> Result<(String, Materials), Error> {
        let key = self.path(&format!("{name}.key"));
        let m = load(
            wd,
            &key,
            &self.path(&format!("{name}.pem")),
            chain,
            Some(name),
        )?;
        Ok((key, m))
    }
}

/// What happens to a device's bundle: `None` kept, else whether it replaces a file.
type Survey = Option<bool>;

/// Makes or keeps `<name>.p12` beside each pair of the fleet: one action for all of
/// them, the files written as one batch.
pub(crate) fn write_fleet(ctx: &Context, fleet: &FleetBundles<'_>) -> Result<(), Error> {
    let wd = &ctx.workdir;
    let chain = if wd.exists(fleet.ca_cert)? && !ctx.effects.pending(fleet.ca_cert) {
        Some(load_chain(wd, &[fleet.ca_cert.to_string()])?)
    } else {
        None
    };
    let present: HashSet<String> = wd.list_folder(fleet.folder)?.into_iter().collect();
    let surveyed: Vec<Result<Survey, Error>> = fleet
        .devices
        .par_iter()
        .map(|(name, issued)| survey(wd, fleet, chain.as_deref(), &present, name, *issued))
        .collect();
    let surveyed: Vec<Survey> = surveyed.into_iter().collect::<Result<_, _>>()?;
    let replace = surveyed.iter().filter(|s| **s == Some(true)).count();
    let create = surveyed.iter().filter(|s| **s == Some(false)).count();
    let keep = surveyed.len() - replace - create;
    let (Some((first, _)), Some((last, _))) = (fleet.devices.first(), fleet.devices.last()) else {
        return Ok(());
    };
    let range = format!("{}..{last}.p12", fleet.path(&format!("{first}.p12")));
    // The folder was listed, in a plan too: what it holds is known.
    let diff: Diff<()> = match (replace, create) {
        (0, 0) => Diff::Keep("hold their pairs, as asked"),
        (0, _) => Diff::Create,
        _ => Diff::Replace(format!("{create} missing, {replace} to write again (a new pair, another password, or readable by others)")),
    };
    let op = diff.op();
    let reason = match diff {
        Diff::Create => format!("{create} missing"),
        _ => String::new(),
    };
    let action = Action::new(op, Kind::Pkcs12Bundle, &range, reason)
        .arg("count", fleet.devices.len())
        .arg("create", create)
        .arg("replace", replace)
        .arg("keep", keep)
        .arg("chain", fleet.ca_cert)
        .arg("encryption", ENCRYPTION)
        .arg("password", &fleet.password.source)
        .arg("mode", "0600");
    apply_file(ctx, &Observed::Present(()), &diff, action, || {
        let chain = load_chain(wd, &[fleet.ca_cert.to_string()])?;
        let batch = wd.batch(fleet.folder)?;
        batch.remove_stale(fleet.file_prefix)?;
        fleet
            .devices
            .par_iter()
            .zip(&surveyed)
            .filter_map(|(device, s)| s.map(|replace| (device, replace)))
            .try_for_each(|((name, _), replace)| {
                let (key, m) = fleet.device(wd, name, &chain)?;
                let p12 = m.bundle(&key).encode(&fleet.password.password)?;
                batch.stage(&[(&format!("{name}.p12"), BatchFile::Private(&p12), replace)])
            })?;
        batch.commit()
    })?;
    Ok(())
}

/// One device's bundle: kept when it holds the device's existing pair, else written.
fn survey(
    wd: &Workdir,
    fleet: &FleetBundles<'_>,
    chain: Option<&[Vec<u8>]>,
    present: &HashSet<String>,
    name: &str,
    issued: bool,
) -> Result<Survey, Error> {
    let file = format!("{name}.p12");
    let path = fleet.path(&file);
    let exists = present.contains(&file) && wd.exists(&path)?;
    let Some(chain) = chain.filter(|_| exists && !issued) else {
        return Ok(Some(exists));
    };
    let (key, m) = fleet.device(wd, name, chain)?;
    let reason = replace_reason(wd, &path, &m.bundle(&key), &fleet.password.password)?;
    Ok(reason.map(|_| true))
}
