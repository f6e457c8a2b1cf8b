//! AWS for scripts: one `ensure_*` primitive per resource of the walkthrough (find it,
//! compare, create or update only what differs, say which), and the `delete_*` ones that
//! teardown uses. The stdlib steps (`upload_truststore`, `create_mtls_domain`, ...) are
//! Rhai functions that call these in the article's order.
//!
//! Reads run in a live run and in `plan --refresh`; an offline plan makes no call at all
//! and assumes nothing exists yet (each action then says it was not looked up).

mod acm;
mod adopt;
mod apigateway;
mod authorizer;
pub(super) mod checks;
// The locks live beside the AWS steps (fleets take them too); the steps name them
// `super::lock`.
use super::lock;
mod rollover;
mod route53;
mod s3;

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::{bound, primitive, Registrar};
use crate::aws::{Aws, Tags};
use crate::effects::{is_unknown, readable, Unknown};
use crate::error::Error;
use crate::reconcile::Known;
use crate::script::error::fail;
use crate::script::Context;

pub(super) type RhaiResult<T> = Result<T, Box<rhai::EvalAltResult>>;

/// Tag keys on what mtls creates: re-runs and teardown find resources by them.
pub const TAG_DOMAIN: &str = "mtls:domain";
pub const TAG_ROLE: &str = "mtls:role";
/// A domain name argument, checked as `--var domain` is (a script may build its own).
fn check_domain(function: &'static str, domain: &str) -> Result<(), Error> {
    match crate::inputs::dns_name_problem(domain, crate::inputs::Wildcard::Refused) {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_argument(
            function,
            "domain",
            format!("{domain:?}: {problem}"),
            "pass a DNS name such as api.example.com",
        )),
    }
}

/// A bucket name argument, checked against S3's naming rules before any call (a script
/// may pass any string). `None` (a plan's placeholder) is checked once it is known.
fn check_bucket(function: &'static str, argument: &str, name: Option<&str>) -> Result<(), Error> {
    match name.and_then(|n| crate::inputs::bucket_name_problem(n).map(|p| (n, p))) {
        None => Ok(()),
        Some((name, problem)) => Err(Error::invalid_argument(
            function,
            argument,
            format!("{name:?} is not a valid S3 bucket name: {problem}"),
            "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; pass another with --var bucket=NAME",
        )),
    }
}

/// An S3 object key argument: 1 to 1024 bytes of UTF-8 (Amazon S3 user guide, "Naming
/// Amazon S3 objects"); a key S3 would refuse is refused before any call.
fn check_object_key(function: &'static str, key: &str) -> Result<(), Error> {
    if (1..=1024).contains(&key.len()) {
        return Ok(());
    }
    Err(Error::invalid_argument(
        function,
        "key",
        format!("the object key is {} bytes long", key.len()),
        "an S3 object key is 1 to 1024 bytes, e.g. api.example.com/RootCA.pem",
    ))
}

/// A stage name argument, checked as `--var stage` is.
fn check_stage(function: &'static str, stage: &str) -> Result<(), Error> {
    match crate::inputs::stage_name_problem(stage) {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_argument(
            function,
            "stage",
            format!("{stage:?}: {problem}"),
            "pass a stage name such as prod",
        )),
    }
}

/// A script value that is a string, known or not yet (a plan placeholder).
fn text(function: &'static str, argument: &str, v: &Dynamic) -> Result<Known<String>, Error> {
    if v.is::<Unknown>() {
        return Ok(Known::unknown());
    }
    if v.is_string() {
        let s = v.to_string();
        // "trust-store-" + unknown: built from a placeholder, so not known either.
        return Ok(if is_unknown(&s) {
            Known::unknown()
        } else {
            Known::value(s)
        });
    }
    Err(Error::invalid_argument(
        function,
        argument,
        format!(
            "expected a string, got {}",
            crate::script::primitives::args::describe(v)
        ),
        format!("pass `{argument}` as a string"),
    ))
}

/// A script value that must be a known string: what a step looks AWS up by (a zone
/// name), where a plan placeholder would leave nothing to look for. `help` says what to pass.
pub(super) fn known_text(
    function: &'static str,
    argument: &str,
    v: &Dynamic,
    help: &str,
) -> Result<String, Error> {
    text(function, argument, v)?
        .into_option()
        .ok_or_else(|| Error::invalid_argument(function, argument, "unknown", help))
}

/// How a script value reads in a plan: strings as they are (placeholders inside included).
fn display(v: &Dynamic) -> String {
    if v.is_string() {
        readable(&v.to_string()).into_owned()
    } else {
        Unknown::TEXT.to_string()
    }
}

fn unknown_or(v: Option<String>) -> Dynamic {
    v.map_or_else(|| Dynamic::from(Unknown), Dynamic::from)
}

