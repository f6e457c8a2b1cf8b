//! API Gateway: the Lambda REQUEST authorizer of the revocation check, and the methods it
//! guards (issue 21).

use aws_sdk_apigateway::types::{AuthorizerType, Op, PatchOperation};

use super::{next_page, partition, ApiGateway, SERVICE};
use crate::aws::{AwsError, SdkResultExt};

/// An authorizer of a REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `TOKEN`, `REQUEST` or `COGNITO_USER_POOLS`.
    pub kind: String,
    /// The Lambda invocation URI.
    pub uri: Option<String>,
    /// How long API Gateway caches a decision (0: never).
    pub ttl_seconds: Option<i32>,
}

/// One method of a REST API and who authorizes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodAuth {
    /// The resource's id.
    pub resource_id: String,
    /// The resource's path (`/pets`).
    pub path: String,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// `NONE`, `AWS_IAM`, `CUSTOM` or `COGNITO_USER_POOLS`.
    pub authorization_type: String,
    /// The authorizer, for `CUSTOM`.
    pub authorizer_id: Option<String>,
}

/// The URI through which API Gateway invokes a Lambda function (API Gateway API reference,
/// Authorizer, authorizerUri: `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/
/// {function ARN}/invocations`).
pub fn lambda_invocation_uri(region: &str, function_arn: &str) -> String {
    format!(
        "arn:{}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        partition(region)
    )
}

/// The ARN pattern of every authorizer of `api_id`, the source a Lambda permission names
/// (API Gateway developer guide, apigateway-use-lambda-authorizer:
/// `arn:aws:execute-api:{region}:{account}:{api id}/authorizers/*`).
pub fn authorizers_source_arn(region: &str, account: &str, api_id: &str) -> String {
    format!(
        "arn:{}:execute-api:{region}:{account}:{api_id}/authorizers/*",
        partition(region)
    )
}

fn replace(path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

impl ApiGateway {
    /// `GetAuthorizers` (all pages).
    pub async fn authorizers(&self, api_id: &str) -> Result<Vec<Authorizer>, AwsError> {
        let mut found = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .client
                .get_authorizers()
                .rest_api_id(api_id)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .or_aws(SERVICE, "GetAuthorizers")?;
            found.extend(out.items().iter().map(|a| {
                Authorizer {
                    id: a.id().unwrap_or_default().to_string(),
                    name: a.name().unwrap_or_default().to_string(),
                    kind: a
                        .r#type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    uri: a.authorizer_uri().map(str::to_string),
                    ttl_seconds: a.authorizer_result_ttl_in_seconds(),
                }
            }));
            position = next_page(out.position(), out.items().is_empty());
            if position.is_none() {
                return Ok(found);
            }
        }
    }

    /// `CreateAuthorizer`: a REQUEST authorizer invoking `uri`, its decisions never cached
    /// (TTL 0: with no identity source API Gateway has no key to cache them by; the
    /// developer guide's apigateway-use-lambda-authorizer: "identity sources are required
    /// when caching is enabled"). Returns its id.
    pub async fn create_request_authorizer(
        &self,
        api_id: &str,
        name: &str,
        uri: &str,
    ) -> Result<String, AwsError> {
        const OP: &str = "CreateAuthorizer";
        let out = self
            .client
            .create_authorizer()
            .rest_api_id(api_id)
            .name(name)
            .r#type(AuthorizerType::Request)
            .authorizer_uri(uri)
            .authorizer_result_ttl_in_seconds(0)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        out.id()
            .map(str::to_string)
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "id"))
    }

    /// `UpdateAuthorizer`: its Lambda URI and TTL 0.
    pub async fn update_request_authorizer(
        &self,
        api_id: &str,
        authorizer_id: &str,
        uri: &str,
    ) -> Result<(), AwsError> {
        self.client
            .update_authorizer()
            .rest_api_id(api_id)
            .authorizer_id(authorizer_id)
            .patch_operations(replace("/authorizerUri", uri))
            .patch_operations(replace("/authorizerResultTtlInSeconds", "0"))
            .send()
            .await
            .or_aws(SERVICE, "UpdateAuthorizer")?;
        Ok(())
    }

    /// Every method of the API (`GetResources`, then `GetMethod` of each) and who
    /// authorizes it.
    pub async fn method_authorizations(&self, api_id: &str) -> Result<Vec<MethodAuth>, AwsError> {
        let mut methods = Vec::new();
        let mut position: Option<String> = None;
        let mut resources = Vec::new();
        loop {
            let out = self
                .client
                .get_resources()
                .rest_api_id(api_id)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .or_aws(SERVICE, "GetResources")?;
            for r in out.items() {
                let names: Vec<String> = r
                    .resource_methods()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                resources.push((
                    r.id().unwrap_or_default().to_string(),
                    r.path().unwrap_or_default().to_string(),
                    names,
                ));
            }
            position = next_page(out.position(), out.items().is_empty());
            if position.is_none() {
                break;
            }
        }
        for (resource_id, path, mut names) in resources {
            names.sort();
            for http_method in names {
                let m = self
                    .client
                    .get_method()
                    .rest_api_id(api_id)
                    .resource_id(&resource_id)
                    .http_method(&http_method)
                    .send()
                    .await
                    .or_aws(SERVICE, "GetMethod")?;
                methods.push(MethodAuth {
                    resource_id: resource_id.clone(),
                    path: path.clone(),
                    http_method,
                    authorization_type: m.authorization_type().unwrap_or("NONE").to_string(),
                    authorizer_id: m.authorizer_id().map(str::to_string),
                });
            }
        }
        Ok(methods)
    }

    /// `UpdateMethod`: the method is authorized by `authorizer_id` (CUSTOM), or by no one
    /// (`None`: NONE). API Gateway API reference, UpdateMethod; Method, authorizationType.
    pub async fn set_method_authorizer(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        authorizer_id: Option<&str>,
    ) -> Result<(), AwsError> {
        let mut request = self
            .client
            .update_method()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .http_method(http_method);
        request = match authorizer_id {
            Some(id) => request
                .patch_operations(replace("/authorizationType", "CUSTOM"))
                .patch_operations(replace("/authorizerId", id)),
            None => request.patch_operations(replace("/authorizationType", "NONE")),
        };
        request.send().await.or_aws(SERVICE, "UpdateMethod")?;
        Ok(())
    }
}
