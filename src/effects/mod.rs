//! The effects boundary: every primitive that changes the world goes through here.
//!
//! A script is evaluated once per run. Whether that run *applies* (live) or only
//! *previews* (plan) is decided by the [`Backend`] alone: primitives describe each change
//! as an [`Action`] and hand it, with the work that would carry it out, to
//! [`Effects::apply`]. The live backend does the work; the plan backend records the action
//! and returns nothing, so the primitive answers with [`Unknown`] placeholders. Both record
//! the action in the journal, which becomes the run's [`Plan`].

mod action;
mod approval;
mod kind;
mod plan;
mod unknown;

use std::cell::RefCell;
use std::collections::HashSet;

pub use action::{Action, Arg, ArgValue, Op};
pub use approval::Approved;
pub use kind::Kind;
pub use plan::{Plan, Summary};
pub use unknown::{is_unknown, readable, Unknown};

use crate::error::Error;
use crate::script::Printer;

/// Whether a run changes anything, with the options that matter to that kind of run only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Carry out every action (`mtls run`), always reading what exists first.
    Live {
        /// Print a line as each change is made (through the run's notice printer; the CLI
        /// turns it on, embedders usually leave it off).
        progress: bool,
    },
    /// Record every action, change nothing (`mtls plan`, `mtls run --dry-run`). A plan has
    /// no progress lines: it changes nothing.
    Plan {
        /// Let the plan make read-only AWS calls (`--refresh`), so each action says create,
        /// keep or update; without it a plan makes no network call at all.
        refresh: bool,
    },
}

impl Mode {
    /// A quiet live run.
    pub const LIVE: Mode = Mode::Live { progress: false };
    /// An offline plan.
    pub const PLAN: Mode = Mode::Plan { refresh: false };

    /// Whether this is a live run.
    pub fn is_live(self) -> bool {
        matches!(self, Mode::Live { .. })
    }

    /// The mode's name in a plan's JSON (`live` or `plan`): the options are not part of it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Live { .. } => "live",
            Mode::Plan { .. } => "plan",
        }
    }
}

// A plan's JSON names its mode only (`"mode": "plan"`), as before the options moved in.
impl serde::Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// How an [`Action`] is carried out. There are exactly two: [`LiveBackend`] and
/// [`PlanBackend`]; the rest of the code never asks which one it has.
pub trait Backend {
    /// The mode this backend implements.
    fn mode(&self) -> Mode;

    /// Carries out `action` by calling `work`, or does not.
    ///
    /// Returns whether `work` ran. An error from `work` is passed through unchanged.
    fn carry_out(
        &self,
        action: &Action,
        work: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<bool, Error>;
}

/// Applies every action and reports progress, as it happens, to the run's notice printer.
pub struct LiveBackend {
    /// Where a progress line per change goes (`None`: the embeddable API's quiet runs).
    pub progress: Option<Printer>,
}

impl Backend for LiveBackend {
    fn mode(&self) -> Mode {
        Mode::Live {
            progress: self.progress.is_some(),
        }
    }

