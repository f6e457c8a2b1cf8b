//! Step 13: the base path mapping of the domain's root to the API's stage; teardown's
//! removal of it.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, text};
use super::domain::domain_made_for;
use crate::aws::apigateway::BasePathMapping;
use crate::effects::Kind;
use crate::error::Error;
use crate::reconcile::{self, Diff, Known, Observed};
use crate::script::Context;

/// The root mapping: kept when it serves this API and stage; someone else's is an error.
fn diff_mapping(
    domain: &str,
    api_id: &Known<String>,
    stage: &str,
    observed: &Observed<BasePathMapping>,
) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(m)
            if Some(&m.rest_api_id) == api_id.get() && m.stage.as_deref() == Some(stage) =>
        {
            Ok(Diff::Keep("maps the same api and stage"))
        }
        Observed::Present(m) => Err(Error::invalid_argument(
            "apigw_ensure_mapping",
            "domain",
            format!(
                "{domain} already maps its root to api {} stage {}",
                m.rest_api_id,
                m.stage.clone().unwrap_or_default()
            ),
            "remove that mapping (mtls run teardown.rhai, or the console) or use another domain",
        )),
        _ => Ok(Diff::Create),
    }
}

pub(super) fn ensure_mapping(
    ctx: &Context,
    domain: &str,
    api: &Dynamic,
    stage: &str,
) -> Result<Map, Error> {
    super::super::check_domain("apigw_ensure_mapping", domain)?;
    super::super::check_stage("apigw_ensure_mapping", stage)?;
    let api_id = text("apigw_ensure_mapping", "api_id", api)?;
    hold_domain(ctx, domain)?;
    let observed = ctx.observe(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    let diff = diff_mapping(domain, &api_id, stage, &observed)?;
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::ApiMapping,
        &format!("{domain}/"),
        &observed,
        &diff,
        |a| a.arg_maybe("api_id", api_id.get()).arg("stage", stage),
        || {
            let id = api_id.known("the REST API id")?;
            ctx.write(|aws| {
                aws.apigateway()
                    .create_base_path_mapping(domain, id, stage, None)
            })
        },
    )?;
    Ok(map(vec![("status", op.name().into())]))
}

pub(super) fn delete_mapping(ctx: &Context, domain: &str) -> Result<(), Error> {
    super::super::check_domain("apigw_delete_mapping", domain)?;
    hold_domain(ctx, domain)?;
    // The mapping of a domain mtls did not make is not its to remove.
    if let Observed::Present(d) = ctx.observe(|aws| aws.apigateway().domain_name(domain))? {
        if !domain_made_for(&d, domain) {
            return Ok(());
        }
    }
    let found = ctx.observe(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    reconcile::delete(
        &ctx.effects,
        Kind::ApiMapping,
        &format!("{domain}/"),
        &found,
        |_| ctx.write(|aws| aws.apigateway().delete_base_path_mapping(domain, None)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_diffs() {
        let mapping = |api: &str, stage: &str| {
            Observed::Present(BasePathMapping {
                base_path: "(none)".into(),
                rest_api_id: api.into(),
                stage: Some(stage.into()),
            })
        };
        let api = Known::value("a1".to_string());
        let diff =
            |o: &Observed<BasePathMapping>, api: &Known<String>| diff_mapping("d", api, "prod", o);
        assert_eq!(
            diff(&mapping("a1", "prod"), &api).unwrap(),
            Diff::Keep("maps the same api and stage")
        );
        assert_eq!(diff(&Observed::Absent, &api).unwrap(), Diff::Create);
        assert_eq!(
            diff(&Observed::NotLookedUp, &Known::unknown()).unwrap(),
            Diff::Create
        );
        assert!(diff(&mapping("a2", "prod"), &api).is_err());
        assert!(diff(&mapping("a1", "dev"), &api).is_err());
        assert!(diff(&mapping("a1", "prod"), &Known::unknown()).is_err());
    }
}
