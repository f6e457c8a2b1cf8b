//! AWS STS: the caller's identity (the account id names the truststore bucket).

use super::{AwsError, SdkResultExt};

const SERVICE: &str = "sts";

/// Who is calling AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account id.
    pub account: String,
    /// The caller's ARN (user, assumed role, SSO role session).
    pub arn: String,
}

/// The STS client.
#[derive(Debug, Clone)]
pub struct Sts {
    client: aws_sdk_sts::Client,
}

impl Sts {
    pub(crate) fn new(client: aws_sdk_sts::Client) -> Self {
        Sts { client }
    }

    /// `GetCallerIdentity`: needs no permission, so it is also the cheapest credentials check.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, AwsError> {
        const OP: &str = "GetCallerIdentity";
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(CallerIdentity {
            account: out
                .account()
                .ok_or_else(|| AwsError::missing(SERVICE, OP, "Account"))?
                .to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }
}
