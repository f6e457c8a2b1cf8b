//! The one shape every AWS resource step has, like a Terraform provider's CRUD:
//!
//! - **read** -> [`Observed`]: `NotLookedUp` in an offline plan (the effects backend
//!   decides whether a read may happen, never the step), `Absent`, or `Present`;
//! - **diff** (pure, table-tested, no I/O): the desired state and the observed one ->
//!   [`Diff`]: keep, create, update (with the fields that differ) or replace;
//! - **apply**: [`apply`] turns the diff into the action the plan shows, with its reason,
//!   and runs the step's live work for it through the effects boundary.
//!
//! Values a plan cannot know are `None` in a desired state ([`Known`]); [`known`] refuses
//! to let one reach live work, so AWS can never be sent a placeholder.

use crate::effects::{Action, Effects, Kind, Op};
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
    /// From a read that may not have happened (`None`) and may have found nothing.
    pub fn from_read(read: Option<Option<T>>) -> Self {
        match read {
            None => Observed::NotLookedUp,
            Some(None) => Observed::Absent,
            Some(Some(t)) => Observed::Present(t),
        }
    }

    /// The resource, when it was found.
    pub fn present(&self) -> Option<&T> {
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
}

/// A value of the desired state: `None` until it is known (a plan's `(known after apply)`).
pub type Known<T> = Option<T>;

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
    /// It exists and cannot be changed in place; the reason says why. (No step of the
    /// walkthrough needs it yet: the first will be a re-import with another key type,
    /// which ACM refuses over the same ARN.)
    #[allow(dead_code)]
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

/// Records the action for `diff` on `kind`/`target` and, in a live run, does `work` for
/// it. `describe` adds the arguments a create, update or replace shows. Returns the
/// operation and what the work returned (`None` for a keep and in a plan).
pub fn apply<P, R>(
    effects: &Effects,
    kind: Kind,
    target: &str,
    looked_up: bool,
    diff: &Diff<P>,
    describe: impl FnOnce(Action) -> Action,
    work: impl FnOnce() -> Result<R, Error>,
) -> Result<(Op, Option<R>), Error> {
    let reason = match diff {
        Diff::Keep(reason) => {
            effects.keep(Action::new(Op::Keep, kind, target, *reason));
            return Ok((Op::Keep, None));
        }
        Diff::Create if !looked_up => OFFLINE.to_string(),
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

/// A desired value inside live work: known by then, or a bug (never sent as "").
pub fn known<'a>(value: &'a Known<String>, what: &str) -> Result<&'a str, Error> {
    value.as_deref().ok_or_else(|| {
        Error::internal(
            format!("send {what} to AWS"),
            "it was still unknown when the change was made",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::Mode;

    #[test]
    fn observations_come_from_reads() {
        assert_eq!(Observed::<u8>::from_read(None), Observed::NotLookedUp);
        assert_eq!(Observed::<u8>::from_read(Some(None)), Observed::Absent);
        assert_eq!(Observed::from_read(Some(Some(1))), Observed::Present(1));
        assert!(!Observed::<u8>::NotLookedUp.looked_up());
    }

    #[test]
    fn apply_records_the_reason_and_runs_live_work_only_for_changes() {
        let fx = Effects::new(Mode::LIVE);
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
        let (op, out) = apply(&fx, Kind::S3Bucket, "t", true, &update, |a| a, || Ok(7)).unwrap();
        assert_eq!((op, out), (Op::Update, Some(7)));
        let (op, out) = apply(
            &fx,
            Kind::S3Bucket,
            "t",
            true,
            &Diff::<()>::Keep("same"),
            |a| a,
            || -> Result<i32, Error> { panic!("kept") },
        )
        .unwrap();
        assert_eq!((op, out), (Op::Keep, None));
        let reasons: Vec<String> = fx.plan().actions.iter().map(|a| a.reason.clone()).collect();
        assert_eq!(reasons, ["a, b differ", "same"]);

        let plan = Effects::new(Mode::PLAN);
        let (op, out) = apply(
            &plan,
            Kind::S3Bucket,
            "t",
            false,
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
        assert_eq!(known(&Some("v".into()), "x").unwrap(), "v");
        assert!(known(&None, "the truststore version").is_err());
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
        let fx = Effects::new(Mode::LIVE);
        let one = Diff::Update(vec![Change {
            field: "a",
            patch: (),
        }]);
        for diff in [
            Diff::Create,
            one,
            Diff::Replace("it must be re-made".into()),
        ] {
            apply(&fx, Kind::S3Bucket, "t", true, &diff, |a| a, || Ok(())).unwrap();
        }
        let reasons: Vec<String> = fx.plan().actions.iter().map(|a| a.reason.clone()).collect();
        assert_eq!(
            reasons,
            ["does not exist", "a differs", "it must be re-made"]
        );
    }
}
