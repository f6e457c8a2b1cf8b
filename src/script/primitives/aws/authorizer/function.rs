//! The authorizer's Lambda function: authorizer/authorizer.py zipped, Python 3.12, told
//! where the published list is by its environment (`authorizer_ensure_function`).

use std::collections::BTreeMap;

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, tags, text, unknown_or};
use super::{resource_name, ROLE_TAG};
use crate::aws::lambda::{code_sha256, zip_one_file, Function, FunctionSpec, RUNTIME};
use crate::effects::Kind;
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::Context;

/// The authorizer's source, deployed as the function's only file.
const AUTHORIZER_PY: &[u8] = include_bytes!("../../../../../authorizer/authorizer.py");
/// Its handler.
const HANDLER: &str = "authorizer.handler";
/// How often a warm authorizer asks S3 whether the list changed (a conditional GET).
const LIST_TTL_SECONDS: &str = "30";

fn package() -> Vec<u8> {
    zip_one_file("authorizer.py", AUTHORIZER_PY)
}

fn environment(bucket: &str, key: &str) -> BTreeMap<String, String> {
    [
        ("MTLS_REVOCATION_BUCKET", bucket),
        ("MTLS_REVOCATION_KEY", key),
        ("MTLS_REVOCATION_TTL_SECONDS", LIST_TTL_SECONDS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What differs between the function and its spec: the code (by Lambda's CodeSha256),
/// and the configuration (role, runtime, handler, environment).
fn diff_function(
    code: &str,
    role: &Known<String>,
    env: &Known<BTreeMap<String, String>>,
    observed: &Observed<Function>,
) -> Diff<&'static str> {
    let Observed::Present(f) = observed else {
        return Diff::Create;
    };
    let mut changes = Vec::new();
    if f.code_sha256.as_deref() != Some(code) {
        changes.push(Change {
            field: "CodeSha256",
            patch: "code",
        });
    }
    let configured = f.runtime.as_deref() == Some(RUNTIME)
        && f.handler.as_deref() == Some(HANDLER)
        && role.is_known()
        && f.role.as_ref() == role.get()
        && env.get() == Some(&f.environment);
    if !configured {
        changes.push(Change {
            field: "configuration",
            patch: "configuration",
        });
    }
    Diff::update_or_keep(changes, "same code and configuration")
}

pub(super) fn ensure_function(
    ctx: &Context,
    domain: &str,
    role: &Dynamic,
    bucket: &Dynamic,
    key: &str,
) -> Result<Map, Error> {
    super::super::check_domain("authorizer_ensure_function", domain)?;
    let role = text("authorizer_ensure_function", "role_arn", role)?;
    let bucket = text("authorizer_ensure_function", "bucket", bucket)?;
    super::super::check_bucket("authorizer_ensure_function", "bucket", bucket.as_deref())?;
    super::super::check_object_key("authorizer_ensure_function", key)?;
    hold_domain(ctx, domain)?;
    let name = resource_name(domain);
    let zip = package();
    let code = code_sha256(&zip);
    let env = bucket.map(|b| environment(b, key));
    let observed = ctx.observe(|aws| aws.lambda().function(&name))?;
    let diff = diff_function(&code, &role, &env, &observed);
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::LambdaFunction,
        &name,
        &observed,
        &diff,
        |a| {
            a.arg("runtime", RUNTIME)
                .arg("handler", HANDLER)
                .arg("code_sha256", &code)
                .arg("role", role.shown())
        },
        || {
            let spec = FunctionSpec {
                name: name.clone(),
                role_arn: role.known("the role ARN")?.clone(),
                zip: zip.clone(),
                handler: HANDLER.to_string(),
                environment: env.known("the environment")?.clone(),
                tags: tags(domain, ROLE_TAG),
            };
            if observed.present().is_none() {
                return ctx
                    .write(|aws| aws.lambda().create_function(&spec))
                    .map(Some);
            }
            for change in diff.changes() {
                match change.patch {
                    "code" => ctx.write(|aws| aws.lambda().update_code(&name, &zip))?,
                    _ => ctx.write(|aws| aws.lambda().update_configuration(&spec))?,
                }
            }
            Ok(None)
        },
    )?;
    let arn = created
        .flatten()
        .or_else(|| observed.present().map(|f| f.arn.clone()));
    Ok(map(vec![
        ("name", name.into()),
        ("arn", unknown_or(arn)),
        ("status", op.name().into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_diffs() {
        let env = Known::value(environment("b", "k"));
        let role = Known::value("arn:role".to_string());
        let f = |sha: &str, handler: &str| {
            Observed::Present(Function {
                arn: "arn:fn".into(),
                code_sha256: Some(sha.into()),
                role: role.get().cloned(),
                runtime: Some(RUNTIME.into()),
                handler: Some(handler.into()),
                environment: environment("b", "k"),
            })
        };
        assert_eq!(
            diff_function("c", &role, &env, &f("c", HANDLER)),
            Diff::Keep("same code and configuration")
        );
        let fields =
            |d: Diff<&'static str>| d.changes().iter().map(|c| c.field).collect::<Vec<_>>();
        assert_eq!(
            fields(diff_function("c", &role, &env, &f("changed", HANDLER))),
            ["CodeSha256"]
        );
        assert_eq!(
            fields(diff_function("c", &role, &env, &f("c", "other.handler"))),
            ["configuration"]
        );
        assert_eq!(
            diff_function("c", &role, &env, &Observed::Absent),
            Diff::Create
        );
    }
}
