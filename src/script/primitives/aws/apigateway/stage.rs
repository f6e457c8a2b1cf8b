//! Step 11: the stage, and the redeploy protocol: a change to a REST API reaches clients
//! only with a deployment, so each change tags the stages it has not reached yet.

use rhai::{Dynamic, Map};

use super::super::{map, text, unknown_or};
use crate::aws::apigateway::Stage;
use crate::effects::Kind;
use crate::error::Error;
use crate::reconcile::{self, Diff, Observed};
use crate::script::Context;

/// A stage tag that says a change of its API has not reached it yet: set before the
/// change, removed once the stage is deployed again. A change to a REST API (its
/// definition, its default endpoint) reaches clients only with a deployment, and AWS shows
/// no way to tell whether a stage's deployment predates a setting; a run stopped between
/// the change and the deployment leaves the tag, and the next run deploys the stage.
pub(super) const TAG_UNDEPLOYED: &str = "mtls:undeployed-change";

/// Makes `change` to the API `api_id`, then deploys each of `stages` again so that it
/// reaches them; each stage is tagged [`TAG_UNDEPLOYED`] (with `why`) before the change.
pub(super) fn change_then_redeploy<T>(
    ctx: &Context,
    api_id: &str,
    stages: &[String],
    why: &str,
    change: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    for stage in stages {
        ctx.write(|aws| {
            aws.apigateway()
                .tag_stage(api_id, stage, TAG_UNDEPLOYED, why)
        })?;
    }
    let out = change()?;
    redeploy(ctx, api_id, stages, why)?;
    Ok(out)
}

/// Deploys each of `stages` of `api_id` again, then removes its [`TAG_UNDEPLOYED`].
pub(super) fn redeploy(
    ctx: &Context,
    api_id: &str,
    stages: &[String],
    why: &str,
) -> Result<(), Error> {
    for stage in stages {
        ctx.write(|aws| aws.apigateway().create_deployment(api_id, stage, Some(why)))?;
        ctx.write(|aws| aws.apigateway().untag_stage(api_id, stage, TAG_UNDEPLOYED))?;
    }
    Ok(())
}

/// The stage: kept when it is deployed, else deployed.
pub(super) fn diff_stage(observed: &Observed<Stage>) -> Diff<()> {
    match observed {
        Observed::Present(_) => Diff::Keep("deployed"),
        _ => Diff::Create,
    }
}

pub(super) fn ensure_stage(ctx: &Context, api: &Dynamic, stage: &str) -> Result<Map, Error> {
    super::super::check_stage("apigw_ensure_stage", stage)?;
    let api_id = text("apigw_ensure_stage", "api_id", api)?;
    let observed = match api_id.get() {
        Some(id) => ctx.observe(|aws| aws.apigateway().stage(id, stage))?,
        None => Observed::NotLookedUp,
    };
    let target = format!("{}/{stage}", api_id.shown());
    let (op, deployed) = reconcile::apply(
        &ctx.effects,
        Kind::ApiStage,
        &target,
        &observed,
        &diff_stage(&observed),
        |a| a.arg("stage", stage),
        || {
            let id = api_id.known("the REST API id")?;
            ctx.write(|aws| {
                aws.apigateway()
                    .create_deployment(id, stage, Some("deployed by mtls"))
            })
        },
    )?;
    let deployment = deployed.or_else(|| observed.present().and_then(|s| s.deployment_id.clone()));
    Ok(map(vec![
        ("deployment_id", unknown_or(deployment)),
        ("status", op.name().into()),
    ]))
}
