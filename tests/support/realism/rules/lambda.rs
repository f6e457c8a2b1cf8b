//! AWS Lambda rules, for the revocation authorizer's function: a new (or newly trusted)
//! execution role Lambda cannot assume yet, and a function that refuses changes while it is
//! Pending after its creation or while an update is InProgress.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::left;
use crate::support::realism::{aws_error, After, Cx, Request, Response, Rule, Verdict};

/// The function a Lambda request names (`/2015-03-31/functions/NAME/...`): its name, also
/// when the path holds its ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
fn function_name(req: &Request) -> String {
    let segment = req.segments().get(2).cloned().unwrap_or_default();
    match segment.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or_default().to_string(),
        None => segment,
    }
}

/// The role name of a role ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// IAM is eventually consistent: "Changes that I make are not always immediately visible"
/// (IAM user guide, troubleshoot_general, troubleshoot_general_eventual-consistency: a
/// change is visible to the IAM API at once but takes time to reach the services that use
/// it). Until a new role, or a role's new trust policy, has reached Lambda, CreateFunction
/// and UpdateFunctionConfiguration naming that role answer HTTP 400
/// InvalidParameterValueException "The role defined for the function cannot be assumed by
/// Lambda." (Lambda API reference, CreateFunction, Errors: InvalidParameterValueException).
/// moto accepts the role at once.
pub struct RoleNotAssumableYet {
    lasts: Duration,
    changed: HashMap<String, Instant>,
}

impl RoleNotAssumableYet {
    pub const NAME: &'static str = "role not assumable yet";
    /// The text of each refusal's event.
    pub const REFUSED: &'static str = "InvalidParameterValueException";

    /// Not assumable for `lasts` after CreateRole or UpdateAssumeRolePolicy.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(RoleNotAssumableYet {
            lasts,
            changed: HashMap::new(),
        })
    }
}

impl Rule for RoleNotAssumableYet {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if !matches!(
            op.as_str(),
            "CreateFunction" | "UpdateFunctionConfiguration"
        ) {
            return Verdict::Forward;
        }
        let role = req.json_str("Role");
        let name = role_name(&role);
        match self.changed.get(name) {
            Some(&until) if !role.is_empty() && cx.now < until => {
                cx.log(format!(
                    "{op}: {} (role {name} not assumable by Lambda for {:.1} s)",
                    Self::REFUSED,
                    left(until, cx.now)
                ));
                Verdict::Answer(aws_error(
                    "lambda",
                    400,
                    "InvalidParameterValueException",
                    "The role defined for the function cannot be assumed by Lambda.",
                ))
            }
            _ => Verdict::Forward,
        }
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() || req.service() != "iam" {
            return After::Deliver;
        }
        let op = req.operation();
        if matches!(op.as_str(), "CreateRole" | "UpdateAssumeRolePolicy") {
            let name = req.form("RoleName").unwrap_or_default();
            cx.log(format!(
                "{op} {name}: Lambda cannot assume it for {:.1} s",
                self.lasts.as_secs_f64()
            ));
            self.changed.insert(name, cx.now + self.lasts);
        }
        After::Deliver
    }
}

/// Why a function refuses changes for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    /// Just created: `State` is `Pending`.
    Pending,
    /// Just updated: `LastUpdateStatus` is `InProgress`.
    InProgress,
}

/// Lambda developer guide, "Lambda function states" (functions-states): after
/// CreateFunction a function's `State` is `Pending` ("Any invocations or other API actions
/// that operate on the function will fail"; the page lists Invoke, UpdateFunctionCode,
/// UpdateFunctionConfiguration and PublishVersion as failing while creation is pending),
/// then `Active`; after UpdateFunctionCode or UpdateFunctionConfiguration its
/// `LastUpdateStatus` is `InProgress` (the state stays `Active`) and further updates fail
/// until it is `Successful`. The refusal is HTTP 409 ResourceConflictException ("The
/// resource already exists, or another operation is in progress", Lambda API reference,
/// UpdateFunctionCode and UpdateFunctionConfiguration, Errors). GetFunction and
/// GetFunctionConfiguration show `Pending` / `InProgress` meanwhile, as the page's
/// `get-function --query 'Configuration.[State, LastUpdateStatus]'` example reads them.
/// moto makes every function `Active` and `Successful` at once.
pub struct FunctionUpdating {
    pending: Duration,
    in_progress: Duration,
    busy: HashMap<String, (Busy, Instant, String)>,
}