    fn carry_out(
        &self,
        action: &Action,
        work: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<bool, Error> {
        if action.op.changes_anything() {
            work()?;
            if let Some(print) = &self.progress {
                print(&action.progress_line());
            }
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

/// Changes nothing: the action is only recorded.
pub struct PlanBackend {
    /// Whether read-only AWS calls may be made (`--refresh`).
    pub refresh: bool,
}

impl Backend for PlanBackend {
    fn mode(&self) -> Mode {
        Mode::Plan {
            refresh: self.refresh,
        }
    }

    fn carry_out(
        &self,
        _action: &Action,
        _work: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<bool, Error> {
        Ok(false)
    }
}

/// The boundary a run's primitives share: a backend and the journal of actions.
pub struct Effects {
    backend: Box<dyn Backend>,
    journal: RefCell<Vec<Action>>,
    targets: RefCell<HashSet<String>>,
    /// What needs attention without being a change (a certificate about to expire).
    warnings: RefCell<Vec<String>>,
    /// Targets an earlier action changes but that were not changed (a plan).
    pending: RefCell<HashSet<String>>,
    /// The AWS changes a person confirmed: a live run sends no other (`None`: no one was
    /// asked, so no limit).
    approved: Option<Approved>,
}

impl Effects {
    /// Effects for `mode`; a live run's progress lines go to standard error.
    pub fn new(mode: Mode) -> Self {
        Self::printing_to(mode, std::sync::Arc::new(|line| eprintln!("{line}")))
    }

    /// Effects for `mode`; a live run's progress lines (when `mode` asks for them) go to
    /// `notices`, the embedder's printer.
    pub fn printing_to(mode: Mode, notices: Printer) -> Self {
        let backend: Box<dyn Backend> = match mode {
            Mode::Live { progress } => Box::new(LiveBackend {
                progress: progress.then_some(notices),
            }),
            Mode::Plan { refresh } => Box::new(PlanBackend { refresh }),
        };
        Effects {
            backend,
            journal: RefCell::new(Vec::new()),
            targets: RefCell::new(HashSet::new()),
            warnings: RefCell::new(Vec::new()),
            pending: RefCell::new(HashSet::new()),
            approved: None,
        }
    }

    /// Limits a live run to the AWS changes `approved` holds: any other stops the run with
    /// an error before its work starts.
    pub fn with_approved(mut self, approved: Option<Approved>) -> Self {
        self.approved = approved;
        self
    }

    // The backend owns the mode: code outside this module cannot ask for it (scripts cannot
    // either: a plan shows what a run does). The one question that leaves it, whether reads
    // may happen, takes a capability only the AWS read gate can make.

    /// The mode of this run (private: see above).
    fn mode(&self) -> Mode {
        self.backend.mode()
    }

    /// Whether reads may happen: always in a live run, in a plan only with `--refresh`.
    /// This is the one place that decides it, asked by the AWS primitives' read gate alone;
    /// a step whose read is skipped sees [`crate::reconcile::Observed::NotLookedUp`].
    pub(crate) fn may_read(&self, _gate: &crate::script::AwsReadGate) -> bool {
        match self.mode() {
            Mode::Live { .. } => true,
            Mode::Plan { refresh } => refresh,
        }
    }

    /// Starts preparatory work that changes nothing visible (generating a key in the
    /// background before the step that writes it): in a live run only.
    pub fn prepare(&self, work: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
        match self.mode() {
            Mode::Live { .. } => work(),
            Mode::Plan { .. } => Ok(()),
        }
    }

    /// Records `action` and, in a live run, carries it out with `work`.
    ///
    /// Returns `Some(result of work)` when the work ran, `None` in a plan or for an action
    /// that changes nothing (keep).
    pub fn apply<T>(
        &self,
        action: Action,
        work: impl FnOnce() -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        if let (Mode::Live { .. }, Some(approved)) = (self.mode(), &self.approved) {
            approved.check(&action)?;
        }
        let mut work = Some(work);
        let mut out = None;
        let ran = self.backend.carry_out(&action, &mut || {
            if let Some(w) = work.take() {
                out = Some(w()?);
            }
            Ok(())
        })?;
        if !ran && action.op.changes_anything() {
            self.pending.borrow_mut().insert(action.target.clone());
        }
        self.record(action);
        Ok(if ran { out } else { None })
    }

    /// Fills in an argument of the latest action on `target` once it is known (a live run
    /// learns an ARN or a fingerprint only by applying).
    pub fn resolve(&self, target: &str, name: &str, value: impl ToString) {
        let mut journal = self.journal.borrow_mut();
        if let Some(action) = journal.iter_mut().rev().find(|a| a.target == target) {
            match action.args.iter_mut().find(|a| a.name == name) {
                Some(arg) => arg.value = ArgValue::Known(value.to_string()),
                None => action.args.push(Arg {
                    name: name.to_string(),
                    value: ArgValue::Known(value.to_string()),
                }),
            }
        }
    }

    /// Records an action that changes nothing (`keep`), in both modes.
    pub fn keep(&self, action: Action) {
        self.record(action);
    }

    /// Whether an earlier action of this run already concerns `target` (a file this run
    /// makes counts as made, even in a plan where it was never written).
    pub fn touched(&self, target: &str) -> bool {
        self.targets.borrow().contains(target)
    }

    /// Whether an earlier action of this run changes `target` without having changed it
    /// yet (a plan): what the target will hold is known only once applied.
    pub fn pending(&self, target: &str) -> bool {
        self.pending.borrow().contains(target)
    }

    /// Records a warning for the plan (once, however often it is raised). Returns whether
    /// it is new, so the caller shows it once too.
    pub fn warn(&self, text: &str) -> bool {
        let mut warnings = self.warnings.borrow_mut();
        if warnings.iter().any(|w| w == text) {
            return false;
        }
        warnings.push(text.to_string());
        true
    }

    /// The actions and warnings recorded so far, in order.
    pub fn plan(&self) -> Plan {
        Plan::new(self.mode(), self.journal.borrow().clone())
            .with_warnings(self.warnings.borrow().clone())
    }

    fn record(&self, action: Action) {
        self.targets.borrow_mut().insert(action.target.clone());
        self.journal.borrow_mut().push(action);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(target: &str) -> Action {
        Action::new(Op::Create, Kind::Certificate, target, "does not exist")
    }

    #[test]
    fn plan_records_but_never_runs_the_work() {
        let fx = Effects::new(Mode::PLAN);
        let mut ran = false;
        let out = fx
            .apply(create("a"), || {
                ran = true;
                Ok(1)
            })
            .unwrap();
        assert!(!ran);
        assert_eq!(out, None);
        assert_eq!(fx.plan().actions.len(), 1);
        assert!(fx.touched("a"));
        assert!(fx.pending("a"));
        fx.keep(Action::new(Op::Keep, Kind::Certificate, "b", "exists"));
        assert!(fx.touched("b") && !fx.pending("b"));
    }

    #[test]
    fn live_runs_the_work_and_records() {
        let fx = Effects::new(Mode::LIVE);
        let out = fx.apply(create("a"), || Ok(7)).unwrap();
        assert_eq!(out, Some(7));
        assert_eq!(fx.plan().actions[0].op, Op::Create);
        // Done, so not pending: a later step reads what was written.
        assert!(fx.touched("a") && !fx.pending("a"));
    }

    #[test]
    fn live_does_not_record_a_failed_action_as_done() {
        let fx = Effects::new(Mode::LIVE);
        let err = fx.apply(create("a"), || -> Result<(), Error> {
            Err(Error::MissingVar { name: "x".into() })
        });
        assert!(err.is_err());
        assert!(fx.plan().actions.is_empty());
    }
}
