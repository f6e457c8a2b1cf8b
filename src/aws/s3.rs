//! Amazon S3: the versioned truststore bucket and its object (the walkthrough, step 6).
//!
//! API Gateway reads the truststore at one object version only, so every write here reports
//! the version id, and every object carries its SHA-256 (as metadata `sha256`) so a caller can
//! tell whether the live version holds the bytes it has locally. The ETag is no such hash: it
//! is an MD5 only for single-part uploads without SSE-KMS.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};

use std::future::Future;
use std::time::Instant;

use super::wait::Retry;
use super::{local_code, to_offset_datetime, AwsError, SdkResultExt};

const SERVICE: &str = "s3";

/// The metadata key holding the hex SHA-256 of an object written by [`S3::put_object`].
pub const SHA256_METADATA_KEY: &str = "sha256";

/// What `HeadBucket` says about a bucket name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketState {
    /// The bucket exists and this identity may use it.
    Owned {
        /// The bucket's region, when S3 said it.
        region: Option<String>,
    },
    /// No bucket has this name (in any account).
    Absent,
    /// HTTP 403: the name belongs to another account (or this identity may not read it).
    OwnedByOther,
}

/// The versioning state of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// Versioning was never turned on.
    Unversioned,
    /// Every write makes a new version.
    Enabled,
    /// Was on, now paused: new writes get the version id `null`.
    Suspended,
}

/// The version an object write made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The version id; `None` when the bucket is not versioned.
    pub version_id: Option<String>,
    /// The ETag, with its quotes removed.
    pub etag: String,
    /// Hex SHA-256 of the bytes written (also stored as metadata `sha256`).
    pub sha256: String,
}

/// What `HeadObject` says about one object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// The version id; `None` when the bucket is not versioned.
    pub version_id: Option<String>,
    /// The ETag, with its quotes removed.
    pub etag: String,
    /// The metadata `sha256`, when the object was written by [`S3::put_object`].
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: i64,
}

/// One entry of `ListObjectVersions`: an object version or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersionEntry {
    /// The object key.
    pub key: String,
    /// The version id (`null` for writes made while unversioned).
    pub version_id: String,
    /// Whether this is the current version of the key.
    pub is_latest: bool,
    /// Whether this is a delete marker rather than data.
    pub is_delete_marker: bool,
    /// The ETag without quotes (none for delete markers).
    pub etag: Option<String>,
    /// When it was written.
    pub last_modified: Option<time::OffsetDateTime>,
}

/// The S3 client.
#[derive(Debug, Clone)]
pub struct S3 {
    client: aws_sdk_s3::Client,
    region: String,
}

impl S3 {
    pub(crate) fn new(client: aws_sdk_s3::Client, region: String) -> Self {
        S3 { client, region }
    }

    /// `HeadBucket`: whether the bucket exists and is usable by this identity.
    pub async fn find_bucket(&self, bucket: &str) -> Result<BucketState, AwsError> {
        const OP: &str = "HeadBucket";
        match self
            .client
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .or_aws(SERVICE, OP)
        {
            Ok(out) => Ok(BucketState::Owned {
                region: out.bucket_region().map(str::to_string),
            }),
            Err(e) if e.status == Some(404) || e.is_not_found() => Ok(BucketState::Absent),
            Err(e) if e.status == Some(403) => Ok(BucketState::OwnedByOther),
            Err(e) => Err(e),
        }
    }

    /// `CreateBucket` in the client's region (with a `LocationConstraint` unless that is
    /// us-east-1, which refuses one). `BucketAlreadyOwnedByYou` counts as made.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        let mut request = self.client.create_bucket().bucket(bucket);
        if self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match request.send().await.or_aws(SERVICE, "CreateBucket") {
            // The bucket exists and is ours: made by this very call, whose first answer was
            // lost and which the SDK sent again.
            Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    /// `GetBucketVersioning`.
    pub async fn versioning(&self, bucket: &str) -> Result<Versioning, AwsError> {
        const OP: &str = "GetBucketVersioning";
        let out = self
            .client
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(match out.status() {
            Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
            Some(BucketVersioningStatus::Suspended) => Versioning::Suspended,
            _ => Versioning::Unversioned,
        })
    }

    /// `PutBucketVersioning` with status `Enabled`.
    pub async fn enable_versioning(&self, bucket: &str) -> Result<(), AwsError> {
        self.client
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .or_aws(SERVICE, "PutBucketVersioning")?;
        Ok(())
    }

    /// `PutObject`, storing the body's SHA-256 as metadata `sha256`; returns the new version.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<ObjectVersion, AwsError> {
        const OP: &str = "PutObject";
        let sha256 = sha256_hex(body);
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .metadata(SHA256_METADATA_KEY, &sha256)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(ObjectVersion {
            version_id: out.version_id().and_then(real_version),
            etag: unquote(
                out.e_tag()
                    .ok_or_else(|| AwsError::missing(SERVICE, OP, "ETag"))?,
            ),
            sha256,
        })
    }

