//! A run's actions as a value: rendered for people (aligned, with `+ ~ = -` signs) and as
//! JSON for programs.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Action, Mode, Op};

/// Every action of one run, in the order the script made them.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Bumped when the JSON shape changes incompatibly.
    pub format_version: u32,
    /// Whether the actions were carried out (live) or only recorded (plan).
    pub mode: Mode,
    /// How many actions of each kind.
    pub summary: Summary,
    /// Every action, in the order the script took them.
    pub actions: Vec<Action>,
    /// What needs attention without being a change: certificates (local files, the
    /// truststore's CAs, those in ACM) that expire within `--var expiry_warning_days`
    /// (30 by default). Warnings do not make `--detailed-exitcode` exit 2.
    pub warnings: Vec<String>,
}

/// How many actions of each op.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources or files to make.
    pub create: usize,
    /// Resources changed in place.
    pub update: usize,
    /// Resources made anew in place of the old.
    pub replace: usize,
    /// What exists already as asked.
    pub keep: usize,
    /// Resources to remove.
    pub delete: usize,
    /// Checks that change nothing.
    pub check: usize,
    /// Resources made outside mtls that become its own (tagged, not made again).
    pub adopt: usize,
}

impl Plan {
    pub(crate) fn new(mode: Mode, actions: Vec<Action>) -> Self {
        let mut summary = Summary::default();
        for a in &actions {
            *match a.op {
                Op::Create => &mut summary.create,
                Op::Update => &mut summary.update,
                Op::Replace => &mut summary.replace,
                Op::Keep => &mut summary.keep,
                Op::Delete => &mut summary.delete,
                Op::Check => &mut summary.check,
                Op::Adopt => &mut summary.adopt,
            } += 1;
        }
        Plan {
            format_version: 1,
            mode,
            summary,
            actions,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// Whether applying this plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.actions
            .iter()
            .any(|a| a.op.changes_anything() && a.op != Op::Check)
    }

    /// The plan as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The plan for people: a summary line, then one aligned block per action.
    pub fn render_text(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = match self.mode {
            Mode::Plan { .. } => writeln!(
                out,
                "Plan: {}{} to create, {} to update, {} to replace, {} to keep, {} to delete{}.",
                adoptions(s.adopt, "to adopt"),
                s.create,
                s.update,
                s.replace,
                s.keep,
                s.delete,
                checks(s.check, "to check"),
            ),
            Mode::Live { .. } => writeln!(
                out,
                "Applied: {}{} created, {} updated, {} replaced, {} kept, {} deleted{}.",
                adoptions(s.adopt, "adopted"),
                s.create,
                s.update,
                s.replace,
                s.keep,
                s.delete,
                checks(s.check, "checked"),
            ),
        };
        if self.actions.is_empty() {
            self.render_warnings(&mut out);
            return out;
        }
        out.push('\n');
        let sign_w = self
            .actions
            .iter()
            .map(|a| a.op.sign().len())
            .max()
            .unwrap_or(1);
        let kind_w = self
            .actions
            .iter()
            .map(|a| a.kind.name().len())
            .max()
            .unwrap_or(0);
        let target_w = self
            .actions
            .iter()
            .map(|a| a.target.len())
            .max()
            .unwrap_or(0);
        for a in &self.actions {
            let _ = writeln!(
                out,
                "  {:>sign_w$} {:<kind_w$}  {:<target_w$}  ({})",
                a.op.sign(),
                a.kind,
                a.target,
                a.reason,
            );
            if self.mode.is_live() {
                // What was done is in the progress lines already; arguments are in --format json.
                continue;
            }
            let name_w = a.args.iter().map(|x| x.name.len()).max().unwrap_or(0);
            for arg in &a.args {
                let _ = writeln!(
                    out,
                    "  {:sign_w$}     {:<name_w$} = {}",
                    "", arg.name, arg.value
                );
            }
        }
        self.render_warnings(&mut out);
        if !self.mode.is_live() {
            out.push_str("\nNothing was changed: this was a plan. Run `mtls run` to apply it.\n");
        } else if !self.has_changes() {
            out.push_str("\nNo changes: everything was already as the script asks.\n");
        }
        out
    }

    fn render_warnings(&self, out: &mut String) {
        if self.warnings.is_empty() {
            return;
        }
        out.push_str("\nWarnings:\n");
        for w in &self.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }

    /// Whether applying this plan would change anything on AWS: an action that creates,
    /// updates, replaces or deletes something other than a file in the working folder or a
    /// process on this machine. `mtls run` asks for confirmation at a terminal when it does.
    pub fn changes_aws(&self) -> bool {
        self.actions.iter().any(Self::is_aws_change)
    }

    /// The plan of the actions [`Plan::changes_aws`] counts, in order, with their summary.
    pub fn aws_changes(&self) -> Plan {
        let actions = self
            .actions
            .iter()
            .filter(|a| Self::is_aws_change(a))
            .cloned()
            .collect();
        Plan::new(self.mode, actions).with_warnings(self.warnings.clone())
    }

    /// A changing action on something that lives on AWS (its kind says where).
    pub(crate) fn is_aws_change(action: &Action) -> bool {
        matches!(
            action.op,
            Op::Create | Op::Update | Op::Replace | Op::Delete | Op::Adopt
        ) && action.kind.on_aws()
    }
}

/// Adoptions come first, as Terraform puts its imports first; a plan without any reads
/// as before.
fn adoptions(n: usize, word: &str) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("{n} {word}, ")
    }
}

