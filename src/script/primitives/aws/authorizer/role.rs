//! The authorizer's execution role: trusted by Lambda, with one inline policy that lets it
//! read the published list and write its own log group (`authorizer_ensure_role`).

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use super::super::lock::hold_domain;
use super::super::{map, tags, text, unknown_or, TAG_DOMAIN};
use super::{region_and_account, resource_name, ROLE_TAG};
use crate::aws::apigateway::partition;
use crate::aws::iam::Role;
use crate::effects::Kind;
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::Context;

/// The inline policy's name on the role.
pub(super) const POLICY_NAME: &str = "mtls-revocation-list-and-logs";

/// The trust policy: Lambda may assume the role (Lambda developer guide,
/// lambda-intro-execution-role).
fn trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// What the authorizer may do: read the one object, and write its own log group
/// (Lambda developer guide, monitoring-cloudwatchlogs: logs:CreateLogGroup,
/// logs:CreateLogStream, logs:PutLogEvents on /aws/lambda/FUNCTION).
fn role_policy(region: &str, account: &str, bucket: &str, key: &str, function: &str) -> Value {
    let p = partition(region);
    let group = format!("arn:{p}:logs:{region}:{account}:log-group:/aws/lambda/{function}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:{p}:s3:::{bucket}/{key}") },
            { "Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": group },
            { "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("{group}:*") }
        ]
    })
}

/// Two policy documents are the same when their JSON is.
fn same_json(text: Option<&str>, want: &Value) -> bool {
    text.and_then(|t| serde_json::from_str::<Value>(t).ok())
        .as_ref()
        == Some(want)
}

/// The role: kept when its trust policy is Lambda's; a role of this name mtls did not
/// make for the domain is refused.
fn diff_role(domain: &str, name: &str, observed: &Observed<Role>) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(r) if r.tags.get(TAG_DOMAIN).map(String::as_str) != Some(domain) => {
            Err(Error::invalid_argument(
                "authorizer_ensure_role",
                "domain",
                format!("the IAM role {name} exists and is not tagged {TAG_DOMAIN}={domain}: mtls did not make it"),
                "delete or rename that role, or deploy the authorizer for another domain",
            ))
        }
        Observed::Present(r) if same_json(r.assume_role_policy.as_deref(), &trust_policy()) => {
            Ok(Diff::Keep("exists, trusted by Lambda"))
        }
        Observed::Present(_) => Ok(Diff::Update(vec![Change {
            field: "AssumeRolePolicyDocument",
            patch: (),
        }])),
        _ => Ok(Diff::Create),
    }
}

fn diff_policy(want: &Known<Value>, observed: &Observed<String>) -> Diff<()> {
    match (observed, want.get()) {
        (Observed::Present(doc), Some(want)) if same_json(Some(doc), want) => {
            Diff::Keep("same statements")
        }
        (Observed::Present(_), _) => Diff::Update(vec![Change {
            field: "PolicyDocument",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

pub(super) fn ensure_role(
    ctx: &Context,
    domain: &str,
    bucket: &Dynamic,
    key: &str,
) -> Result<Map, Error> {
    super::super::check_domain("authorizer_ensure_role", domain)?;
    let bucket = text("authorizer_ensure_role", "bucket", bucket)?;
    super::super::check_bucket("authorizer_ensure_role", "bucket", bucket.as_deref())?;
    super::super::check_object_key("authorizer_ensure_role", key)?;
    hold_domain(ctx, domain)?;
    let name = resource_name(domain);
    let observed = ctx.observe(|aws| aws.iam().role(&name))?;
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::IamRole,
        &name,
        &observed,
        &diff_role(domain, &name, &observed)?,
        |a| {
            a.arg("trust", "lambda.amazonaws.com")
                .arg("tags", format!("{TAG_DOMAIN}={domain}"))
        },
        || {
            let trust = trust_policy().to_string();
            match observed.present() {
                Some(_) => ctx
                    .write(|aws| aws.iam().set_trust_policy(&name, &trust))
                    .map(|_| None),
                None => {
                    let role_tags = tags(domain, ROLE_TAG);
                    ctx.write(|aws| aws.iam().create_role(&name, &trust, &role_tags))
                        .map(Some)
                }
            }
        },
    )?;
    let arn = created
        .flatten()
        .or_else(|| observed.present().map(|r| r.arn.clone()));
    // The policy names the account and region: known once AWS is read.
    let (region, account) = region_and_account(ctx)?;
    let want: Known<Value> = match (region.get(), account.get(), bucket.get()) {
        (Some(r), Some(a), Some(b)) => Known::value(role_policy(r, a, b, key, &name)),
        _ => Known::unknown(),
    };
    let policy = match observed {
        Observed::Present(_) => ctx.observe(|aws| aws.iam().role_policy(&name, POLICY_NAME))?,
        other => other.map(|_| String::new()),
    };
    let object = format!("s3://{}/{key}", bucket.shown());
    reconcile::apply(
        &ctx.effects,
        Kind::IamRolePolicy,
        &format!("{name}/{POLICY_NAME}"),
        &policy,
        &diff_policy(&want, &policy),
        |a| {
            a.arg("s3:GetObject", &object)
                .arg("logs", format!("/aws/lambda/{name}"))
        },
        || {
            let doc = want.known("the role policy")?.to_string();
            ctx.write(|aws| aws.iam().put_role_policy(&name, POLICY_NAME, &doc))
        },
    )?;
    Ok(map(vec![
        ("name", name.clone().into()),
        ("arn", unknown_or(arn)),
        ("status", op.name().into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_diffs_compare_json_not_spelling() {
        let want = role_policy("us-east-1", "123456789012", "b", "d/revoked.json", "fn");
        let spaced = serde_json::to_string_pretty(&want).unwrap();
        assert_eq!(
            diff_policy(&Known::value(want.clone()), &Observed::Present(spaced)),
            Diff::Keep("same statements")
        );
        let wider = role_policy("us-east-1", "123456789012", "b", "*", "fn").to_string();
        assert_eq!(
            diff_policy(&Known::value(want), &Observed::Present(wider)).op(),
            crate::effects::Op::Update
        );
    }
}
