//! The S3 wrappers against moto: the versioned truststore bucket of ARTICLE.md step 6.
use crate::support;

use mtls::aws::s3::{sha256_hex, BucketState, Versioning};
use mtls::aws::Aws;
use support::cli::mtls_env;
use support::moto::Moto;

#[tokio::test]
async fn versioned_bucket_keeps_every_upload_and_head_shows_the_latest() {
    let moto = Moto::start();
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let s3 = aws.s3();
    let bucket = format!(
        "trust-store-{}",
        aws.account_id().await.expect("account id")
    );

    assert_eq!(
        s3.find_bucket(&bucket).await.expect("head bucket"),
        BucketState::Absent
    );
    s3.create_bucket(&bucket).await.expect("create bucket");
    assert!(matches!(
        s3.find_bucket(&bucket).await.expect("head"),
        BucketState::Owned { .. }
    ));
    assert_eq!(
        s3.versioning(&bucket).await.expect("versioning"),
        Versioning::Unversioned
    );
    s3.enable_versioning(&bucket)
        .await
        .expect("enable versioning");
    assert_eq!(
        s3.versioning(&bucket).await.expect("versioning"),
        Versioning::Enabled
    );

    let first = s3
        .put_object(
            &bucket,
            "RootCA.pem",
            b"first truststore\n",
            "application/x-pem-file",
        )
        .await
        .expect("put 1");
    let second = s3
        .put_object(
            &bucket,
            "RootCA.pem",
            b"second truststore\n",
            "application/x-pem-file",
        )
        .await
        .expect("put 2");
    let (v1, v2) = (
        first.version_id.clone().expect("v1"),
        second.version_id.clone().expect("v2"),
    );
    assert_ne!(v1, v2, "each upload makes a new version");
    assert_eq!(second.sha256, sha256_hex(b"second truststore\n"));

    let latest = s3
        .head_object(&bucket, "RootCA.pem", None)
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(latest.version_id.as_deref(), Some(v2.as_str()));
    assert_eq!(latest.sha256.as_deref(), Some(second.sha256.as_str()));
    assert_eq!(latest.etag, second.etag);
    assert_eq!(latest.size, b"second truststore\n".len() as i64);

    let old = s3
        .head_object(&bucket, "RootCA.pem", Some(&v1))
        .await
        .expect("head v1")
        .expect("v1");
    assert_eq!(old.sha256.as_deref(), Some(first.sha256.as_str()));
    assert!(s3
        .head_object(&bucket, "missing.pem", None)
        .await
        .expect("head missing")
        .is_none());

    let versions = s3
        .list_object_versions(&bucket, Some("RootCA"))
        .await
        .expect("list versions");
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().any(|v| v.version_id == v2 && v.is_latest));
    assert!(versions.iter().any(|v| v.version_id == v1 && !v.is_latest));

    for v in &versions {
        s3.delete_object_version(&bucket, &v.key, &v.version_id)
            .await
            .expect("delete a version");
    }
    s3.delete_bucket(&bucket)
        .await
        .expect("delete the empty bucket");
    assert_eq!(
        s3.find_bucket(&bucket).await.expect("head bucket"),
        BucketState::Absent
    );

    // Path-style addressing: the bucket is in the path, not in the host name.
    let puts = moto.requests_to("PUT", &format!("/{bucket}/RootCA.pem"));
    assert_eq!(puts.len(), 2, "two PutObject calls, path-style");
}

#[tokio::test]
async fn create_bucket_outside_us_east_1_sends_a_location_constraint() {
    let moto = Moto::start();
    let mut settings = moto.settings();
    settings.region = Some("ap-northeast-1".to_string());
    let aws = Aws::connect(&settings).await.expect("connect");
    assert_eq!(aws.region(), "ap-northeast-1");
    aws.s3()
        .create_bucket("trust-store-tokyo")
        .await
        .expect("create");
    // The SDK writes the bucket URL with a final slash in path style.
    let create = moto.requests_to("PUT", "/trust-store-tokyo/");
    assert_eq!(create.len(), 1);
    assert!(create[0]
        .body_text()
        .contains("<LocationConstraint>ap-northeast-1</LocationConstraint>"));
    assert!(create[0].is_mutating());
}

/// Runs in a child process started by `aws_endpoint_url_alone_switches_s3_to_path_style`,
/// whose only pointer to moto is `AWS_ENDPOINT_URL`.
#[tokio::test]
#[ignore = "started by aws_endpoint_url_alone_switches_s3_to_path_style"]
async fn child_with_endpoint_from_environment() {
    let aws = Aws::connect(&mtls::aws::AwsSettings::default())
        .await
        .expect("connect");
    assert_eq!(aws.region(), support::moto::REGION);
    aws.s3()
        .create_bucket("from-env")
        .await
        .expect("create bucket");
    aws.s3()
        .put_object("from-env", "RootCA.pem", b"pem", "application/x-pem-file")
        .await
        .expect("put");
}

#[test]
fn aws_endpoint_url_alone_switches_s3_to_path_style() {
    let moto = Moto::start();
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"));
    child.args([
        "--ignored",
        "--exact",
        "aws_s3::child_with_endpoint_from_environment",
        "--test-threads=1",
    ]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            child.env_remove(key);
        }
    }
    child.envs(moto.env());
    let out = child.output().expect("run child");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Virtual-host style would have put the bucket in the Host header and left it out of the
    // path; moto on 127.0.0.1 cannot serve that.
    assert_eq!(moto.requests_to("PUT", "/from-env/RootCA.pem").len(), 1);
}