    /// [`S3::put_object`] into a bucket whose versioning is enabled, until S3 answers with a
    /// version id: right after versioning is enabled, S3 may still store writes without
    /// one for a while, and API Gateway can only pin its truststore to a version. Writes
    /// again for up to two minutes; then an error says versioning is not in effect.
    pub async fn put_object_versioned(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<ObjectVersion, AwsError> {
        let policy = Retry {
            total: std::time::Duration::from_secs(120),
            ..Retry::not_yet()
        };
        until_versioned(&policy, &format!("s3://{bucket}/{key}"), || {
            self.put_object(bucket, key, body, content_type)
        })
        .await
    }

    /// `HeadObject` of the version `written` made, until S3 serves it (read back before any
    /// other service is pointed at it). For up to 15 minutes after versioning is first
    /// enabled on a bucket, "GET requests for objects created or updated after enabling
    /// versioning may result in HTTP 404 NoSuchKey errors" (S3 user guide, "Enabling
    /// versioning on buckets"); API Gateway reads the truststore when a domain is created or
    /// updated, so a version it cannot read yet would fail that call. Asks again while S3
    /// answers 404, within `Retry::versioning_propagation` (src/aws/wait.rs), saying so at each attempt.
    pub async fn wait_until_readable(
        &self,
        bucket: &str,
        key: &str,
        written: &ObjectVersion,
    ) -> Result<ObjectHead, AwsError> {
        const OP: &str = "HeadObject";
        let uri = format!("s3://{bucket}/{key}");
        let what = format!(
            "reading back {uri} (S3 may answer 404 for up to 15 minutes after versioning is first enabled)"
        );
        let version = written.version_id.as_deref();
        super::wait::retry(
            &Retry::versioning_propagation(),
            &what,
            AwsError::is_not_found,
            || async {
                self.head_object(bucket, key, version)
                    .await?
                    .ok_or_else(|| {
                        let mut e = AwsError::local(
                            SERVICE,
                            OP,
                            "NoSuchKey",
                            format!(
                                "{uri} (version {}) was written but S3 does not serve it yet",
                                version.unwrap_or("null")
                            ),
                        );
                        e.status = Some(404);
                        e
                    })
            },
        )
        .await
    }

    /// `HeadObject` of the latest version, or of `version_id`; `None` when there is no such
    /// object or version.
    pub async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectHead>, AwsError> {
        const OP: &str = "HeadObject";
        let result = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .or_aws(SERVICE, OP);
        let out = match result {
            Ok(out) => out,
            Err(e) if no_such_object(&e, version_id) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(ObjectHead {
            version_id: out.version_id().and_then(real_version),
            etag: unquote(
                out.e_tag()
                    .ok_or_else(|| AwsError::missing(SERVICE, OP, "ETag"))?,
            ),
            sha256: out
                .metadata()
                .and_then(|m| m.get(SHA256_METADATA_KEY))
                .map(|s| s.to_ascii_lowercase()),
            size: out.content_length().unwrap_or_default(),
        }))
    }

    /// `GetObject` of the latest version, or of `version_id`: the body, up to `max_bytes`
    /// (a larger object is an error); `None` when there is no such object or version.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        const OP: &str = "GetObject";
        let result = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .or_aws(SERVICE, OP);
        let out = match result {
            Ok(out) => out,
            Err(e) if no_such_object(&e, version_id) => return Ok(None),
            Err(e) => return Err(e),
        };
        let too_large = || {
            AwsError::local(
                SERVICE,
                OP,
                local_code::UNEXPECTED_RESPONSE,
                format!("s3://{bucket}/{key} is larger than {max_bytes} bytes"),
            )
        };
        if out.content_length().unwrap_or_default() > max_bytes as i64 {
            return Err(too_large());
        }
        let body = out
            .body
            .collect()
            .await
            .map_err(|_| AwsError::missing(SERVICE, OP, "the complete body"))?
            .into_bytes();
        if body.len() > max_bytes {
            return Err(too_large());
        }
        Ok(Some(body.to_vec()))
    }

