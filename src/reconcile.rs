//! The one shape every AWS resource step has, like a Terraform provider's CRUD:
//!
//! - **read** -> [`Observed`], through `Context::observe` (src/script/primitives/aws):
//!   `NotLookedUp` in an offline plan (the effects backend decides whether a read may
//!   happen, never the step), `Absent`, or `Present`;
//! - **diff** (pure, table-tested, no I/O): the desired state and the observed one ->
//!   [`Diff`]: keep, create, update (with the fields that differ) or replace;
//! - **apply**: [`apply`] turns the diff into the action the plan shows, with its reason,
//!   and runs the step's live work for it through the effects boundary;
//! - **delete**: [`delete`] removes what the read found, and only that.
//!
//! Values a plan cannot know are [`Known`]s; [`Known::known`] refuses to let an unknown
//! one reach live work, so AWS can never be sent a placeholder.

use crate::effects::{Action, Effects, Kind, Op, Unknown};
use crate::error::Error;

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<T> {
    /// Not read: an offline plan makes no AWS call and assumes nothing exists yet.
    NotLookedUp,
    /// Read, and not there.
    Absent,
    /// Read, and there.
    Present(T),
}

impl<T> Observed<T> {
    /// What a read that happened found (`None`: nothing).
    pub fn found(found: Option<T>) -> Self {
        match found {
            None => Observed::Absent,
            Some(t) => Observed::Present(t),
        }
    }

    /// The resource, when it was found.
    pub fn present(&self) -> Option<&T> {
        match self {
            Observed::Present(t) => Some(t),
            _ => None,
        }
    }

