//! How AWS failures read: service, operation, AWS's code and message, and a help line.
use crate::support;

use miette::Diagnostic;
use mtls::aws::{local_code, Aws, AwsSettings};
use support::moto::{set_process_env, Moto};

#[tokio::test]
async fn a_missing_certificate_names_service_operation_and_message() {
    let moto = Moto::start();
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000";
    let err = aws
        .acm()
        .describe(arn)
        .await
        .expect_err("no such certificate");
    assert_eq!(err.service, "acm");
    assert_eq!(err.operation, "DescribeCertificate");
    assert_eq!(err.code.as_deref(), Some("ResourceNotFoundException"));
    assert!(err.message.contains(arn), "{}", err.message);
    assert!(err.is_not_found());
    let text = err.to_string();
    assert!(
        text.starts_with("acm DescribeCertificate: ResourceNotFoundException: "),
        "{text}"
    );
    assert!(err.help().is_some(), "a not-found error says what to check");
    let rendered = format!("{:?}", miette::Report::new(err));
    // miette wraps long lines, so look for words, not the whole ARN.
    for part in [
        "aws::acm::DescribeCertificate",
        "ResourceNotFoundException",
        "not found",
        "help:",
    ] {
        assert!(rendered.contains(part), "{part:?} missing from {rendered}");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_says_so() {
    set_process_env();
    // A port nobody listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let settings = AwsSettings {
        profile: None,
        region: Some("us-east-1".to_string()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
    };
    let aws = Aws::connect(&settings).await.expect("connect is lazy");
    let err = aws.account_id().await.expect_err("nothing listens");
    assert_eq!((err.service, err.operation), ("sts", "GetCallerIdentity"));
    assert_eq!(err.code.as_deref(), Some(local_code::UNREACHABLE), "{err}");
    assert!(err.message.contains("could not be reached"), "{err}");
    assert!(err
        .help()
        .map(|h| h.to_string())
        .unwrap_or_default()
        .contains("AWS_ENDPOINT_URL"));
}

#[test]
fn common_aws_codes_have_help() {
    for code in [
        "AccessDenied",
        "BucketAlreadyExists",
        local_code::NO_CREDENTIALS,
        local_code::NO_REGION,
    ] {
        let err = mtls::aws::AwsError {
            service: "s3",
            operation: "CreateBucket",
            code: Some(code.to_string()),
            message: "m".to_string(),
            status: None,
        };
        assert!(err.help().is_some(), "{code} has no help");
    }
}

/// Runs in a child process started by `missing_credentials_say_what_to_do`, whose environment
/// holds no credentials at all.
#[tokio::test]
#[ignore = "started by missing_credentials_say_what_to_do with a clean environment"]
async fn child_without_credentials() {
    let settings = AwsSettings {
        profile: None,
        region: Some("us-east-1".to_string()),
        endpoint_url: Some("http://127.0.0.1:9".to_string()),
    };
    let aws = Aws::connect(&settings).await.expect("connect");
    let err = aws.account_id().await.expect_err("no credentials");
    println!("CODE={}", err.code.as_deref().unwrap_or("-"));
    println!(
        "HELP={}",
        err.help().map(|h| h.to_string()).unwrap_or_default()
    );
}

#[test]
fn missing_credentials_say_what_to_do() {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe);
    child.args([
        "--ignored",
        "--exact",
        "aws_errors::child_without_credentials",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            child.env_remove(key);
        }
    }
    // No shared files, and no instance metadata (a call off this machine).
    child
        .env("AWS_CONFIG_FILE", "/nonexistent/mtls-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/mtls-test/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let out = child.output().expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("CODE={}", local_code::NO_CREDENTIALS)),
        "{stdout}"
    );
    assert!(stdout.contains("aws sso login"), "{stdout}");
}
