//! Amazon API Gateway (REST APIs, v1): the PetStore API (the walkthrough, steps 9-11), the custom
//! domain with mutual TLS (step 12) and its API mapping (step 13).

use aws_sdk_apigateway::primitives::Blob;
use aws_sdk_apigateway::types::{
    EndpointConfiguration, EndpointType, MutualTlsAuthenticationInput, Op, PatchOperation,
    SecurityPolicy,
};

use super::wait::{is_throttled, no_retries, poll, retry, send_create, Poll, Retry};
use super::{local_code, AwsError, SdkResultExt, Tags, Wait};

const SERVICE: &str = "apigateway";

pub mod authorizers;

/// The base path API Gateway reports for a mapping at the domain's root.
pub const ROOT_BASE_PATH: &str = "(none)";

/// A REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestApi {
    /// The API id (the `abc123` of `abc123.execute-api...`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether the default `execute-api` endpoint is off (it must be, or clients can bypass
    /// mutual TLS through it).
    pub disable_execute_api_endpoint: bool,
    /// `REGIONAL`, `EDGE` or `PRIVATE`.
    pub endpoint_types: Vec<String>,
    /// Warnings API Gateway gave while importing the OpenAPI body.
    pub warnings: Vec<String>,
    /// The API's tags (mtls marks the APIs it creates).
    pub tags: Tags,
}

/// A stage of a REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage name (`prod`).
    pub name: String,
    /// The deployment it serves.
    pub deployment_id: Option<String>,
    /// The stage's tags.
    pub tags: Tags,
}

/// What [`ApiGateway::create_domain_name`] creates: a REGIONAL custom domain with TLS 1.2 and
/// mutual TLS, the only shape API Gateway accepts for mutual TLS.
#[derive(Debug, Clone, Copy)]
pub struct MtlsDomainSpec<'a> {
    /// The custom domain, e.g. `api.example.com`.
    pub domain_name: &'a str,
    /// The ACM certificate API Gateway presents (the imported server certificate).
    pub regional_certificate_arn: &'a str,
    /// `s3://bucket/key` of the truststore.
    pub truststore_uri: &'a str,
    /// The S3 version of the truststore object to use (the latest when `None`, which makes the
    /// domain ignore later uploads until it is updated, the walkthrough's main trap).
    pub truststore_version: Option<&'a str>,
    /// The ACM-issued certificate proving ownership of the domain; required when the
    /// regional certificate is imported or private.
    pub ownership_verification_certificate_arn: Option<&'a str>,
    /// Tags of the domain.
    pub tags: &'a Tags,
}

/// A custom domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    /// The custom domain.
    pub name: String,
    /// The API Gateway name to alias the domain to (`d-xxx.execute-api.REGION.amazonaws.com`).
    pub regional_domain_name: Option<String>,
    /// The hosted zone of `regional_domain_name`, for the Route 53 alias.
    pub regional_hosted_zone_id: Option<String>,
    /// The truststore in use, when mutual TLS is on.
    pub truststore_uri: Option<String>,
    /// The truststore object version in use.
    pub truststore_version: Option<String>,
    /// Problems API Gateway found in the truststore (e.g. an expired certificate). It reports
    /// them only when the domain is created or updated.
    pub truststore_warnings: Vec<String>,
    /// The certificate presented to clients.
    pub regional_certificate_arn: Option<String>,
    /// The ownership verification certificate.
    pub ownership_verification_certificate_arn: Option<String>,
    /// `TLS_1_2`, ...
    pub security_policy: Option<String>,
    /// `REGIONAL`, `EDGE`.
    pub endpoint_types: Vec<String>,
    /// `AVAILABLE`, `UPDATING`, `PENDING_OWNERSHIP_VERIFICATION`, ...
    pub status: Option<String>,
    /// Why it is not available, when it is not.
    pub status_message: Option<String>,
    /// The domain's tags (mtls records there what a service may not report back).
    pub tags: Tags,
}