/// The bucket step of a script (`s3_ensure_bucket`, src/script/primitives/aws/s3.rs) against
/// moto: a plan says why it would turn versioning on (not looked up offline; absent once
/// `--refresh` found no bucket), and a bucket that exists without versioning is an
/// "update" for the script, not a "keep". API Gateway pins the truststore to an object
/// version (API Gateway developer guide, rest-api-mutual-tls), so versioning must be on.
#[test]
fn the_bucket_step_says_why_it_turns_versioning_on_and_reports_turning_it_on_alone() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let bucket = "step-bucket";
    std::fs::write(
        dir.path().join("b.rhai"),
        format!("let b = s3_ensure_bucket(\"{bucket}\");\nprint(`status: ${{b.status}}`);\n"),
    )
    .unwrap();
    let versioning_reason = |extra: &[&str]| {
        let args = [&["plan", "b.rhai", "--format", "json"], extra].concat();
        let run = mtls_env(dir.path(), &args, &moto.env()).success();
        let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON plan");
        let action = plan["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .find(|a| a["kind"] == "s3 versioning")
            .cloned()
            .unwrap_or_else(|| panic!("no versioning action: {}", run.stdout));
        assert_eq!(action["op"], "create", "{action}");
        action["reason"].as_str().unwrap_or_default().to_string()
    };
    let offline = versioning_reason(&[]);
    assert!(
        offline.starts_with("offline plan: not looked up"),
        "{offline}"
    );
    assert_eq!(versioning_reason(&["--refresh"]), "does not exist");

    // A bucket made without versioning, as moto reads it back.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    rt.block_on(aws.s3().create_bucket(bucket)).unwrap();
    let versioning = || rt.block_on(aws.s3().versioning(bucket)).unwrap();
    assert_eq!(versioning(), Versioning::Unversioned);
    let run = mtls_env(dir.path(), &["run", "b.rhai"], &moto.env()).success();
    assert!(run.stdout.contains("status: update"), "{}", run.all());
    assert_eq!(versioning(), Versioning::Enabled);
}

/// The truststore step (`s3_ensure_truststore`) against moto: a new version names the
/// certificates it adds and removes, in the plan and in what the script is given, read
/// back from the version it replaces.
#[test]
fn a_new_truststore_version_names_the_certificates_it_adds_and_removes() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    support::cli::self_signed_p256(d, "old", "/CN=old CA", &[]);
    support::cli::self_signed_p256(d, "new", "/CN=new CA", &[]);
    std::fs::copy(d.join("old.pem"), d.join("ts.pem")).unwrap();
    std::fs::write(
        d.join("t.rhai"),
        r#"let b = s3_ensure_bucket("ts-bucket");
let t = s3_ensure_truststore(b.name, "RootCA.pem", "ts.pem");
print(`${t.status}: added ${t.added}, removed ${t.removed}, version ${t.version}`);
"#,
    )
    .unwrap();
    let first = mtls_env(d, &["run", "t.rhai"], &moto.env()).success();
    // Moto holds the version the script was given.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    let head = rt.block_on(aws.s3().head_object("ts-bucket", "RootCA.pem", None));
    let version = head.unwrap().and_then(|h| h.version_id).expect("a version");
    assert!(
        first
            .stdout
            .contains(&format!("create: added [], removed [], version {version}")),
        "{}",
        first.all()
    );
    // The store now holds the new CA alone.
    std::fs::copy(d.join("new.pem"), d.join("ts.pem")).unwrap();
    let plan = mtls_env(
        d,
        &["plan", "t.rhai", "--refresh", "--format", "json"],
        &moto.env(),
    )
    .success();
    // The script is not given the old version as if it stayed.
    assert!(
        plan.stderr.contains(", version (known after apply)"),
        "{}",
        plan.all()
    );
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("JSON plan");
    let object = plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["kind"] == "s3 object")
        .cloned()
        .expect("an s3 object action");
    assert_eq!(object["op"], "update", "{object}");
    let arg = |name: &str| {
        object["args"][name]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(arg("added").starts_with("CN=new CA ["), "{object}");
    assert!(arg("removed").starts_with("CN=old CA ["), "{object}");
    // The version it replaces, and that the new one is not known before the upload.
    assert_eq!(arg("version"), format!("{version} -> (known after apply)"));
    let second = mtls_env(d, &["run", "t.rhai"], &moto.env()).success();
    assert!(
        second.stdout.contains("update: added [\"CN=new CA ["),
        "{}",
        second.all()
    );
    assert!(
        second.stdout.contains("removed [\"CN=old CA ["),
        "{}",
        second.all()
    );
}

/// The truststore removal (`s3_delete_truststore`) in an offline plan: nothing is looked
/// up, so the plan names the object and the bucket it deletes if they exist, and sends
/// nothing.
#[test]
fn an_offline_plan_of_the_truststore_removal_names_what_it_would_delete() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.rhai"),
        "s3_delete_truststore(\"ts-bucket\", \"RootCA.pem\");\n",
    )
    .unwrap();
    let run = mtls_env(
        dir.path(),
        &["plan", "d.rhai", "--format", "json"],
        &moto.env(),
    )
    .success();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON plan");
    let actions: Vec<_> = plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| (a["op"].clone(), a["kind"].clone(), a["target"].clone()))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "delete".into(),
                "s3 object".into(),
                "s3://ts-bucket/RootCA.pem".into()
            ),
            ("delete".into(), "s3 bucket".into(), "ts-bucket".into()),
        ],
        "{}",
        run.stdout
    );
    assert!(
        moto.recorded_requests().is_empty(),
        "an offline plan called AWS"
    );
}
