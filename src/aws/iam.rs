//! AWS IAM: the execution role of the revocation authorizer and its one inline policy.
//!
//! IAM returns policy documents URL-encoded (IAM API reference, GetRole and GetRolePolicy:
//! "The policy document returned in this structure is URL-encoded compliant with RFC
//! 3986"); they are decoded here, so callers compare JSON.

use super::{AwsError, SdkResultExt, Tags};

const SERVICE: &str = "iam";

/// A role as `GetRole` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its ARN (what a Lambda function names as its execution role).
    pub arn: String,
    /// The trust policy, decoded JSON text.
    pub assume_role_policy: Option<String>,
    /// Its tags.
    pub tags: Tags,
}

/// The IAM client.
#[derive(Debug, Clone)]
pub struct Iam {
    client: aws_sdk_iam::Client,
}

/// IAM's "no such role / policy" (HTTP 404 `NoSuchEntity`).
fn no_such_entity(e: &AwsError) -> bool {
    e.code.as_deref() == Some("NoSuchEntity") || e.is_not_found()
}

impl Iam {
    pub(crate) fn new(client: aws_sdk_iam::Client) -> Self {
        Iam { client }
    }

    /// `GetRole`; `None` when there is no such role.
    pub async fn role(&self, name: &str) -> Result<Option<Role>, AwsError> {
        const OP: &str = "GetRole";
        let out = match self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .or_aws(SERVICE, OP)
        {
            Ok(out) => out,
            Err(e) if no_such_entity(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let role = out
            .role()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "Role"))?;
        Ok(Some(Role {
            arn: role.arn().to_string(),
            assume_role_policy: role.assume_role_policy_document().map(percent_decode),
            tags: role
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        }))
    }

    /// `CreateRole` with the trust policy `trust` and `tags`; returns its ARN.
    pub async fn create_role(
        &self,
        name: &str,
        trust: &str,
        tags: &Tags,
    ) -> Result<String, AwsError> {
        const OP: &str = "CreateRole";
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::build(SERVICE, OP, e))?;
        let out = self
            .client
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .set_tags(Some(tags))
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(out
            .role()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "Role"))?
            .arn()
            .to_string())
    }

    /// `UpdateAssumeRolePolicy`: the role's trust policy.
    pub async fn set_trust_policy(&self, name: &str, trust: &str) -> Result<(), AwsError> {
        self.client
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust)
            .send()
            .await
            .or_aws(SERVICE, "UpdateAssumeRolePolicy")?;
        Ok(())
    }

    /// `GetRolePolicy`: the inline policy `policy` of `role`, decoded; `None` when absent.
    pub async fn role_policy(&self, role: &str, policy: &str) -> Result<Option<String>, AwsError> {
        match self
            .client
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .or_aws(SERVICE, "GetRolePolicy")
        {
            Ok(out) => Ok(Some(percent_decode(out.policy_document()))),
            Err(e) if no_such_entity(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PutRolePolicy`: creates or replaces the inline policy `policy` of `role`.
    pub async fn put_role_policy(
        &self,
        role: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .or_aws(SERVICE, "PutRolePolicy")?;
        Ok(())
    }

    /// `DeleteRolePolicy`; an absent policy counts as deleted.
    pub async fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .or_aws(SERVICE, "DeleteRolePolicy")
        {
            Err(e) if !no_such_entity(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// `DeleteRole` (its inline policies must be deleted first); an absent role counts as
    /// deleted.
    pub async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .or_aws(SERVICE, "DeleteRole")
        {
            Err(e) if !no_such_entity(&e) => Err(e),
            _ => Ok(()),
        }
    }
}

/// RFC 3986 percent-decoding (IAM's policy documents); text that is not encoded is
/// returned as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_decoded() {
        assert_eq!(
            percent_decode("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(percent_decode(r#"{"a": "100%"}"#), r#"{"a": "100%"}"#);
    }
}
