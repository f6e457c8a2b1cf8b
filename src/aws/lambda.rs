//! AWS Lambda: the revocation authorizer's function and the permission that lets API
//! Gateway invoke it.

use std::collections::BTreeMap;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};

use super::wait::Retry;
use super::{AwsError, SdkResultExt, Tags};

const SERVICE: &str = "lambda";

/// The runtime the authorizer is written for.
pub const RUNTIME: &str = "python3.12";

/// What the function must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Its name.
    pub name: String,
    /// The execution role's ARN.
    pub role_arn: String,
    /// The deployment package (a .zip).
    pub zip: Vec<u8>,
    /// `module.function`.
    pub handler: String,
    /// Environment variables.
    pub environment: BTreeMap<String, String>,
    /// Tags.
    pub tags: Tags,
}

/// A function as `GetFunction` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its ARN.
    pub arn: String,
    /// The base64 SHA-256 of its deployment package ([`code_sha256`]).
    pub code_sha256: Option<String>,
    /// The execution role's ARN.
    pub role: Option<String>,
    /// The runtime (`python3.12`).
    pub runtime: Option<String>,
    /// The handler.
    pub handler: Option<String>,
    /// Environment variables.
    pub environment: BTreeMap<String, String>,
}

/// Lambda's `CodeSha256`: the base64 of the SHA-256 of the deployment package (Lambda API
/// reference, FunctionConfiguration, CodeSha256).
pub fn code_sha256(zip: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, zip);
    aws_smithy_types::base64::encode(digest.as_ref())
}

/// Whether Lambda refused a new role it cannot assume yet: IAM changes take time to reach
/// every service ("Changes that I make are not always immediately visible", IAM user guide,
/// troubleshoot_general), and CreateFunction answers InvalidParameterValueException "The
/// role defined for the function cannot be assumed by Lambda" meanwhile.
fn role_not_assumable_yet(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValueException")
        && e.message.contains("cannot be assumed")
}

/// Whether Lambda refused a change because another is in progress (HTTP 409
/// ResourceConflictException: "The operation cannot be performed at this time. An update is
/// in progress for resource", Lambda developer guide, functions-states).
fn update_in_progress(e: &AwsError) -> bool {
    e.code.as_deref() == Some("ResourceConflictException")
}

/// The Lambda client.
#[derive(Debug, Clone)]
pub struct Lambda {
    client: aws_sdk_lambda::Client,
}

impl Lambda {
    pub(crate) fn new(client: aws_sdk_lambda::Client) -> Self {
        Lambda { client }
    }

