//! The one error type of the AWS layer, built in one place from whatever the SDK returned.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;

/// Codes that this layer invents for failures that happen before AWS answers; AWS's own
/// codes (`AccessDenied`, `NoSuchBucket`, ...) never collide with them.
pub mod local_code {
    /// No credentials could be found by the provider chain.
    pub const NO_CREDENTIALS: &str = "mtls.NoCredentials";
    /// No region is configured.
    pub const NO_REGION: &str = "mtls.NoRegion";
    /// The region configured is not one AWS publishes.
    pub const INVALID_REGION: &str = "mtls.InvalidRegion";
    /// The endpoint could not be reached (DNS, refused connection, TLS).
    pub const UNREACHABLE: &str = "mtls.EndpointUnreachable";
    /// A request or a wait ran out of time.
    pub const TIMEOUT: &str = "mtls.Timeout";
    /// The SDK could not build the request from the arguments given.
    pub const INVALID_REQUEST: &str = "mtls.InvalidRequest";
    /// AWS answered something this layer cannot use (a field it needs is missing).
    pub const UNEXPECTED_RESPONSE: &str = "mtls.UnexpectedResponse";
    /// A lookup by name found more than one resource.
    pub const AMBIGUOUS: &str = "mtls.Ambiguous";
    /// A resource reached a state from which a wait cannot succeed (e.g. validation failed).
    pub const FAILED_STATE: &str = "mtls.FailedState";
    /// S3 kept answering writes without a version id: versioning is not in effect.
    pub const UNVERSIONED: &str = "mtls.Unversioned";
}

/// The longest `Retry-After` taken from AWS: a larger one is read as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// A failed call, and how long AWS asked to wait before the next one: its `Retry-After`
/// header (API Gateway sends one with `TooManyRequestsException`, HTTP 429).
///
/// It travels beside the [`AwsError`] rather than inside it, so that the error's public
/// shape stays what callers build and match; [`super::wait::retry`] takes either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The error.
    pub error: AwsError,
    /// The wait AWS asked for, when it asked.
    pub retry_after: Option<Duration>,
}

impl From<AwsError> for Refusal {
    fn from(error: AwsError) -> Self {
        Refusal {
            error,
            retry_after: None,
        }
    }
}

/// A failed AWS call: which service and API operation, AWS's error code when it gave one
/// (or one of [`local_code`] for failures before AWS answered), and the message.
///
/// Rendered as `s3 CreateBucket: BucketAlreadyExists: The requested bucket name is not
/// available...`, with a help line saying what to do for the common cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    /// The SDK service name: `s3`, `acm`, `apigateway`, `route53`, `sts`.
    pub service: &'static str,
    /// The API operation, as AWS names it (`CreateDomainName`).
    pub operation: &'static str,
    /// AWS's error code (`AccessDenied`), or a [`local_code`].
    pub code: Option<String>,
    /// What went wrong, in AWS's words when AWS said it.
    pub message: String,
    /// The HTTP status of AWS's answer, when there was one.
    pub status: Option<u16>,
}