pub(super) fn map(entries: Vec<(&str, Dynamic)>) -> Map {
    entries.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

fn tags(domain: &str, role: &str) -> Tags {
    let mut t = Tags::new();
    t.insert(TAG_DOMAIN.to_string(), domain.to_string());
    t.insert(TAG_ROLE.to_string(), role.to_string());
    t
}

/// The one place that asks whether AWS may be read. Its own module, so that its capability
/// (a private field) cannot be made even by the AWS primitives below: they read through
/// [`Context::observe`], never asking the question.
mod read_gate {
    use super::{Aws, Context, Error};
    use crate::aws::AwsError;
    use crate::reconcile::Observed;

    /// The capability to ask [`crate::effects::Effects::may_read`].
    pub(crate) struct AwsReadGate(());

    impl Context {
        /// The one way a step reads AWS: `read` runs when reads may happen (a live run,
        /// `plan --refresh`) and says what it found (`None`: nothing); an offline plan
        /// makes no call and observes [`Observed::NotLookedUp`].
        pub(crate) fn observe<'a, T, F>(
            &'a self,
            read: impl FnOnce(&'a Aws) -> F,
        ) -> Result<Observed<T>, Error>
        where
            F: std::future::Future<Output = Result<Option<T>, AwsError>>,
        {
            if !self.effects.may_read(&AwsReadGate(())) {
                return Ok(Observed::NotLookedUp);
            }
            let aws = self.aws_client()?;
            Ok(Observed::found(self.block_on(read(aws))??))
        }
    }
}
pub(crate) use read_gate::AwsReadGate;

impl Context {
    /// AWS for writes (only ever called by live work, and by the locks to learn the account).
    pub(super) fn aws_client(&self) -> Result<&Aws, Error> {
        if self.aws.client.get().is_none() {
            let aws = self.block_on(Aws::connect(&self.aws.settings))??;
            let _ = self.aws.client.set(aws);
        }
        self.aws
            .client
            .get()
            .ok_or_else(|| Error::internal("connect to AWS", "no client after connecting"))
    }

    /// Runs a write against AWS (inside an action's live work).
    fn write<'a, T, F>(&'a self, call: impl FnOnce(&'a Aws) -> F) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, crate::aws::AwsError>>,
    {
        let aws = self.aws_client()?;
        Ok(self.block_on(call(aws))??)
    }
}

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "aws_region", "aws_region() -> string", "The AWS region of the run (--region, AWS_REGION, the profile); unknown in an offline plan without one.", |c| -> Dynamic { aws_region(c) });
    let c = ctx.clone();
    primitive!(
        reg,
        "aws_account_id",
        "aws_account_id() -> string",
        "The caller's 12-digit AWS account id (STS GetCallerIdentity); unknown in an offline plan.",
        move || -> RhaiResult<Dynamic> {
            let id = c.observe(|aws| async move { aws.account_id().await.map(Some) });
            Ok(unknown_or(id.map_err(fail)?.present().cloned()))
        }
    );
    checks::register(reg, ctx);
    route53::register(reg, ctx);
    s3::register(reg, ctx);
    acm::register(reg, ctx);
    apigateway::register(reg, ctx);
    adopt::register(reg, ctx);
    rollover::register(reg, ctx);
    authorizer::register(reg, ctx);
}

fn aws_region(ctx: &Context) -> Result<Dynamic, Error> {
    if let Some(r) = &ctx.aws.settings.region {
        return Ok(r.clone().into());
    }
    let region = ctx.observe(|aws| async move { Ok(Some(aws.region())) })?;
    let Some(region) = region.present() else {
        // Loading the full configuration may ask the instance metadata service: not offline.
        let env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        return Ok(unknown_or(env));
    };
    Ok(region.clone().into())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::effects::{Effects, Mode};
    use crate::reconcile::Observed;
    use crate::script::Context;
    use crate::workdir::Workdir;

    /// A plan context; `refresh`: it may read AWS (an emulator's address that is never
    /// called: the reads below answer by themselves).
    fn plan(refresh: bool) -> Context {
        let mut ctx = Context::new(
            Workdir::new("."),
            Effects::new(Mode::Plan { refresh }),
            BTreeMap::new(),
            false,
        );
        ctx.aws.settings.region = Some("us-east-1".into());
        ctx.aws.settings.endpoint_url = Some("http://127.0.0.1:9".into());
        ctx
    }

    #[test]
    fn an_offline_plan_observes_nothing_and_makes_no_read() {
        let ctx = plan(false);
        let seen = ctx
            .observe(|_| async {
                panic!("an offline plan reads nothing");
                #[allow(unreachable_code)]
                Ok(Some(0u8))
            })
            .unwrap();
        assert_eq!(seen, Observed::NotLookedUp);
        assert!(ctx.aws.client.get().is_none(), "connected offline");
    }

    #[test]
    fn a_read_that_happens_observes_what_it_found() {
        let ctx = plan(true);
        let found = ctx.observe(|_| async { Ok(Some(7u8)) }).unwrap();
        assert_eq!(found, Observed::Present(7));
        let nothing = ctx.observe(|_| async { Ok(None::<u8>) }).unwrap();
        assert_eq!(nothing, Observed::Absent);
    }
}