impl FunctionUpdating {
    pub const NAME: &'static str = "function updating";
    /// The text of each refusal's event.
    pub const REFUSED: &'static str = "409 ResourceConflictException";

    /// `Pending` for `pending` after a create, `InProgress` for `in_progress` after an
    /// update.
    pub fn new(pending: Duration, in_progress: Duration) -> Box<Self> {
        Box::new(FunctionUpdating {
            pending,
            in_progress,
            busy: HashMap::new(),
        })
    }

    fn busy(&self, name: &str, now: Instant) -> Option<(Busy, Instant, String)> {
        self.busy
            .get(name)
            .filter(|(_, until, _)| now < *until)
            .cloned()
    }

    /// Shows `busy` in a function configuration (GetFunction's `Configuration`, or the
    /// answer of a create, an update, GetFunctionConfiguration).
    fn mark(config: &mut Value, busy: Busy) {
        match busy {
            Busy::Pending => {
                config["State"] = json!("Pending");
                config["StateReason"] = json!("The function is being created.");
                config["StateReasonCode"] = json!("Creating");
            }
            Busy::InProgress => {
                config["State"] = json!("Active");
                config["LastUpdateStatus"] = json!("InProgress");
            }
        }
    }
}

impl Rule for FunctionUpdating {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if !matches!(
            op.as_str(),
            "UpdateFunctionCode" | "UpdateFunctionConfiguration" | "PublishVersion"
        ) {
            return Verdict::Forward;
        }
        let name = function_name(req);
        let Some((busy, until, arn)) = self.busy(&name, cx.now) else {
            return Verdict::Forward;
        };
        let (state, message) = match busy {
            Busy::Pending => (
                "State Pending",
                "The operation cannot be performed at this time. The function is currently in the following state: Pending".to_string(),
            ),
            Busy::InProgress => (
                "LastUpdateStatus InProgress",
                format!(
                    "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
                ),
            ),
        };
        cx.log(format!(
            "{op} {name}: {}, {state} for {:.1} s",
            Self::REFUSED,
            left(until, cx.now)
        ));
        Verdict::Answer(aws_error(
            "lambda",
            409,
            "ResourceConflictException",
            &message,
        ))
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() || req.service() != "lambda" {
            return After::Deliver;
        }
        let op = req.operation();
        match op.as_str() {
            "CreateFunction" | "UpdateFunctionCode" | "UpdateFunctionConfiguration" => {
                let Some(mut j) = resp.json() else {
                    return After::Deliver;
                };
                let name = j["FunctionName"].as_str().unwrap_or_default().to_string();
                let arn = j["FunctionArn"].as_str().unwrap_or(&name).to_string();
                let (busy, lasts) = if op == "CreateFunction" {
                    (Busy::Pending, self.pending)
                } else {
                    (Busy::InProgress, self.in_progress)
                };
                cx.log(format!(
                    "{op} {name}: {busy:?} for {:.1} s",
                    lasts.as_secs_f64()
                ));
                self.busy.insert(name, (busy, cx.now + lasts, arn));
                Self::mark(&mut j, busy);
                resp.set_json(&j);
            }
            "GetFunction" | "GetFunctionConfiguration" => {
                let name = function_name(req);
                let Some((busy, until, _)) = self.busy(&name, cx.now) else {
                    return After::Deliver;
                };
                let Some(mut j) = resp.json() else {
                    return After::Deliver;
                };
                if op == "GetFunction" {
                    Self::mark(&mut j["Configuration"], busy);
                } else {
                    Self::mark(&mut j, busy);
                }
                resp.set_json(&j);
                cx.log(format!(
                    "{op} {name}: {busy:?} ({:.1} s left)",
                    left(until, cx.now)
                ));
            }
            "DeleteFunction" => {
                self.busy.remove(&function_name(req));
            }
            _ => {}
        }
        After::Deliver
    }
}
