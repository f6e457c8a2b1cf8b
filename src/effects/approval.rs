//! The AWS changes a person confirmed: a live run sends no other.
//!
//! `mtls run` at a terminal shows the AWS changes of a plan and asks; the run that follows
//! is a second evaluation of the script, which may take another path (a script that
//! branches on whether a value is known, a resource that changed in between). Each AWS
//! change of the run is checked against the confirmed plan before it is sent: one the plan
//! did not show stops the run, so nothing is done that was not asked about.

use super::{Action, Kind, Op, Plan, Unknown};
use crate::error::Error;

/// The AWS changes of a confirmed plan.
#[derive(Debug, Clone, Default)]
pub struct Approved {
    changes: Vec<(Kind, String, bool)>,
}

impl Approved {
    /// The AWS changes `plan` shows (what [`Plan::aws_changes`] lists).
    pub fn from_plan(plan: &Plan) -> Self {
        let changes = plan
            .actions
            .iter()
            .filter(|a| Plan::is_aws_change(a))
            .map(|a| (a.kind, a.target.clone(), a.op == Op::Delete))
            .collect();
        Approved { changes }
    }

    /// `Ok` when `action` changes nothing on AWS, or when the plan showed a change of the
    /// same kind to the same target (a delete for a delete). Which change (create, update,
    /// replace) may differ: an offline plan does not look AWS up, so it shows a create
    /// where the run finds an update. An error names the action otherwise.
    pub fn check(&self, action: &Action) -> Result<(), Error> {
        if !Plan::is_aws_change(action) {
            return Ok(());
        }
        let deletes = action.op == Op::Delete;
        let shown = self.changes.iter().any(|(kind, target, delete)| {
            *kind == action.kind && *delete == deletes && same_target(target, &action.target)
        });
        if shown {
            Ok(())
        } else {
            Err(Error::NotInConfirmedPlan {
                action: format!("{} {} {}", action.op.name(), action.kind, action.target),
            })
        }
    }
}

/// Whether the planned target names the live one: equal, where each `(known after apply)`
/// of the plan stands for any text (an id or a name only a live run learns).
fn same_target(planned: &str, live: &str) -> bool {
    let mut parts = planned.split(Unknown::TEXT);
    let Some(first) = parts.next() else {
        return planned == live;
    };
    let Some(mut rest) = live.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No placeholder: the whole target must be equal.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::Mode;

    fn plan(actions: Vec<Action>) -> Approved {
        Approved::from_plan(&Plan::new(Mode::PLAN, actions))
    }

    #[test]
    fn a_change_the_plan_showed_passes_and_another_is_named() {
        let ok = plan(vec![Action::new(Op::Create, Kind::S3Bucket, "b", "x")]);
        assert!(ok
            .check(&Action::new(Op::Update, Kind::S3Bucket, "b", "y"))
            .is_ok());
        let err = ok
            .check(&Action::new(Op::Create, Kind::S3Bucket, "c", "y"))
            .unwrap_err();
        assert!(err.to_string().contains("create s3 bucket c"), "{err}");
        // A delete was not shown by a create of the same target.
        assert!(ok
            .check(&Action::new(Op::Delete, Kind::S3Bucket, "b", "y"))
            .is_err());
        // Local files and keeps are not asked about, so never refused.
        assert!(ok
            .check(&Action::new(Op::Create, Kind::PrivateKey, "k", "y"))
            .is_ok());
        assert!(ok
            .check(&Action::new(Op::Keep, Kind::RestApi, "r", "y"))
            .is_ok());
    }

    #[test]
    fn an_unknown_part_of_a_planned_target_stands_for_any_text() {
        let u = Unknown::TEXT;
        assert!(same_target(
            &format!("{u} CNAME"),
            "_x.api.example.com. CNAME"
        ));
        assert!(same_target(&format!("{u}/prod"), "abc123/prod"));
        assert!(same_target(&format!("a {u} b {u} c"), "a 1 b 2 c"));
        assert!(!same_target(&format!("{u}/prod"), "abc123/test"));
        assert!(!same_target("abc", "abcd"));
        assert!(same_target("abc", "abc"));
    }
}
