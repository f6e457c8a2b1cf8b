//! The AWS layer: thin, typed wrappers over the SDK calls the walkthrough makes.
//!
//! This is the only module that names an SDK type. Everything it hands out is a small domain
//! type (an ARN as `String`, [`s3::ObjectVersion`], [`apigateway::DomainName`], ...) and every
//! failure is an [`AwsError`] naming the service, the API operation and AWS's message.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mtls::aws::AwsError> {
//! use mtls::aws::{Aws, AwsSettings};
//! let aws = Aws::connect(&AwsSettings { region: Some("ap-northeast-1".into()), ..Default::default() }).await?;
//! let account = aws.account_id().await?;
//! let bucket = format!("trust-store-{account}");
//! let state = aws.s3().find_bucket(&bucket).await?;
//! # let _ = state; Ok(()) }
//! ```

pub mod acm;
mod adopted;
pub mod apigateway;
mod error;
pub mod iam;
pub mod lambda;
pub mod regions;
pub mod route53;
pub mod s3;
pub mod sts;
mod wait;

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use adopted::AdoptedTags;
pub use error::{local_code, AwsError};
pub use wait::Wait;

/// Resource tags, key to value, in a stable order.
pub type Tags = BTreeMap<String, String>;

/// Where and as whom to call AWS. Every field left `None` falls back to aws-config's
/// standard chain: environment (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, keys),
/// shared config and credentials files, SSO, container and instance metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// A named profile of `~/.aws/config` (`--profile`).
    pub profile: Option<String>,
    /// The region (`--region`).
    pub region: Option<String>,
    /// An endpoint for every service (`--endpoint-url`), e.g. a local moto_server. Setting it
    /// (or `AWS_ENDPOINT_URL`) also switches S3 to path-style addressing, which emulators need.
    pub endpoint_url: Option<String>,
}

/// Connected clients for the services mtls uses.
#[derive(Debug, Clone)]
pub struct Aws {
    region: String,
    s3: s3::S3,
    acm: acm::Acm,
    apigateway: apigateway::ApiGateway,
    route53: route53::Route53,
    sts: sts::Sts,
    lambda: lambda::Lambda,
    iam: iam::Iam,
    adopted: AdoptedTags,
}