/// One change of [`ApiGateway::update_domain_name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPatch {
    /// Use this version of the truststore object (after uploading a new truststore).
    TruststoreVersion(String),
    /// Use another truststore object.
    TruststoreUri(String),
    /// Present another certificate.
    RegionalCertificateArn(String),
    /// Prove ownership with another certificate.
    OwnershipVerificationCertificateArn(String),
}

impl DomainPatch {
    fn operation(&self) -> PatchOperation {
        let (path, value) = match self {
            DomainPatch::TruststoreVersion(v) => ("/mutualTlsAuthentication/truststoreVersion", v),
            DomainPatch::TruststoreUri(v) => ("/mutualTlsAuthentication/truststoreUri", v),
            DomainPatch::RegionalCertificateArn(v) => ("/regionalCertificateArn", v),
            DomainPatch::OwnershipVerificationCertificateArn(v) => {
                ("/ownershipVerificationCertificateArn", v)
            }
        };
        PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build()
    }
}

/// An API mapping of a custom domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePathMapping {
    /// The base path; [`ROOT_BASE_PATH`] for the root.
    pub base_path: String,
    /// The API served there.
    pub rest_api_id: String,
    /// The stage served there.
    pub stage: Option<String>,
}

/// Sends a create that must not be sent twice (no idempotency token): with the SDK's
/// retries off, so that only [`send_create`] may send it again, and only after an answer that
/// proves nothing was made. Gives a [`super::error::Refusal`]
/// carrying AWS's `Retry-After`.
macro_rules! send_once {
    ($request:expr, $op:expr) => {
        $request
            .customize()
            .config_override(
                aws_sdk_apigateway::config::Builder::default().retry_config(no_retries()),
            )
            .send()
            .await
            .map_err(|e| AwsError::refusal_from_sdk(SERVICE, $op, e))
    };
}