    /// `ListObjectVersions` (all pages): every version and delete marker under `prefix`
    /// (all keys when `None`), newest first within a key.
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<ObjectVersionEntry>, AwsError> {
        let mut entries = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .set_prefix(prefix.map(str::to_string))
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .or_aws(SERVICE, "ListObjectVersions")?;
            for v in out.versions() {
                entries.push(ObjectVersionEntry {
                    key: v.key().unwrap_or_default().to_string(),
                    version_id: v.version_id().unwrap_or("null").to_string(),
                    is_latest: v.is_latest().unwrap_or(false),
                    is_delete_marker: false,
                    etag: v.e_tag().map(unquote),
                    last_modified: v.last_modified().and_then(to_offset_datetime),
                });
            }
            for m in out.delete_markers() {
                entries.push(ObjectVersionEntry {
                    key: m.key().unwrap_or_default().to_string(),
                    version_id: m.version_id().unwrap_or("null").to_string(),
                    is_latest: m.is_latest().unwrap_or(false),
                    is_delete_marker: true,
                    etag: None,
                    last_modified: m.last_modified().and_then(to_offset_datetime),
                });
            }
            if out.is_truncated() != Some(true) {
                break;
            }
            key_marker = out.next_key_marker().map(str::to_string);
            version_marker = out.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() && version_marker.is_none() {
                break;
            }
        }
        Ok(entries)
    }

    /// `DeleteObject` of one version (or delete marker) of `key`.
    pub async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<(), AwsError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .version_id(version_id)
            .send()
            .await
            .or_aws(SERVICE, "DeleteObject")?;
        Ok(())
    }

    /// `DeleteBucket` of an empty bucket.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        self.client
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .or_aws(SERVICE, "DeleteBucket")?;
        Ok(())
    }
}

/// Calls `put` until the version it made has an id, pausing as `policy` says.
async fn until_versioned<F, Fut>(
    policy: &Retry,
    uri: &str,
    mut put: F,
) -> Result<ObjectVersion, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ObjectVersion, AwsError>>,
{
    let start = Instant::now();
    let mut pause = policy.first;
    let mut writes = 0u32;
    loop {
        let written = put().await?;
        writes += 1;
        if written.version_id.is_some() {
            return Ok(written);
        }
        if start.elapsed() + pause >= policy.total {
            return Err(AwsError::local(
                SERVICE,
                "PutObject",
                local_code::UNVERSIONED,
                format!(
                    "S3 stored {uri} without a version id {writes} times in {} s: versioning \
                     is not in effect on the bucket, and API Gateway needs an object version",
                    start.elapsed().as_secs()
                ),
            ));
        }
        tracing::info!(
            "{uri}: written without a version id (versioning not in effect yet), writing again in {} ms",
            pause.as_millis()
        );
        tokio::time::sleep(pause).await;
        // Versioning takes effect at some moment: noticed soon after, as a poll would.
        pause = super::wait::next_pause(start.elapsed(), policy.first, policy.max_pause);
    }
}

/// Whether S3's answer means "no such object or version": a 404, or, when a version id was
/// asked for, a 400 (a version id of another key, or a malformed one).
fn no_such_object(e: &AwsError, version_id: Option<&str>) -> bool {
    e.is_not_found() || (version_id.is_some() && e.status == Some(400))
}

/// Hex SHA-256 of `bytes`, as stored in the metadata `sha256` by [`S3::put_object`].
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// S3 quotes ETags (`"abc"`); callers compare the bare value.
fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// The version id `null` means "not versioned".
fn real_version(id: &str) -> Option<String> {
    (id != "null" && !id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn written(version: Option<&str>) -> ObjectVersion {
        ObjectVersion {
            version_id: version.map(str::to_string),
            etag: "e".into(),
            sha256: "s".into(),
        }
    }

    const QUICK: Retry = Retry {
        total: Duration::from_millis(200),
        first: Duration::from_millis(1),
        max_pause: Duration::from_millis(4),
    };

    #[tokio::test]
    async fn writes_again_until_a_version_id_then_says_versioning_is_off() {
        let calls = AtomicU32::new(0);
        let out = until_versioned(&QUICK, "s3://b/k", || async {
            Ok(match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => written(None),
                _ => written(Some("v1")),
            })
        })
        .await
        .unwrap();
        assert_eq!(out.version_id.as_deref(), Some("v1"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let err = until_versioned(&QUICK, "s3://b/k", || async { Ok(written(None)) })
            .await
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some(local_code::UNVERSIONED));
        assert!(err.message.contains("s3://b/k"), "{err}");
        assert!(err.message.contains("versioning"), "{err}");
        assert!(err.help_text().unwrap().contains("get-bucket-versioning"));
    }
}