    /// The resource, when it was found, by value.
    pub fn into_present(self) -> Option<T> {
        match self {
            Observed::Present(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the read happened.
    pub fn looked_up(&self) -> bool {
        !matches!(self, Observed::NotLookedUp)
    }

    /// The same observation of a part of the resource.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Observed<U> {
        match self {
            Observed::NotLookedUp => Observed::NotLookedUp,
            Observed::Absent => Observed::Absent,
            Observed::Present(t) => Observed::Present(f(t)),
        }
    }

    /// The same observation, parsed: `f` may fail (a body that is not what it should be).
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Observed<U>, E> {
        Ok(match self {
            Observed::NotLookedUp => Observed::NotLookedUp,
            Observed::Absent => Observed::Absent,
            Observed::Present(t) => Observed::Present(f(t)?),
        })
    }

    /// A further read about what was found (its parts, its body): an absence or a read
    /// that did not happen stays as it was.
    pub fn then<U, E>(
        self,
        read: impl FnOnce(T) -> Result<Observed<U>, E>,
    ) -> Result<Observed<U>, E> {
        match self {
            Observed::NotLookedUp => Ok(Observed::NotLookedUp),
            Observed::Absent => Ok(Observed::Absent),
            Observed::Present(t) => read(t),
        }
    }

    /// A part of the resource that may be missing from it (`None` reads as absent).
    pub fn and_then<U>(self, f: impl FnOnce(T) -> Option<U>) -> Observed<U> {
        match self {
            Observed::NotLookedUp => Observed::NotLookedUp,
            Observed::Absent => Observed::Absent,
            Observed::Present(t) => Observed::found(f(t)),
        }
    }
}

/// A value of the desired state that a plan may not know yet (its `(known after apply)`):
/// readable in a plan through [`Known::get`], and in live work only through
/// [`Known::known`], which refuses an unknown one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known<T>(Option<T>);

impl<T> Known<T> {
    /// A value known now.
    pub fn value(value: T) -> Self {
        Known(Some(value))
    }

    /// A value known only once an earlier change is applied.
    pub fn unknown() -> Self {
        Known(None)
    }

    /// The value, for a plan or a comparison (`None`: not known yet).
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// Whether the value is known.
    pub fn is_known(&self) -> bool {
        self.0.is_some()
    }

    /// The value inside live work: known by then, or a bug (never sent as "").
    pub fn known(&self, what: &str) -> Result<&T, Error> {
        self.0.as_ref().ok_or_else(|| {
            Error::internal(
                format!("send {what} to AWS"),
                "it was still unknown when the change was made",
            )
        })
    }

    /// The same value, transformed once known.
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Known<U> {
        Known(self.0.as_ref().map(f))
    }

    /// The value, or `None` while unknown (to hand to an `Option` argument of a plan).
    pub fn into_option(self) -> Option<T> {
        self.0
    }
}

impl<T> From<Option<T>> for Known<T> {
    fn from(value: Option<T>) -> Self {
        match value {
            Some(v) => Known::value(v),
            None => Known::unknown(),
        }
    }
}

impl Known<String> {
    /// The value as a plan shows it: the value, or `(known after apply)`.
    pub fn shown(&self) -> String {
        self.0.clone().unwrap_or_else(|| Unknown::TEXT.to_string())
    }

    /// The value as `&str`, when known.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// One field that differs, and the change that mends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<P> {
    /// The field as AWS names it (`truststoreVersion`).
    pub field: &'static str,
    /// What mends it (the step's own type: a patch, a value).
    pub patch: P,
}

/// What to do about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff<P> {
    /// It is as desired; the reason says how it was recognised.
    Keep(&'static str),
    /// It does not exist (or was not looked up).
    Create,
    /// It exists; these fields differ.
    Update(Vec<Change<P>>),
    /// It exists and cannot be changed in place; the reason says why (a server
    /// certificate from another issuer is imported as a new ACM certificate).
    Replace(String),
}

impl<P> Diff<P> {
    /// An update of `changes`, or `keep` when there are none.
    pub fn update_or_keep(changes: Vec<Change<P>>, keep: &'static str) -> Self {
        if changes.is_empty() {
            Diff::Keep(keep)
        } else {
            Diff::Update(changes)
        }
    }

    /// The plan's operation for this diff.
    pub fn op(&self) -> Op {
        match self {
            Diff::Keep(_) => Op::Keep,
            Diff::Create => Op::Create,
            Diff::Update(_) => Op::Update,
            Diff::Replace(_) => Op::Replace,
        }
    }

    /// The changes of an update (empty otherwise).
    pub fn changes(&self) -> &[Change<P>] {
        match self {
            Diff::Update(c) => c,
            _ => &[],
        }
    }
}

/// The reason a plan gives for an offline create.
pub const OFFLINE: &str = "offline plan: not looked up; --refresh compares with AWS";

/// The reason a plan gives for an offline delete.
pub const OFFLINE_DELETE: &str = "offline plan: deleted if it exists";

/// Records the action for `diff` on `kind`/`target` and, in a live run, does `work` for
/// it. `observed` is what the read found (an offline create says it was not looked up);
/// `describe` adds the arguments a create, update or replace shows. Returns the
/// operation and what the work returned (`None` for a keep and in a plan).
pub fn apply<T, P, R>(
    effects: &Effects,
    kind: Kind,
    target: &str,
    observed: &Observed<T>,
    diff: &Diff<P>,
    describe: impl FnOnce(Action) -> Action,
    work: impl FnOnce() -> Result<R, Error>,
) -> Result<(Op, Option<R>), Error> {
    let reason = match diff {
        Diff::Keep(reason) => {
            effects.keep(Action::new(Op::Keep, kind, target, *reason));
            return Ok((Op::Keep, None));
        }
        Diff::Create if !observed.looked_up() => OFFLINE.to_string(),
        Diff::Create => "does not exist".to_string(),
        Diff::Update(_) => {
            let fields: Vec<&str> = diff.changes().iter().map(|c| c.field).collect();
            format!(
                "{} differ{}",
                fields.join(", "),
                if fields.len() == 1 { "s" } else { "" }
            )
        }
        Diff::Replace(reason) => reason.clone(),
    };
    let action = describe(Action::new(diff.op(), kind, target, reason));
    let out = effects.apply(action, work)?;
    Ok((diff.op(), out))
}

/// Deletes what the read found: nothing when it is absent; in a plan that did not look,
/// "deleted if it exists". Live `work` gets the resource the read found (its id, its
/// ARN), never a value carried from elsewhere. A live run always reads, so a delete it
/// did not look up is a bug: it fails before anything is sent, never deletes blindly.
/// Returns [`Op::Delete`] when a delete was recorded, [`Op::Keep`] when there was nothing.
pub fn delete<T, R>(
    effects: &Effects,
    kind: Kind,
    target: &str,
    observed: &Observed<T>,
    work: impl FnOnce(&T) -> Result<R, Error>,
) -> Result<Op, Error> {
    delete_described(effects, kind, target, observed, |a, _| a, work)
}

/// [`delete`], with `describe` adding the arguments a delete of what was found shows
/// (how many object versions go).
pub fn delete_described<T, R>(
    effects: &Effects,
    kind: Kind,
    target: &str,
    observed: &Observed<T>,
    describe: impl FnOnce(Action, &T) -> Action,
    work: impl FnOnce(&T) -> Result<R, Error>,
) -> Result<Op, Error> {
    match observed {
        Observed::Absent => return Ok(Op::Keep),
        Observed::Present(found) => {
            let action = describe(Action::new(Op::Delete, kind, target, "exists"), found);
            effects.apply(action, || work(found))?;
        }
        // Only a plan records this without running it; a live run gets the error.
        Observed::NotLookedUp => {
            let action = Action::new(Op::Delete, kind, target, OFFLINE_DELETE);
            effects.apply(action, || -> Result<R, Error> {
                Err(Error::internal(
                    format!("delete {target}"),
                    "it was not looked up in a live run",
                ))
            })?;
        }
    }
    Ok(Op::Delete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::Mode;
    use std::cell::Cell;

    #[test]
    fn observations_come_from_reads() {
        assert_eq!(Observed::<u8>::found(None), Observed::Absent);
        assert_eq!(Observed::found(Some(1)), Observed::Present(1));
        assert!(!Observed::<u8>::NotLookedUp.looked_up());
        assert_eq!(
            Observed::Present(2).and_then(|_| None::<u8>),
            Observed::Absent
        );
        assert_eq!(Observed::Present(2).and_then(Some), Observed::Present(2));
        assert_eq!(
            Observed::<u8>::NotLookedUp.and_then(Some),
            Observed::NotLookedUp
        );
    }

    #[test]
    fn apply_records_the_reason_and_runs_live_work_only_for_changes() {
        let fx = Effects::new(Mode::Live, false, false);
        let update: Diff<()> = Diff::Update(vec![
            Change {
                field: "a",
                patch: (),
            },
            Change {
                field: "b",
                patch: (),
            },
        ]);
        let seen = Observed::Present(());
        let (op, out) = apply(&fx, Kind::S3Bucket, "t", &seen, &update, |a| a, || Ok(7)).unwrap();
        assert_eq!((op, out), (Op::Update, Some(7)));
        let (op, out) = apply(
            &fx,
            Kind::S3Bucket,
            "t",
            &seen,
            &Diff::<()>::Keep("same"),
            |a| a,
            || -> Result<i32, Error> { panic!("kept") },
        )
        .unwrap();
        assert_eq!((op, out), (Op::Keep, None));
        let reasons: Vec<String> = fx.plan().actions.iter().map(|a| a.reason.clone()).collect();
        assert_eq!(reasons, ["a, b differ", "same"]);

        let plan = Effects::new(Mode::Plan, false, false);
        let (op, out) = apply(
            &plan,
            Kind::S3Bucket,
            "t",
            &Observed::<()>::NotLookedUp,
            &Diff::<()>::Create,
            |a| a,
            || -> Result<i32, Error> { panic!("planned") },
        )
        .unwrap();
        assert_eq!((op, out), (Op::Create, None));
        assert_eq!(plan.plan().actions[0].reason, OFFLINE);
    }

    #[test]
    fn unknown_values_never_reach_live_work() {
        assert_eq!(Known::value("v").known("x").unwrap(), &"v");
        assert!(Known::<String>::unknown()
            .known("the truststore version")
            .is_err());
        assert_eq!(Known::<String>::unknown().shown(), Unknown::TEXT);
        assert_eq!(Known::value("v".to_string()).shown(), "v");
        assert_eq!(Known::from(Some(1)).map(|x| x + 1), Known::value(2));
    }

    /// The actions `effects` recorded, as (op, target, reason).
    fn recorded(effects: &Effects) -> Vec<(Op, String, String)> {
        let plan = effects.plan();
        let actions = plan.actions.iter();
        actions
            .map(|a| (a.op, a.target.clone(), a.reason.clone()))
            .collect()
    }

    #[test]
    fn an_offline_delete_is_shown_and_never_run() {
        let plan = Effects::new(Mode::Plan, false, false);
        let op = delete(
            &plan,
            Kind::S3Bucket,
            "b",
            &Observed::<u8>::NotLookedUp,
            |_| -> Result<(), Error> { panic!("a plan deletes nothing") },
        )
        .unwrap();
        assert_eq!(op, Op::Delete);
        let want = [(Op::Delete, "b".to_string(), OFFLINE_DELETE.to_string())];
        assert_eq!(recorded(&plan), want);
    }

    #[test]
    fn a_live_delete_does_nothing_when_absent_and_gets_what_was_found() {
        let fx = Effects::new(Mode::Live, false, false);
        let op = delete(
            &fx,
            Kind::S3Bucket,
            "gone",
            &Observed::<u8>::Absent,
            |_| -> Result<(), Error> { panic!("nothing to delete") },
        )
        .unwrap();
        assert_eq!(op, Op::Keep);
        assert!(recorded(&fx).is_empty());

        let got = Cell::new(0);
        let op = delete(&fx, Kind::S3Bucket, "b", &Observed::Present(42u8), |id| {
            got.set(*id);
            Ok(())
        })
        .unwrap();
        assert_eq!((op, got.get()), (Op::Delete, 42));
        let want = [(Op::Delete, "b".to_string(), "exists".to_string())];
        assert_eq!(recorded(&fx), want);
    }

    #[test]
    fn a_live_delete_that_was_not_looked_up_is_an_error_not_a_blind_delete() {
        let fx = Effects::new(Mode::Live, false, false);
        let ran = Cell::new(false);
        let out = delete(
            &fx,
            Kind::S3Bucket,
            "b",
            &Observed::<u8>::NotLookedUp,
            |_| {
                ran.set(true);
                Ok(())
            },
        );
        assert!(matches!(out, Err(Error::Internal { .. })), "{out:?}");
        assert!(!ran.get());
    }
}

/// Tests that kill the mutants cargo-mutants found alive here (tests/README.md, "Mutation
/// testing").
#[cfg(test)]
mod mutants_tests {
    use super::*;
    use crate::effects::Mode;

    #[test]
    fn a_read_that_happened_is_looked_up() {
        assert!(Observed::<u8>::Absent.looked_up());
        assert!(Observed::Present(1).looked_up());
    }

    #[test]
    fn present_and_map_keep_what_was_observed() {
        assert_eq!(Observed::Present(2).present(), Some(&2));
        assert_eq!(Observed::<u8>::Absent.present(), None);
        assert_eq!(Observed::<u8>::NotLookedUp.present(), None);
        assert_eq!(Observed::Present(2).map(|x| x * 3), Observed::Present(6));
        assert_eq!(Observed::<u8>::Absent.map(|x| x * 3), Observed::Absent);
        assert_eq!(
            Observed::<u8>::NotLookedUp.map(|x| x * 3),
            Observed::NotLookedUp
        );
    }

    #[test]
    fn each_diff_has_its_operation_and_changes() {
        let change = Change {
            field: "f",
            patch: 1,
        };
        assert_eq!(
            Diff::<u8>::update_or_keep(vec![], "same"),
            Diff::Keep("same")
        );
        let update = Diff::update_or_keep(vec![change.clone()], "same");
        assert_eq!((update.op(), update.changes()), (Op::Update, &[change][..]));
        assert_eq!(Diff::<u8>::Keep("same").op(), Op::Keep);
        assert_eq!(Diff::<u8>::Create.op(), Op::Create);
        assert_eq!(Diff::<u8>::Replace("why".into()).op(), Op::Replace);
        assert!(Diff::<u8>::Create.changes().is_empty());
    }

    #[test]
    fn a_create_after_a_read_and_a_one_field_update_say_so() {
        let fx = Effects::new(Mode::Live, false, false);
        let one = Diff::Update(vec![Change {
            field: "a",
            patch: (),
        }]);
        for diff in [
            Diff::Create,
            one,
            Diff::Replace("it must be re-made".into()),
        ] {
            apply(
                &fx,
                Kind::S3Bucket,
                "t",
                &Observed::Present(()),
                &diff,
                |a| a,
                || Ok(()),
            )
            .unwrap();
        }
        let reasons: Vec<String> = fx.plan().actions.iter().map(|a| a.reason.clone()).collect();
        assert_eq!(
            reasons,
            ["does not exist", "a differs", "it must be re-made"]
        );
    }
}
