//! How AWS failures read: service, operation, AWS's code and message, and a help line.
mod support;

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