impl AwsError {
    /// Builds the error for a failed SDK call. This is the only place that looks inside an
    /// `SdkError`.
    pub(crate) fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        err: aws_sdk_sts::error::SdkError<E>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        use aws_sdk_sts::error::SdkError;
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match &err {
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                let code = err.code().map(str::to_string).or_else(|| match status {
                    // HEAD answers have no body, so S3 gives neither code nor message.
                    Some(404) => Some("NotFound".to_string()),
                    Some(403) => Some("Forbidden".to_string()),
                    _ => None,
                });
                let message = match (err.message(), status) {
                    (Some(m), _) => m.to_string(),
                    (None, Some(404)) => "not found (HTTP 404)".to_string(),
                    (None, Some(403)) => "access denied (HTTP 403)".to_string(),
                    (None, Some(s)) => format!(
                        "HTTP {s}, and the answer is not an AWS error this client can read ({})",
                        chain(&err)
                    ),
                    (None, None) => chain(&err),
                };
                (code, message)
            }
            SdkError::TimeoutError(_) => (
                Some(local_code::TIMEOUT.to_string()),
                format!("the request timed out: {}", chain(&err)),
            ),
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
                let detail = chain(&err);
                if mentions_credentials(&err) {
                    (
                        Some(local_code::NO_CREDENTIALS.to_string()),
                        format!("no usable AWS credentials: {detail}"),
                    )
                } else if detail.contains("region") && detail.contains("must be set") {
                    (
                        Some(local_code::NO_REGION.to_string()),
                        format!("no AWS region: {detail}"),
                    )
                } else if matches!(err, SdkError::DispatchFailure(_)) {
                    (
                        Some(local_code::UNREACHABLE.to_string()),
                        format!("the {service} endpoint could not be reached: {detail}"),
                    )
                } else {
                    (Some(local_code::INVALID_REQUEST.to_string()), detail)
                }
            }
            _ => (None, chain(&err)),
        };
        AwsError {
            service,
            operation,
            code,
            message,
            status,
        }
    }

    /// [`AwsError::from_sdk`], with the `Retry-After` of AWS's answer (whole seconds, as AWS
    /// sends it; an HTTP date is not used by the services mtls calls and is ignored).
    pub(crate) fn refusal_from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        err: aws_sdk_sts::error::SdkError<E>,
    ) -> Refusal
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let retry_after = err
            .raw_response()
            .and_then(|r| r.headers().get("retry-after"))
            .and_then(parse_retry_after);
        Refusal {
            error: Self::from_sdk(service, operation, err),
            retry_after,
        }
    }

    /// An error raised by this layer itself (a request it could not build, an answer it could
    /// not use, a wait that ran out).
    pub(crate) fn local(
        service: &'static str,
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            code: Some(code.to_string()),
            message: message.into(),
            status: None,
        }
    }

    /// The SDK refused to build a request (a required field was missing).
    pub(crate) fn build(service: &'static str, operation: &'static str, err: BuildError) -> Self {
        Self::local(
            service,
            operation,
            local_code::INVALID_REQUEST,
            err.to_string(),
        )
    }

    /// AWS answered without a field this layer needs.
    pub(crate) fn missing(service: &'static str, operation: &'static str, field: &str) -> Self {
        Self::local(
            service,
            operation,
            local_code::UNEXPECTED_RESPONSE,
            format!("the response has no {field}"),
        )
    }

    /// True when AWS said the resource does not exist (any of the services' spellings).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "NotFound"
                    | "NotFoundException"
                    | "NoSuchBucket"
                    | "NoSuchKey"
                    | "NoSuchVersion"
                    | "NoSuchHostedZone"
                    | "NoSuchChange"
                    | "ResourceNotFoundException"
            )
        ) || (self.code.is_none() && self.status == Some(404))
    }

    /// What the user can do about it, for the cases that have an answer.
    pub fn help_text(&self) -> Option<String> {
        let code = self.code.as_deref()?;
        let text = match code {
            local_code::NO_CREDENTIALS => {
                "no AWS credentials were found: run `aws sso login` (or `aws configure`), pass \
                 --profile NAME, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .to_string()
            }
            local_code::NO_REGION => {
                "no AWS region is configured: pass --region (e.g. --region ap-northeast-1), set \
                 AWS_REGION, or set `region` in the profile"
                    .to_string()
            }
            local_code::INVALID_REGION => {
                "pass --region with a region AWS publishes (e.g. --region ap-northeast-1), or \
                 correct AWS_REGION or the `region` of the profile"
                    .to_string()
            }
            local_code::UNREACHABLE => {
                "check the network, and --endpoint-url / AWS_ENDPOINT_URL if you set one (an \
                 emulator such as moto_server must be running there); a connection that broke \
                 mid-call is safe to retry: run the same command again (every step finds what \
                 exists)"
                    .to_string()
            }
            "InternalError" | "InternalFailure" | "ServiceUnavailable" | "InternalServerError" => {
                "AWS failed on its side: run the same command again (every step finds what \
                 exists and changes only what differs)"
                    .to_string()
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "Forbidden"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException" => format!(
                "the identity in use may not call {}:{}; check the profile (`aws sts \
                 get-caller-identity`), refresh expired SSO credentials with `aws sso login`, \
                 or grant the permission in IAM",
                iam_prefix(self.service),
                self.operation
            ),
            "BucketAlreadyExists" => "S3 bucket names are global and another account owns this \
                 one: choose another bucket name"
                .to_string(),
            "BucketAlreadyOwnedByYou" => {
                "the bucket exists and is yours already: reuse it instead of creating it"
                    .to_string()
            }
            "TooManyRequestsException"
            | "Throttling"
            | "ThrottlingException"
            | "LimitExceededException" => {
                "AWS is throttling these calls or a quota is reached: wait and run again, or ask \
                 for a higher quota"
                    .to_string()
            }
            "ConflictException" => {
                "the resource exists already or is being changed: look it up and reuse it, or \
                 wait and run again"
                    .to_string()
            }
            local_code::TIMEOUT if self.message.starts_with("the request timed out") => format!(
                "AWS did not answer {} in time (a stalled connection, or a slow network): run \
                 the same command again (every step finds what exists); MTLS_AWS_TIMEOUT_SECS \
                 sets the time allowed for one request",
                self.operation
            ),
            local_code::TIMEOUT => {
                "wait longer (a larger timeout) or check why AWS has not finished".to_string()
            }
            // ACM API reference, CertificateDetail: "If a certificate shows status FAILED or
            // VALIDATION_TIMED_OUT, delete the request, correct the issue with DNS
            // validation or Email validation, and try again." Setup leaves such a
            // certificate aside and requests a new one.
            local_code::FAILED_STATE if self.service == "acm" => {
                "ACM never issues a certificate in this state. Correct the cause: for \
                 VALIDATION_TIMED_OUT, the validation CNAME must resolve from the internet \
                 (the registrar must delegate the domain to the hosted zone's name servers); \
                 for FAILED, see ACM's reason (CAA_ERROR: a CAA record of the domain must \
                 allow amazon.com). Then run the same command again: it requests a new \
                 certificate. Delete this one with `aws acm delete-certificate \
                 --certificate-arn ARN`"
                    .to_string()
            }
            local_code::UNVERSIONED => "check the bucket's versioning (`aws s3api \
                 get-bucket-versioning --bucket NAME`: it must be Enabled) and run again; right \
                 after versioning is enabled S3 can take a while to apply it"
                .to_string(),
            _ if self.is_not_found() => {
                "the resource does not exist (in this account and region): check the name or \
                 ARN, --region and --profile"
                    .to_string()
            }
            _ => return None,
        };
        Some(text)
    }
}

/// A `Retry-After` value in seconds, capped at [`MAX_RETRY_AFTER`].
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs).min(MAX_RETRY_AFTER))
}

/// The IAM action prefix of a service, for help text.
fn iam_prefix(service: &str) -> &str {
    match service {
        "apigateway" => "apigateway",
        other => other,
    }
}

/// An error and its sources, joined by `: `, skipping repeats (SDK errors often wrap a
/// source whose text they already include).
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Whether the error chain of a failure before AWS answered is about credentials.
fn mentions_credentials(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("credential") {
            return true;
        }
        current = e.source();
    }
    false
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.service, self.operation)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl miette::Diagnostic for AwsError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!(
            "aws::{}::{}",
            self.service, self.operation
        )))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help_text()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
