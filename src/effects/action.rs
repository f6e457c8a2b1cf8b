//! One change (or deliberate non-change) a run makes: the unit of a plan.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::Kind;

/// What happens to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// It does not exist yet and will be made.
    Create,
    /// It exists and one or more of its fields change.
    Update,
    /// It exists and is thrown away and made again (`--force`).
    Replace,
    /// It exists as asked: nothing to do.
    Keep,
    /// It exists and will be removed.
    Delete,
    /// Nothing changes, but something is looked at from outside (a probe).
    Check,
    /// It exists, made outside mtls, and becomes mtls's own: it is tagged (Terraform's
    /// `import`), never made again.
    Adopt,
}

impl Op {
    /// The sign shown in front of the action, as Terraform does.
    pub fn sign(self) -> &'static str {
        match self {
            Op::Create => "+",
            Op::Update => "~",
            Op::Replace => "-/+",
            Op::Keep => "=",
            Op::Delete => "-",
            Op::Check => "?",
            Op::Adopt => "<-",
        }
    }

    /// The op's name, as JSON plans and the `status` field of step results spell it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Replace => "replace",
            Op::Keep => "keep",
            Op::Delete => "delete",
            Op::Check => "check",
            Op::Adopt => "adopt",
        }
    }

    /// The verb used when reporting the action once done.
    pub fn past_tense(self) -> &'static str {
        match self {
            Op::Create => "created",
            Op::Update => "updated",
            Op::Replace => "replaced",
            Op::Keep => "kept",
            Op::Delete => "deleted",
            Op::Check => "checked",
            Op::Adopt => "adopted",
        }
    }

    /// Whether carrying it out changes the world (a live backend runs only these).
    pub fn changes_anything(self) -> bool {
        !matches!(self, Op::Keep)
    }
}

/// The value of one argument, as a plan shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    /// Known now.
    Known(String),
    /// Only known once applied (an ARN, a fingerprint).
    Unknown,
    /// Exists but is never shown (private key material).
    Sensitive,
}

impl ArgValue {
    /// A value as a script gave it: the placeholder alone is unknown; text built from it
    /// (`s3://trust-store-(known after apply)/...`) is shown as people read it.
    fn of(text: String) -> Self {
        if text == super::Unknown.to_string() {
            ArgValue::Unknown
        } else {
            ArgValue::Known(super::readable(&text).into_owned())
        }
    }
}

impl std::fmt::Display for ArgValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgValue::Known(s) => write!(f, "{s:?}"),
            ArgValue::Unknown => f.write_str(super::Unknown::TEXT),
            ArgValue::Sensitive => f.write_str("(sensitive)"),
        }
    }
}

impl Serialize for ArgValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ArgValue::Known(v) => s.serialize_str(v),
            ArgValue::Unknown => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("known_after_apply", &true)?;
                m.end()
            }
            ArgValue::Sensitive => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("sensitive", &true)?;
                m.end()
            }
        }
    }
}

/// A named argument of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The argument name (`algorithm`, `truststore_version`).
    pub name: String,
    /// Its value, or `(known after apply)`, or `(sensitive)`.
    pub value: ArgValue,
}

/// One entry of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// Create, update, replace, keep, delete, check or adopt.
    pub op: Op,
    /// What sort of thing (a private key, a certificate, an S3 bucket, ...) and where it lives.
    pub kind: Kind,
    /// Which one: a file name, a bucket name, a domain.
    pub target: String,
    /// The arguments that decide what is made, in the order they are shown.
    #[serde(serialize_with = "args_as_map")]
    pub args: Vec<Arg>,
    /// Why this op: "does not exist", "exists", "--force", "truststoreVersion differs".
    pub reason: String,
}

fn args_as_map<S: Serializer>(args: &[Arg], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(args.len()))?;
    for a in args {
        m.serialize_entry(&a.name, &a.value)?;
    }
    m.end()
}

impl Action {
    /// An action with no arguments yet.
    pub fn new(op: Op, kind: Kind, target: impl Into<String>, reason: impl Into<String>) -> Self {
        Action {
            op,
            kind,
            target: super::readable(&target.into()).into_owned(),
            args: Vec::new(),
            reason: reason.into(),
        }
    }

    /// Adds an argument known now.
    pub fn arg(mut self, name: &str, value: impl ToString) -> Self {
        self.args.push(Arg {
            name: name.to_string(),
            value: ArgValue::of(value.to_string()),
        });
        self
    }

    /// Adds an argument that is known, or not yet (`None`).
    pub fn arg_maybe(mut self, name: &str, value: Option<impl ToString>) -> Self {
        let value = match value {
            Some(v) => ArgValue::of(v.to_string()),
            None => ArgValue::Unknown,
        };
        self.args.push(Arg {
            name: name.to_string(),
            value,
        });
        self
    }

    /// Adds an argument whose value is secret: the plan says it is there, never what it is.
    pub fn arg_sensitive(mut self, name: &str) -> Self {
        self.args.push(Arg {
            name: name.to_string(),
            value: ArgValue::Sensitive,
        });
        self
    }

    /// The line a live run prints once the action is done.
    pub fn progress_line(&self) -> String {
        format!(
            "{} {} {} {} ({})",
            self.op.sign(),
            self.op.past_tense(),
            self.kind,
            self.target,
            self.reason
        )
    }
}