impl Aws {
    /// Resolves configuration and credentials providers (credentials themselves are fetched
    /// lazily, on the first call) and builds the clients.
    ///
    /// Fails when no region can be found, since every call of the walkthrough is regional.
    pub async fn connect(settings: &AwsSettings) -> Result<Aws, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader = loader.timeout_config(timeouts()?);
        let config = loader.load().await;
        // `AWS_REGION=` (set, empty) reaches the SDK as the region "": no region either.
        let region = config
            .region()
            .map(|r| r.to_string())
            .filter(|r| !r.is_empty());
        let region = region.ok_or_else(|| {
            AwsError::local(
                "config",
                "LoadRegion",
                local_code::NO_REGION,
                match &settings.profile {
                    Some(p) => format!("no region is set for profile {p:?}"),
                    None => "no region is set".to_string(),
                },
            )
        })?;
        // Whichever source set it (the profile, the instance metadata included), a region
        // AWS does not have is refused before the first call.
        if let Some(problem) = regions::region_problem(&region) {
            return Err(AwsError::local(
                "config",
                "LoadRegion",
                local_code::INVALID_REGION,
                problem,
            ));
        }
        // An emulator answers on one host name, so buckets cannot be virtual hosts there.
        let endpoint_overridden = config.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(endpoint_overridden)
            .build();
        let adopted = AdoptedTags::default();
        Ok(Aws {
            s3: s3::S3::new(aws_sdk_s3::Client::from_conf(s3_config), region.clone()),
            acm: acm::Acm::new(aws_sdk_acm::Client::new(&config), adopted.clone()),
            apigateway: apigateway::ApiGateway::new(
                aws_sdk_apigateway::Client::new(&config),
                adopted.clone(),
            ),
            route53: route53::Route53::new(aws_sdk_route53::Client::new(&config)),
            sts: sts::Sts::new(aws_sdk_sts::Client::new(&config)),
            lambda: lambda::Lambda::new(aws_sdk_lambda::Client::new(&config)),
            iam: iam::Iam::new(aws_sdk_iam::Client::new(&config)),
            region,
            adopted,
        })
    }

    /// The region every client calls.
    pub fn region(&self) -> String {
        self.region.clone()
    }

    /// The 12-digit account id of the caller (STS `GetCallerIdentity`).
    pub async fn account_id(&self) -> Result<String, AwsError> {
        Ok(self.sts.caller_identity().await?.account)
    }

    /// Amazon S3: the truststore bucket and object.
    pub fn s3(&self) -> &s3::S3 {
        &self.s3
    }

    /// AWS Certificate Manager: the imported server certificate and the ownership
    /// verification certificate.
    pub fn acm(&self) -> &acm::Acm {
        &self.acm
    }

    /// Amazon API Gateway (REST, v1): the API, its stage, the custom domain and its mapping.
    pub fn apigateway(&self) -> &apigateway::ApiGateway {
        &self.apigateway
    }

    /// Amazon Route 53: the public hosted zone and its records.
    pub fn route53(&self) -> &route53::Route53 {
        &self.route53
    }

    /// AWS Lambda: the revocation authorizer's function.
    pub fn lambda(&self) -> &lambda::Lambda {
        &self.lambda
    }

    /// AWS IAM: the revocation authorizer's execution role.
    pub fn iam(&self) -> &iam::Iam {
        &self.iam
    }

    /// The tags this run puts on resources it adopts: reads of REST APIs, custom domains
    /// and ACM certificates see them from now on (see [`AdoptedTags`]).
    pub fn adopted(&self) -> &AdoptedTags {
        &self.adopted
    }
}

/// The environment variable that sets how long one AWS request may take, in seconds.
pub const TIMEOUT_ENV: &str = "MTLS_AWS_TIMEOUT_SECS";

/// How long one AWS request may take when [`TIMEOUT_ENV`] is not set. Every call mtls
/// makes is small (the largest is the OpenAPI import), so a minute means the connection
/// stalled (the request sent, no answer coming), never that AWS is still working.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The SDK's timeouts: each attempt of a call gets [`TIMEOUT_ENV`] seconds (default
/// [`DEFAULT_TIMEOUT`]), connecting at most 3.1 s of that (the SDK's default), and a call
/// with its retries four times that. A stall becomes an `mtls.Timeout` error naming the
/// call, never a silent hang.
fn timeouts() -> Result<aws_config::timeout::TimeoutConfig, AwsError> {
    let attempt = match std::env::var(TIMEOUT_ENV) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= 24.0 * 3600.0 => {
                std::time::Duration::from_secs_f64(s)
            }
            _ => {
                return Err(AwsError::local(
                    "config",
                    "LoadTimeouts",
                    local_code::INVALID_REQUEST,
                    format!("{TIMEOUT_ENV}={v:?} is not a number of seconds (e.g. 60)"),
                ))
            }
        },
        _ => DEFAULT_TIMEOUT,
    };
    Ok(aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(attempt.min(std::time::Duration::from_millis(3100)))
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * 4)
        .build())
}

/// Turns an SDK result into this layer's result; the one way SDK errors leave a wrapper.
pub(crate) trait SdkResultExt<T> {
    /// Maps the error with [`AwsError::from_sdk`].
    fn or_aws(self, service: &'static str, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> SdkResultExt<T> for Result<T, aws_sdk_sts::error::SdkError<E>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn or_aws(self, service: &'static str, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(service, operation, e))
    }
}

/// Converts an SDK timestamp; `None` for one outside what `time` can hold.
pub(crate) fn to_offset_datetime(t: &aws_smithy_types::DateTime) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.secs()).ok()
}