    /// `GetFunction`; `None` when there is no such function.
    pub async fn function(&self, name: &str) -> Result<Option<Function>, AwsError> {
        const OP: &str = "GetFunction";
        let out = match self
            .client
            .get_function()
            .function_name(name)
            .send()
            .await
            .or_aws(SERVICE, OP)
        {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let c = out
            .configuration()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "Configuration"))?;
        Ok(Some(Function {
            arn: c
                .function_arn()
                .ok_or_else(|| AwsError::missing(SERVICE, OP, "FunctionArn"))?
                .to_string(),
            code_sha256: c.code_sha256().map(str::to_string),
            role: c.role().map(str::to_string),
            runtime: c.runtime().map(|r| r.as_str().to_string()),
            handler: c.handler().map(str::to_string),
            environment: c
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }))
    }

    /// `CreateFunction` (a zip package, [`RUNTIME`]); asks again while the new role cannot
    /// be assumed yet. Returns the function's ARN.
    pub async fn create_function(&self, spec: &FunctionSpec) -> Result<String, AwsError> {
        const OP: &str = "CreateFunction";
        let what = format!("creating the Lambda function {}", spec.name);
        let out = super::wait::retry(&Retry::not_yet(), &what, role_not_assumable_yet, || async {
            self.client
                .create_function()
                .function_name(&spec.name)
                .runtime(Runtime::from(RUNTIME))
                .role(&spec.role_arn)
                .handler(&spec.handler)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(spec.zip.clone()))
                        .build(),
                )
                .environment(environment(&spec.environment))
                .set_tags(Some(spec.tags.clone().into_iter().collect()))
                .send()
                .await
                .or_aws(SERVICE, OP)
        })
        .await?;
        out.function_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "FunctionArn"))
    }

    /// `UpdateFunctionCode` with a new zip package.
    pub async fn update_code(&self, name: &str, zip: &[u8]) -> Result<(), AwsError> {
        let what = format!("updating the code of {name}");
        super::wait::retry(&Retry::not_yet(), &what, update_in_progress, || async {
            self.client
                .update_function_code()
                .function_name(name)
                .zip_file(Blob::new(zip.to_vec()))
                .send()
                .await
                .or_aws(SERVICE, "UpdateFunctionCode")
        })
        .await?;
        Ok(())
    }

    /// `UpdateFunctionConfiguration`: role, runtime, handler and environment as `spec` says.
    pub async fn update_configuration(&self, spec: &FunctionSpec) -> Result<(), AwsError> {
        let what = format!("updating the configuration of {}", spec.name);
        super::wait::retry(
            &Retry::not_yet(),
            &what,
            |e| update_in_progress(e) || role_not_assumable_yet(e),
            || async {
                self.client
                    .update_function_configuration()
                    .function_name(&spec.name)
                    .role(&spec.role_arn)
                    .runtime(Runtime::from(RUNTIME))
                    .handler(&spec.handler)
                    .environment(environment(&spec.environment))
                    .send()
                    .await
                    .or_aws(SERVICE, "UpdateFunctionConfiguration")
            },
        )
        .await?;
        Ok(())
    }

    /// `GetPolicy`: the statement ids of the function's resource-based policy (empty when
    /// it has none).
    pub async fn permission_ids(&self, name: &str) -> Result<Vec<String>, AwsError> {
        let out = match self
            .client
            .get_policy()
            .function_name(name)
            .send()
            .await
            .or_aws(SERVICE, "GetPolicy")
        {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let policy: serde_json::Value =
            serde_json::from_str(out.policy().unwrap_or("{}")).unwrap_or_default();
        Ok(policy["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["Sid"].as_str().map(str::to_string))
            .collect())
    }

    /// `AddPermission`: lets `principal` invoke the function from `source_arn`.
    pub async fn add_permission(
        &self,
        name: &str,
        statement_id: &str,
        principal: &str,
        source_arn: &str,
    ) -> Result<(), AwsError> {
        self.client
            .add_permission()
            .function_name(name)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal(principal)
            .source_arn(source_arn)
            .send()
            .await
            .or_aws(SERVICE, "AddPermission")?;
        Ok(())
    }

    /// `DeleteFunction`; an absent function counts as deleted.
    pub async fn delete_function(&self, name: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_function()
            .function_name(name)
            .send()
            .await
            .or_aws(SERVICE, "DeleteFunction")
        {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }
}

fn environment(vars: &BTreeMap<String, String>) -> Environment {
    Environment::builder()
        .set_variables(Some(vars.clone().into_iter().collect()))
        .build()
}

/// A .zip holding one file `name`, stored (not compressed) with a fixed date, so the same
/// bytes always make the same package and [`code_sha256`] tells whether the deployed code
/// is this one (APPNOTE.TXT, the .ZIP file format specification: local file header,
/// central directory header, end of central directory record).
pub fn zip_one_file(name: &str, body: &[u8]) -> Vec<u8> {
    const DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;
    let crc = crc32fast::hash(body);
    let (size, name_len) = (body.len() as u32, name.len() as u16);
    let mut z = Vec::with_capacity(body.len() + 2 * name.len() + 100);
    let common = |z: &mut Vec<u8>| {
        z.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
        z.extend_from_slice(&0u16.to_le_bytes()); // flags
        z.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        z.extend_from_slice(&0u16.to_le_bytes()); // time 00:00
        z.extend_from_slice(&DOS_DATE_1980_01_01.to_le_bytes());
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes()); // compressed
        z.extend_from_slice(&size.to_le_bytes()); // uncompressed
        z.extend_from_slice(&name_len.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes()); // extra field length
    };
    z.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut z);
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(body);
    let central = z.len() as u32;
    z.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    z.extend_from_slice(&(3u16 << 8 | 20).to_le_bytes()); // made by: Unix, 2.0
    common(&mut z);
    z.extend_from_slice(&0u16.to_le_bytes()); // comment length
    z.extend_from_slice(&0u16.to_le_bytes()); // disk number
    z.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    z.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // external: -rw-r--r--
    z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    z.extend_from_slice(name.as_bytes());
    let central_size = z.len() as u32 - central;
    z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    z.extend_from_slice(&[0, 0, 0, 0]); // disk numbers
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&central_size.to_le_bytes());
    z.extend_from_slice(&central.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes()); // comment length
    z
}
