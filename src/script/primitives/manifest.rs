//! The manifest of a client fleet (`issue_clients`): one line per certificate (name,
//! serial, SHA-256 fingerprint, expiry, revocation), as `<prefix>manifest.csv` and
//! `<prefix>manifest.json`, written when they are not already what they should be.

use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::reconcile::{Change, Diff, Observed};
use crate::script::primitives::files::{apply_file, observe_file};
use crate::script::Context;
use crate::workdir::Secrecy;

/// One line of the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) serial: String,
    pub(super) sha256: String,
    pub(super) not_after: String,
    /// When the CA revoked it (its revocation list), empty while it is not revoked.
    pub(super) revoked: String,
}

/// Writes the manifest `csv` and `json` of `entries` (`None` in a plan, where the
/// certificates, and so its lines, are made when applying; `count` is how many it will
/// list); returns its status, `keep` or `update`.
pub(super) fn write(
    ctx: &Context,
    csv: &str,
    json: &str,
    entries: Option<&[Entry]>,
    count: usize,
) -> Result<&'static str, Error> {
    let wd = &ctx.workdir;
    let mut status = "keep";
    if let Some(entries) = entries {
        let (csv_text, json_text) = manifest_texts(entries)?;
        for (path, text) in [(csv, &csv_text), (json, &json_text)] {
            let seen = observe_file(ctx, path)?;
            let (diff, reason): (Diff<()>, _) = match seen {
                Observed::Present(()) if wd.has_contents(path, text.as_bytes())? => {
                    (Diff::Keep("up to date"), "")
                }
                Observed::Present(()) => (
                    Diff::Update(vec![Change {
                        field: "entries",
                        patch: (),
                    }]),
                    "lists other certificates",
                ),
                _ => (Diff::Create, ""),
            };
            if diff.op() != Op::Keep {
                status = "update";
            }
            let shown =
                Action::new(diff.op(), Kind::Manifest, path, reason).arg("entries", entries.len());
            let exists = seen.present().is_some();
            apply_file(ctx, &seen, &diff, shown, || {
                wd.write(path, text.as_bytes(), Secrecy::Public, exists)
            })?;
        }
    } else {
        // A plan: the certificates, and so the manifest's lines, are made when applying.
        let shown = Action::new(
            Op::Create,
            Kind::Manifest,
            format!("{csv}, {json}"),
            "after the certificates",
        )
        .arg("entries", count);
        apply_file(ctx, &Observed::NotLookedUp, &Diff::Create, shown, || {
            Err::<(), _>(Error::internal(
                "write the manifest",
                "the certificates it lists were not made",
            ))
        })?;
    }
    Ok(status)
}

/// One CSV cell that a spreadsheet shows as text. A cell starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return is read as a formula (a prefix such as `-1-` makes names
/// like `-1-7`): it gets a leading `'` and double quotes, as OWASP's "CSV Injection" page
/// says; a cell holding a comma, a quote or a line break is quoted (RFC 4180).
fn csv_cell(value: &str) -> String {
    let quoted = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        quoted(&format!("'{value}"))
    } else if value.contains([',', '"', '\n', '\r']) {
        quoted(value)
    } else {
        value.to_string()
    }
}

fn manifest_texts(entries: &[Entry]) -> Result<(String, String), Error> {
    let mut csv = String::with_capacity(entries.len() * 180 + 40);
    csv.push_str("name,serial,sha256,not_after,revoked\n");
    for e in entries {
        let cells = [&e.name, &e.serial, &e.sha256, &e.not_after, &e.revoked].map(|c| csv_cell(c));
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    let mut json = serde_json::to_string_pretty(entries)
        .map_err(|e| Error::internal("write the manifest", e.to_string()))?;
    json.push('\n');
    Ok((csv, json))
}