/// Converts any output that carries a REST API's fields (they share accessors).
macro_rules! rest_api_from {
    ($out:expr, $op:expr) => {{
        let out = $out;
        RestApi {
            id: out
                .id()
                .ok_or_else(|| AwsError::missing(SERVICE, $op, "id"))?
                .to_string(),
            name: out.name().unwrap_or_default().to_string(),
            disable_execute_api_endpoint: out.disable_execute_api_endpoint(),
            endpoint_types: out
                .endpoint_configuration()
                .map(|c| c.types().iter().map(|t| t.as_str().to_string()).collect())
                .unwrap_or_default(),
            warnings: out.warnings().to_vec(),
            tags: out
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }};
}

/// Converts any output that carries a domain name's fields.
macro_rules! domain_from {
    ($out:expr, $op:expr) => {{
        let out = $out;
        let mtls = out.mutual_tls_authentication();
        DomainName {
            name: out
                .domain_name()
                .ok_or_else(|| AwsError::missing(SERVICE, $op, "domainName"))?
                .to_string(),
            regional_domain_name: out.regional_domain_name().map(str::to_string),
            regional_hosted_zone_id: out.regional_hosted_zone_id().map(str::to_string),
            truststore_uri: mtls.and_then(|m| m.truststore_uri()).map(str::to_string),
            truststore_version: mtls
                .and_then(|m| m.truststore_version())
                .map(str::to_string),
            truststore_warnings: mtls
                .map(|m| m.truststore_warnings().to_vec())
                .unwrap_or_default(),
            regional_certificate_arn: out.regional_certificate_arn().map(str::to_string),
            ownership_verification_certificate_arn: out
                .ownership_verification_certificate_arn()
                .map(str::to_string),
            security_policy: out.security_policy().map(|p| p.as_str().to_string()),
            endpoint_types: out
                .endpoint_configuration()
                .map(|c| c.types().iter().map(|t| t.as_str().to_string()).collect())
                .unwrap_or_default(),
            status: out.domain_name_status().map(|s| s.as_str().to_string()),
            status_message: out.domain_name_status_message().map(str::to_string),
            tags: out
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }};
}

/// The API Gateway client.
#[derive(Debug, Clone)]
pub struct ApiGateway {
    client: aws_sdk_apigateway::Client,
    adopted: super::AdoptedTags,
}

impl ApiGateway {
    pub(crate) fn new(client: aws_sdk_apigateway::Client, adopted: super::AdoptedTags) -> Self {
        ApiGateway { client, adopted }
    }

    /// `CreateRestApi`: an empty REGIONAL API with tags (ImportRestApi takes no tags; fill it
    /// with [`ApiGateway::overwrite_rest_api`]). Never retried by the SDK: the call has no
    /// idempotency token, and a retry after an answer lost on the way (a timeout, a reset)
    /// would make a second API; a failed call fails the run, and the next run finds the API
    /// by its tag. Only a 429 is asked again (Retry-After honoured): API Gateway allows one
    /// regional CreateRestApi per 3 s per account, and a 429 means nothing was created.
    pub async fn create_rest_api(&self, name: &str, tags: &Tags) -> Result<RestApi, AwsError> {
        const OP: &str = "CreateRestApi";
        let request = self
            .client
            .create_rest_api()
            .name(name)
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .set_tags(Some(tags.clone().into_iter().collect()));
        let what = format!("creating REST API {name}");
        let out = send_create(&what, || async { send_once!(request.clone(), OP) }).await?;
        Ok(rest_api_from!(&out, OP))
    }

    /// `ImportRestApi` of an OpenAPI document as a new REGIONAL API named by its
    /// `info.title`. With `fail_on_warnings`, API Gateway rolls back on any warning. Only the
    /// tests call it (to make an API as another tool would).
    #[cfg(feature = "internals")]
    pub async fn import_rest_api(
        &self,
        openapi_json: &str,
        fail_on_warnings: bool,
    ) -> Result<RestApi, AwsError> {
        const OP: &str = "ImportRestApi";
        let out = self
            .client
            .import_rest_api()
            .body(Blob::new(openapi_json.as_bytes()))
            .fail_on_warnings(fail_on_warnings)
            .parameters("endpointConfigurationTypes", "REGIONAL")
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(rest_api_from!(&out, OP))
    }

    /// `PutRestApi` with mode `overwrite`: replaces an existing API's resources and methods by
    /// the document's (a new deployment is needed before a stage serves them).
    pub async fn overwrite_rest_api(
        &self,
        api_id: &str,
        openapi_json: &str,
        fail_on_warnings: bool,
    ) -> Result<RestApi, AwsError> {
        const OP: &str = "PutRestApi";
        let out = self
            .client
            .put_rest_api()
            .rest_api_id(api_id)
            .mode(aws_sdk_apigateway::types::PutMode::Overwrite)
            .body(Blob::new(openapi_json.as_bytes()))
            .fail_on_warnings(fail_on_warnings)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(rest_api_from!(&out, OP))
    }

    /// `GetRestApis` (all pages), keeping the APIs `keep` accepts.
    pub async fn list_rest_apis(
        &self,
        keep: impl Fn(&RestApi) -> bool,
    ) -> Result<Vec<RestApi>, AwsError> {
        const OP: &str = "GetRestApis";
        let mut found = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .client
                .get_rest_apis()
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .or_aws(SERVICE, OP)?;
            for api in out.items() {
                let mut api = rest_api_from!(api, OP);
                self.adopted.apply(&api.id, &mut api.tags);
                if keep(&api) {
                    found.push(api);
                }
            }
            position = next_page(out.position(), out.items().is_empty());
            if position.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// The one API `keep` accepts, `None` when there is none; two are an error naming
    /// both (`what` describes them), so a duplicate is never picked at random.
    pub async fn find_one_rest_api(
        &self,
        what: &str,
        keep: impl Fn(&RestApi) -> bool,
    ) -> Result<Option<RestApi>, AwsError> {
        let mut found = self.list_rest_apis(keep).await?;
        if found.len() > 1 {
            let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
            return Err(AwsError::local(
                SERVICE,
                "GetRestApis",
                local_code::AMBIGUOUS,
                format!(
                    "{} REST APIs are {what} ({}); delete the extra ones (aws apigateway delete-rest-api --rest-api-id ID) and run again",
                    found.len(),
                    ids.join(", ")
                ),
            ));
        }
        Ok(found.pop())
    }

    /// The REST API named `name`; `None` when there is none (two of that name are an error).
    /// Only the tests call it (to read back what a run made).
    #[cfg(feature = "internals")]
    pub async fn find_rest_api(&self, name: &str) -> Result<Option<RestApi>, AwsError> {
        self.find_one_rest_api(&format!("named {name:?}"), |a| a.name == name)
            .await
    }

    /// `GetRestApi`; `None` when there is no such API.
    pub async fn rest_api(&self, api_id: &str) -> Result<Option<RestApi>, AwsError> {
        const OP: &str = "GetRestApi";
        match self
            .client
            .get_rest_api()
            .rest_api_id(api_id)
            .send()
            .await
            .or_aws(SERVICE, OP)
        {
            Ok(out) => {
                let mut api = rest_api_from!(&out, OP);
                self.adopted.apply(&api.id, &mut api.tags);
                Ok(Some(api))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `UpdateRestApi` patch `replace /disableExecuteApiEndpoint`: `true` turns the default
    /// `execute-api` endpoint off.
    pub async fn set_execute_api_endpoint_disabled(
        &self,
        api_id: &str,
        disabled: bool,
    ) -> Result<RestApi, AwsError> {
        const OP: &str = "UpdateRestApi";
        let out = self
            .client
            .update_rest_api()
            .rest_api_id(api_id)
            .patch_operations(
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path("/disableExecuteApiEndpoint")
                    .value(disabled.to_string())
                    .build(),
            )
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(rest_api_from!(&out, OP))
    }

    /// `CreateDeployment` of the API's current state to `stage` (created when missing);
    /// returns the deployment id. Like [`ApiGateway::create_rest_api`], sent once (a resend
    /// after a lost answer would make a second deployment) except after a 429: API Gateway
    /// allows one CreateDeployment per 5 s per account.
    pub async fn create_deployment(
        &self,
        api_id: &str,
        stage: &str,
        description: Option<&str>,
    ) -> Result<String, AwsError> {
        const OP: &str = "CreateDeployment";
        let request = self
            .client
            .create_deployment()
            .rest_api_id(api_id)
            .stage_name(stage)
            .set_description(description.map(str::to_string));
        let what = format!("deploying REST API {api_id} to stage {stage}");
        let out = send_create(&what, || async { send_once!(request.clone(), OP) }).await?;
        out.id()
            .map(str::to_string)
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "id"))
    }

    /// `GetStage`; `None` when the stage does not exist.
    pub async fn stage(&self, api_id: &str, stage: &str) -> Result<Option<Stage>, AwsError> {
        const OP: &str = "GetStage";
        let result = self
            .client
            .get_stage()
            .rest_api_id(api_id)
            .stage_name(stage)
            .send()
            .await
            .or_aws(SERVICE, OP);
        match result {
            Ok(out) => Ok(Some(Stage {
                name: out.stage_name().unwrap_or(stage).to_string(),
                deployment_id: out.deployment_id().map(str::to_string),
                tags: out
                    .tags()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `CreateDomainName`: REGIONAL, `TLS_1_2`, mutual TLS with the given truststore, the
    /// regional certificate and the ownership verification certificate.
    pub async fn create_domain_name(
        &self,
        spec: &MtlsDomainSpec<'_>,
    ) -> Result<DomainName, AwsError> {
        const OP: &str = "CreateDomainName";
        let mut request = self
            .client
            .create_domain_name()
            .domain_name(spec.domain_name)
            .regional_certificate_arn(spec.regional_certificate_arn)
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .security_policy(SecurityPolicy::Tls12)
            .mutual_tls_authentication(
                MutualTlsAuthenticationInput::builder()
                    .truststore_uri(spec.truststore_uri)
                    .set_truststore_version(spec.truststore_version.map(str::to_string))
                    .build(),
            )
            .set_ownership_verification_certificate_arn(
                spec.ownership_verification_certificate_arn
                    .map(str::to_string),
            );
        for (k, v) in spec.tags {
            request = request.tags(k, v);
        }
        let what = format!("creating custom domain {}", spec.domain_name);
        let out = retry(&Retry::throttled(), &what, is_throttled, || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| AwsError::refusal_from_sdk(SERVICE, OP, e))
        })
        .await?;
        Ok(domain_from!(&out, OP))
    }

    /// `GetDomainName`; `None` when there is no such domain.
    pub async fn domain_name(&self, name: &str) -> Result<Option<DomainName>, AwsError> {
        const OP: &str = "GetDomainName";
        match self
            .client
            .get_domain_name()
            .domain_name(name)
            .send()
            .await
            .or_aws(SERVICE, OP)
        {
            Ok(out) => {
                let mut domain = domain_from!(&out, OP);
                self.adopted.apply(&domain.name, &mut domain.tags);
                Ok(Some(domain))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `UpdateDomainName` with one `replace` patch operation per change.
    pub async fn update_domain_name(
        &self,
        name: &str,
        patches: &[DomainPatch],
    ) -> Result<DomainName, AwsError> {
        const OP: &str = "UpdateDomainName";
        let request = self
            .client
            .update_domain_name()
            .domain_name(name)
            .set_patch_operations(Some(patches.iter().map(DomainPatch::operation).collect()));
        let what = format!("updating custom domain {name}");
        let out = retry(&Retry::throttled(), &what, is_throttled, || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| AwsError::refusal_from_sdk(SERVICE, OP, e))
        })
        .await?;
        Ok(domain_from!(&out, OP))
    }

    /// Polls `GetDomainName` until the domain is `AVAILABLE`: API Gateway shows a domain
    /// `UPDATING` (or `PENDING`) for a while after a create or an update, and refuses to
    /// change it until then. A domain that waits for something only its owner can do
    /// (`PENDING_CERTIFICATE_REIMPORT`, `PENDING_OWNERSHIP_VERIFICATION`, `FAILED`) fails at
    /// once with API Gateway's reason (API Gateway API reference, DomainName.domainNameStatus).
    pub async fn wait_domain_available(
        &self,
        name: &str,
        wait: &Wait,
    ) -> Result<DomainName, AwsError> {
        const OP: &str = "GetDomainName";
        let what = format!("custom domain {name}");
        poll(wait, SERVICE, OP, &what, || async {
            let domain = self.domain_name(name).await?.ok_or_else(|| {
                AwsError::local(
                    SERVICE,
                    OP,
                    "NotFoundException",
                    format!("the custom domain {name} disappeared while mtls waited for it"),
                )
            })?;
            match domain.status.as_deref() {
                None | Some("AVAILABLE") => Ok(Poll::Done(domain)),
                Some(s @ ("UPDATING" | "PENDING")) => Ok(Poll::Pending(s.to_string())),
                Some(other) => Err(AwsError::local(
                    SERVICE,
                    OP,
                    local_code::FAILED_STATE,
                    format!(
                        "custom domain {name} is {other}{}, which needs an action of its owner",
                        domain
                            .status_message
                            .as_deref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    ),
                )),
            }
        })
        .await
    }

    /// `CreateBasePathMapping` of `api_id`/`stage` at `base_path` (the root when `None`, empty,
    /// `/` or [`ROOT_BASE_PATH`]).
    pub async fn create_base_path_mapping(
        &self,
        domain: &str,
        api_id: &str,
        stage: &str,
        base_path: Option<&str>,
    ) -> Result<BasePathMapping, AwsError> {
        const OP: &str = "CreateBasePathMapping";
        let out = self
            .client
            .create_base_path_mapping()
            .domain_name(domain)
            .rest_api_id(api_id)
            .stage(stage)
            .set_base_path(Some(api_base_path(base_path)).filter(|p| p != ROOT_BASE_PATH))
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(BasePathMapping {
            base_path: out.base_path().unwrap_or(ROOT_BASE_PATH).to_string(),
            rest_api_id: out.rest_api_id().unwrap_or(api_id).to_string(),
            stage: out.stage().map(str::to_string),
        })
    }

    /// The mapping at `base_path` (the root when `None` or empty), or `None`.
    ///
    /// Reads the domain's list (`GetBasePathMappings`) rather than `GetBasePathMapping`:
    /// moto answers the latter with HTTP 500 when the mapping is absent, and the list answers
    /// the same question on AWS and on moto.
    pub async fn base_path_mapping(
        &self,
        domain: &str,
        base_path: Option<&str>,
    ) -> Result<Option<BasePathMapping>, AwsError> {
        let path = api_base_path(base_path);
        Ok(self
            .base_path_mappings(domain)
            .await?
            .into_iter()
            .find(|m| api_base_path(Some(&m.base_path)) == path))
    }

    /// `DeleteBasePathMapping` at `base_path` (the root when `None` or empty).
    pub async fn delete_base_path_mapping(
        &self,
        domain: &str,
        base_path: Option<&str>,
    ) -> Result<(), AwsError> {
        self.client
            .delete_base_path_mapping()
            .domain_name(domain)
            .base_path(api_base_path(base_path))
            .send()
            .await
            .or_aws(SERVICE, "DeleteBasePathMapping")?;
        Ok(())
    }

    /// `DeleteDomainName`, asked again while API Gateway throttles it.
    pub async fn delete_domain_name(&self, name: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteDomainName";
        let what = format!("deleting custom domain {name}");
        retry(&Retry::throttled(), &what, is_throttled, || async {
            let sent = self.client.delete_domain_name().domain_name(name).send();
            sent.await
                .map(drop)
                .map_err(|e| AwsError::refusal_from_sdk(SERVICE, OP, e))
        })
        .await
    }

    /// `DeleteRestApi` (its stages and deployments go with it), asked again while API
    /// Gateway throttles it.
    pub async fn delete_rest_api(&self, api_id: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteRestApi";
        let what = format!("deleting REST API {api_id}");
        retry(&Retry::throttled(), &what, is_throttled, || async {
            let sent = self.client.delete_rest_api().rest_api_id(api_id).send();
            sent.await
                .map(drop)
                .map_err(|e| AwsError::refusal_from_sdk(SERVICE, OP, e))
        })
        .await
    }

    /// `GetStages`: the names of the API's stages.
    pub async fn stage_names(&self, api_id: &str) -> Result<Vec<String>, AwsError> {
        Ok(self
            .stages(api_id)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect())
    }

    /// `GetStages`: the API's stages, with their tags.
    pub async fn stages(&self, api_id: &str) -> Result<Vec<Stage>, AwsError> {
        const OP: &str = "GetStages";
        let out = self
            .client
            .get_stages()
            .rest_api_id(api_id)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(out
            .item()
            .iter()
            .filter_map(|s| {
                Some(Stage {
                    name: s.stage_name()?.to_string(),
                    deployment_id: s.deployment_id().map(str::to_string),
                    tags: s.tags().cloned().unwrap_or_default().into_iter().collect(),
                })
            })
            .collect())
    }

    /// The ARN of a stage, which `TagResource` and `UntagResource` take.
    fn stage_arn(&self, api_id: &str, stage: &str) -> Result<String, AwsError> {
        self.resource_arn(&format!("/restapis/{api_id}/stages/{stage}"))
    }

    /// The ARN of the API Gateway resource at `path` (`/restapis/ID`, `/domainnames/NAME`):
    /// "arn:PARTITION:apigateway:REGION::PATH" (API Gateway developer guide,
    /// arn-format-reference).
    fn resource_arn(&self, path: &str) -> Result<String, AwsError> {
        let region = self
            .client
            .config()
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| AwsError::missing(SERVICE, "TagResource", "region"))?;
        Ok(format!(
            "arn:{}:apigateway:{region}::{path}",
            partition(&region)
        ))
    }

    /// `TagResource` on a REST API (`/restapis/ID`) or a custom domain
    /// (`/domainnames/NAME`): adds `tags`, keeping its others (adoption).
    pub async fn tag_resource(&self, path: &str, tags: &Tags) -> Result<(), AwsError> {
        const OP: &str = "TagResource";
        self.client
            .tag_resource()
            .resource_arn(self.resource_arn(path)?)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(())
    }

    /// `GetDomainNames` (all pages): the names of the account's custom domains in the region.
    pub async fn domain_names(&self) -> Result<Vec<String>, AwsError> {
        const OP: &str = "GetDomainNames";
        let mut names = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .client
                .get_domain_names()
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .or_aws(SERVICE, OP)?;
            names.extend(
                out.items()
                    .iter()
                    .filter_map(|d| d.domain_name().map(str::to_string)),
            );
            position = next_page(out.position(), out.items().is_empty());
            if position.is_none() {
                return Ok(names);
            }
        }
    }

    /// `GetBasePathMappings` (all pages): every mapping of `domain` (none when the domain
    /// does not exist).
    pub async fn base_path_mappings(&self, domain: &str) -> Result<Vec<BasePathMapping>, AwsError> {
        const OP: &str = "GetBasePathMappings";
        let mut found = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let result = self
                .client
                .get_base_path_mappings()
                .domain_name(domain)
                .set_position(position.take())
                .send()
                .await
                .or_aws(SERVICE, OP);
            let out = match result {
                Ok(out) => out,
                Err(e) if e.is_not_found() => return Ok(found),
                Err(e) => return Err(e),
            };
            for item in out.items() {
                found.push(BasePathMapping {
                    base_path: item.base_path().unwrap_or(ROOT_BASE_PATH).to_string(),
                    rest_api_id: item
                        .rest_api_id()
                        .ok_or_else(|| AwsError::missing(SERVICE, OP, "restApiId"))?
                        .to_string(),
                    stage: item.stage().map(str::to_string),
                });
            }
            position = next_page(out.position(), out.items().is_empty());
            if position.is_none() {
                return Ok(found);
            }
        }
    }

    /// `TagResource` on a stage: sets `key` to `value`.
    pub async fn tag_stage(
        &self,
        api_id: &str,
        stage: &str,
        key: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        const OP: &str = "TagResource";
        self.client
            .tag_resource()
            .resource_arn(self.stage_arn(api_id, stage)?)
            .tags(key, value)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(())
    }

    /// `UntagResource` on a stage: removes the tag `key`.
    pub async fn untag_stage(&self, api_id: &str, stage: &str, key: &str) -> Result<(), AwsError> {
        const OP: &str = "UntagResource";
        self.client
            .untag_resource()
            .resource_arn(self.stage_arn(api_id, stage)?)
            .tag_keys(key)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(())
    }

    /// `GetResources` (all pages): the paths of the API's resources (`/`, `/pets`, ...).
    pub async fn resource_paths(&self, api_id: &str) -> Result<Vec<String>, AwsError> {
        const OP: &str = "GetResources";
        let mut paths = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .client
                .get_resources()
                .rest_api_id(api_id)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .or_aws(SERVICE, OP)?;
            paths.extend(
                out.items()
                    .iter()
                    .filter_map(|r| r.path().map(str::to_string)),
            );
            position = next_page(out.position(), out.items().is_empty());
            if position.is_none() {
                return Ok(paths);
            }
        }
    }
}

/// The base path as the mapping URLs spell it.
/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`, ...), as AWS names them.
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// The `position` to ask for next after a page of a `Get*` list, `None` when the list is
/// done: API Gateway's list operations page with `position`, absent (or empty) on the last
/// page (API Gateway API reference, e.g. GetRestApis: "position: The current pagination
/// position in the paged result set"). A page with no items ends the list too, whatever
/// position it carries, so a server that keeps answering one cannot hold a run in a loop.
fn next_page(position: Option<&str>, page_was_empty: bool) -> Option<String> {
    match position {
        Some(p) if !p.is_empty() && !page_was_empty => Some(p.to_string()),
        _ => None,
    }
}

fn api_base_path(base_path: Option<&str>) -> String {
    match base_path {
        None | Some("") | Some("/") | Some(ROOT_BASE_PATH) => ROOT_BASE_PATH.to_string(),
        Some(p) => p.trim_matches('/').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{next_page, partition};

    #[test]
    fn a_list_goes_on_while_a_page_has_items_and_a_position() {
        assert_eq!(next_page(Some("p2"), false), Some("p2".to_string()));
        assert_eq!(next_page(None, false), None);
        assert_eq!(next_page(Some(""), false), None);
        assert_eq!(next_page(Some("p2"), true), None);
    }

    #[test]
    fn stage_arns_name_the_region_s_partition() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-west-3"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }
}
