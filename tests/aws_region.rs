//! The region, wherever it comes from (`--region`, `AWS_REGION`, the profile), is checked
//! before the first file is written and the first AWS call is made: a malformed one
//! (`us-east-1x`) and a well-formed one AWS does not have (`ap-northeast-9`) stop the run
//! with nothing recorded by moto. And with no region anywhere, the user reads one error,
//! not the SDK's warnings about the instance metadata service.

use crate::support;

use std::path::Path;

use support::cli::{mtls_env_unset, Run, SetupArgs};
use support::moto::Moto;
use support::realism::workdir_with_pki;

/// `mtls ARGS` in `dir` against `moto` with no region in the environment, plus `extra`.
fn mtls_without_region(moto: &Moto, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let mut env = moto.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let unset: Vec<&str> = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter(|k| !extra.iter().any(|(e, _)| e == k))
        .collect();
    mtls_env_unset(dir, args, &env, &unset)
}

/// `mtls run setup.rhai` as [`support::cli::run_setup`] runs it, without a region.
fn setup_without_region(moto: &Moto, dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Run {
    let args = SetupArgs::run().args(extra_args);
    mtls_without_region(moto, dir, &args.to_vec(), env)
}

/// A shared config file in `dir` whose `profile` sets `region`.
fn config_file(dir: &Path, profile: &str, region: &str) -> String {
    let section = if profile == "default" {
        "[default]".to_string()
    } else {
        format!("[profile {profile}]")
    };
    let path = dir.join("config");
    std::fs::write(&path, format!("{section}\nregion = {region}\n")).unwrap();
    path.display().to_string()
}

/// The run failed, naming `region` and `source`, and moto saw no request at all.
#[track_caller]
fn refused_before_aws(run: &Run, moto: &Moto, region: &str, source: &str) {
    assert!(!run.status.success(), "{}", run.all());
    assert!(run.stderr.contains(region), "{}", run.stderr);
    assert!(run.stderr.contains(source), "{}", run.stderr);
    let requests: Vec<String> = moto
        .recorded_requests()
        .iter()
        .map(|r| r.describe())
        .collect();
    assert!(
        requests.is_empty(),
        "AWS was called: {requests:?}\n{}",
        run.all()
    );
}

#[test]
fn a_malformed_region_from_the_profile_stops_setup_before_any_call() {
    let moto = Moto::start();
    let dir = workdir_with_pki("api.example.com");
    let etc = tempfile::tempdir().unwrap();
    let config = config_file(etc.path(), "default", "us-east-1x");
    let run = setup_without_region(&moto, dir.path(), &[], &[("AWS_CONFIG_FILE", &config)]);
    refused_before_aws(
        &run,
        &moto,
        "us-east-1x",
        "the region of profile \"default\"",
    );
    assert!(run.stderr.contains("regions look like"), "{}", run.stderr);
}

#[test]
fn an_unknown_region_from_a_named_profile_stops_setup_before_any_file_or_call() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let etc = tempfile::tempdir().unwrap();
    let config = config_file(etc.path(), "tokyo9", "ap-northeast-9");
    let env = [("AWS_CONFIG_FILE", config.as_str())];
    let run = setup_without_region(&moto, dir.path(), &["--profile", "tokyo9"], &env);
    refused_before_aws(
        &run,
        &moto,
        "ap-northeast-9",
        "the region of profile \"tokyo9\"",
    );
    assert!(
        run.stderr.contains("MTLS_EXTRA_REGIONS=ap-northeast-9"),
        "the error does not say how to allow a new region:\n{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "files were written before the region was checked"
    );
}

#[test]
fn an_unknown_region_from_the_flag_or_the_environment_is_refused_and_can_be_allowed() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let run = setup_without_region(&moto, dir.path(), &["--region", "ap-northeast-9"], &[]);
    refused_before_aws(&run, &moto, "ap-northeast-9", "--region");
    let env = [("AWS_REGION", "ap-northeast-9")];
    let run = setup_without_region(&moto, dir.path(), &[], &env);
    refused_before_aws(&run, &moto, "ap-northeast-9", "AWS_REGION");

    // The escape hatch: a region AWS opened after this release is accepted when named.
    let env = [
        ("AWS_REGION", "ap-northeast-9"),
        ("MTLS_EXTRA_REGIONS", "eu-west-9, ap-northeast-9"),
    ];
    let args = SetupArgs::plan().with_probe();
    let plan = mtls_without_region(&moto, dir.path(), &args.to_vec(), &env);
    assert!(plan.status.success(), "{}", plan.all());
    assert!(plan.stdout.contains("ap-northeast-9"), "{}", plan.stdout);
}

/// The library refuses the region too, wherever the SDK found it (here: the settings), so
/// an embedding program cannot reach AWS with one.
#[test]
fn connecting_with_an_unknown_region_is_an_error() {
    support::moto::set_process_env();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings = mtls::aws::AwsSettings {
        region: Some("ap-northeast-9".into()),
        ..Default::default()
    };
    let Err(err) = rt.block_on(mtls::aws::Aws::connect(&settings)) else {
        panic!("connected to AWS with the region ap-northeast-9");
    };
    assert_eq!(
        err.code.as_deref(),
        Some(mtls::aws::local_code::INVALID_REGION)
    );
    assert!(err.message.contains("MTLS_EXTRA_REGIONS"), "{err}");
}

/// With no region set anywhere, aws-config asks the instance metadata service (here a
/// loopback port nobody listens on, as off EC2): the user sees mtls's one error, not the
/// SDK's multi-line WARN records about each failed attempt.
#[test]
fn without_a_region_the_refresh_plan_prints_one_error_and_no_imds_warnings() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let imds = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let env = [
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
    ];
    let args = SetupArgs::plan().with_probe().args(&["--refresh"]);
    let plan = mtls_without_region(&moto, dir.path(), &args.to_vec(), &env);
    assert!(!plan.status.success(), "{}", plan.all());
    assert!(plan.stderr.contains("no region is set"), "{}", plan.stderr);
    assert!(!plan.stderr.contains("WARN"), "{}", plan.stderr);
    assert!(!plan.stderr.contains("imds"), "{}", plan.stderr);
    assert_eq!(
        plan.stderr.matches("no region is set").count(),
        1,
        "{}",
        plan.stderr
    );
}