fn checks(n: usize, word: &str) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} {word}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::Kind;

    fn sample() -> Plan {
        Plan::new(
            Mode::PLAN,
            vec![
                Action::new(Op::Create, Kind::PrivateKey, "RootCA.key", "does not exist")
                    .arg("algorithm", "rsa4096")
                    .arg_sensitive("pem"),
                Action::new(Op::Keep, Kind::Certificate, "RootCA.pem", "exists")
                    .arg_maybe("sha256", None::<String>),
            ],
        )
    }

    #[test]
    fn text_lists_every_action_with_sign_and_placeholders() {
        let text = sample().render_text();
        assert!(
            text.starts_with(
                "Plan: 1 to create, 0 to update, 0 to replace, 1 to keep, 0 to delete."
            ),
            "{text}"
        );
        assert!(
            text.contains("  + private key  RootCA.key  (does not exist)"),
            "{text}"
        );
        assert!(
            text.contains("  = certificate  RootCA.pem  (exists)"),
            "{text}"
        );
        assert!(text.contains("algorithm = \"rsa4096\""), "{text}");
        assert!(text.contains("pem       = (sensitive)"), "{text}");
        assert!(
            text.contains(&format!("sha256 = {}", crate::effects::Unknown::TEXT)),
            "{text}"
        );
    }

    #[test]
    fn adoptions_are_counted_and_shown_on_their_own() {
        let plan = Plan::new(
            Mode::PLAN,
            vec![
                Action::new(Op::Adopt, Kind::ApiCustomDomain, "api.example.com", "found"),
                Action::new(Op::Update, Kind::ApiCustomDomain, "api.example.com", "x"),
            ],
        );
        let text = plan.render_text();
        assert!(
            text.starts_with("Plan: 1 to adopt, 0 to create, 1 to update,"),
            "{text}"
        );
        assert!(
            text.contains("  <- api custom domain  api.example.com  (found)"),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&plan.to_json()).unwrap();
        assert_eq!(v["summary"]["adopt"], 1);
        assert_eq!(v["summary"]["update"], 1);
        assert_eq!(v["actions"][0]["op"], "adopt");
        assert!(plan.has_changes() && plan.changes_aws());
    }

    #[test]
    fn json_marks_unknown_and_sensitive_values() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["mode"], "plan");
        assert_eq!(v["summary"]["create"], 1);
        assert_eq!(v["actions"][0]["op"], "create");
        assert_eq!(v["actions"][0]["args"]["algorithm"], "rsa4096");
        assert_eq!(v["actions"][0]["args"]["pem"]["sensitive"], true);
        assert_eq!(v["actions"][1]["args"]["sha256"]["known_after_apply"], true);
    }
}
