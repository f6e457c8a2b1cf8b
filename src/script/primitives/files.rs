//! The one driver for local files, as `reconcile` is for AWS resources: a step reads
//! what is on disk ([`observe_file`]), says what to do about it ([`file_diff`] or its own
//! [`Diff`]) and hands both to [`apply_file`], which records the plan's action and runs
//! the work only in a live run. Keys, certificates, fleets, manifests, PKCS#12 bundles,
//! revocation lists and the rollover bundle all go through it, so the plan and the
//! confirmation prompt treat every local file alike.

use crate::effects::{Action, Op};
use crate::error::Error;
use crate::reconcile::{self, Diff, Observed};
use crate::script::Context;

/// What is on disk at `path`. Local files are always looked up, in a plan too: reading
/// them costs nothing and changes nothing.
pub(super) fn observe_file(ctx: &Context, path: &str) -> Result<Observed<()>, Error> {
    Ok(if ctx.workdir.exists(path)? {
        Observed::Present(())
    } else {
        Observed::Absent
    })
}

/// A key or certificate file: made when missing, made anew when forced, else kept (after
/// the caller has checked it is what the script asks for). Pure.
pub(super) fn file_diff(observed: &Observed<()>, force: bool, keep: &'static str) -> Diff<()> {
    match observed {
        Observed::Present(()) if force => Diff::Replace("--force".to_string()),
        Observed::Present(()) => Diff::Keep(keep),
        Observed::Absent | Observed::NotLookedUp => Diff::Create,
    }
}

/// Takes a local file's `diff` through the one driver, as every AWS resource's: `shown` is
/// the action as the plan shows it (its kind, target and arguments; a keep's too). A
/// reason in `shown` says more than the driver's ("2 missing" for a fleet, "after the
/// certificates" for a manifest the plan cannot write yet) and replaces it; left empty,
/// the driver's stands ("does not exist", "--force").
pub(super) fn apply_file<R>(
    ctx: &Context,
    observed: &Observed<()>,
    diff: &Diff<()>,
    shown: Action,
    work: impl FnOnce() -> Result<R, Error>,
) -> Result<Option<R>, Error> {
    let Action {
        kind,
        target,
        args,
        reason,
        ..
    } = shown;
    if let Diff::Keep(keep) = diff {
        // What a kept file holds is known, so its arguments are shown, as a keep's reason
        // is its own when it says more ("already revoked on ...").
        ctx.effects.keep(Action {
            op: Op::Keep,
            kind,
            target,
            reason: if reason.is_empty() {
                keep.to_string()
            } else {
                reason
            },
            args,
        });
        return Ok(None);
    }
    let (_, out) = reconcile::apply(
        &ctx.effects,
        kind,
        &target,
        observed,
        diff,
        |a| Action {
            args,
            reason: if reason.is_empty() { a.reason } else { reason },
            ..a
        },
        work,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::{Kind, Op};

    /// A plan's context in this folder (a plan reads and writes nothing here).
    fn plan_context() -> Context {
        Context::new(
            crate::workdir::Workdir::new("."),
            crate::effects::Effects::new(crate::effects::Mode::PLAN),
            Default::default(),
            false,
        )
    }

    #[test]
    fn a_key_or_certificate_file_is_made_kept_or_made_anew() {
        let present = Observed::Present(());
        let cases = [
            (Observed::Absent, false, Diff::Create),
            (Observed::Absent, true, Diff::Create),
            (present.clone(), false, Diff::Keep("exists")),
            (present, true, Diff::Replace("--force".to_string())),
        ];
        for (seen, force, want) in cases {
            assert_eq!(
                file_diff(&seen, force, "exists"),
                want,
                "{seen:?} force={force}"
            );
        }
    }

    #[test]
    fn a_local_file_goes_through_the_driver_with_its_arguments_shown() {
        let ctx = plan_context();
        let shown = Action::new(Op::Keep, Kind::Certificate, "a.pem", "").arg("sha256", "ab");
        let present = Observed::Present(());
        apply_file(&ctx, &present, &Diff::Keep("exists"), shown, || Ok(())).unwrap();
        let shown = Action::new(Op::Create, Kind::PrivateKey, "a.key", "").arg("mode", "0600");
        let out = apply_file(&ctx, &Observed::Absent, &Diff::Create, shown, || Ok(1)).unwrap();
        assert_eq!(out, None, "a plan does no work");
        let plan = ctx.effects.plan();
        let seen: Vec<(Op, &str, &str, String)> = plan
            .actions
            .iter()
            .map(|a| {
                (
                    a.op,
                    a.target.as_str(),
                    a.reason.as_str(),
                    a.args[0].value.to_string(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (Op::Keep, "a.pem", "exists", "\"ab\"".to_string()),
                (
                    Op::Create,
                    "a.key",
                    "does not exist",
                    "\"0600\"".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_reason_the_step_gives_replaces_the_drivers() {
        let ctx = plan_context();
        let present = Observed::Present(());
        let kept = Action::new(
            Op::Keep,
            Kind::RevocationList,
            "RootCA.crl.pem",
            "already revoked on 2026-12-03",
        );
        apply_file(&ctx, &present, &Diff::Keep("already revoked"), kept, || {
            Ok(())
        })
        .unwrap();
        let made = Action::new(
            Op::Create,
            Kind::ClientCertificates,
            "dev-1..dev-3",
            "2 missing",
        );
        apply_file(&ctx, &present, &Diff::Create, made, || Ok(())).unwrap();
        let again = Action::new(Op::Replace, Kind::Pkcs12Bundle, "client.p12", "");
        apply_file(
            &ctx,
            &present,
            &Diff::Replace("another password".into()),
            again,
            || Ok(()),
        )
        .unwrap();
        let reasons: Vec<(Op, String)> = ctx
            .effects
            .plan()
            .actions
            .iter()
            .map(|a| (a.op, a.reason.clone()))
            .collect();
        assert_eq!(
            reasons,
            [
                (Op::Keep, "already revoked on 2026-12-03".to_string()),
                (Op::Create, "2 missing".to_string()),
                (Op::Replace, "another password".to_string()),
            ]
        );
    }
}
