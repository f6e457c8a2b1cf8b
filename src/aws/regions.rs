//! Which regions exist: a region name that is well formed but unknown (`ap-northeast-9`)
//! is refused before the first AWS call, wherever it came from (`--region`, `AWS_REGION`,
//! the profile), instead of failing halfway through a run after other services accepted it.

use aws_config::meta::region::ProvideRegion;

use crate::aws::AwsSettings;

/// The regions AWS publishes, as listed in "AWS Regions and Availability Zones" (AWS
/// Regions guide, aws-regions.html and aws-region-billing-codes.html): the commercial
/// partition, then China (cn-*) and AWS GovCloud (US) (us-gov-*), each of which needs an
/// account of its own.
pub const PUBLISHED: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// The escape hatch for a region AWS opened after this release: a comma-separated list of
/// region names accepted in addition to [`PUBLISHED`].
pub const EXTRA_REGIONS_ENV: &str = "MTLS_EXTRA_REGIONS";

/// The problem with `region`, if any: a name that is not shaped like a region, or one AWS
/// has not published (and [`EXTRA_REGIONS_ENV`] does not name). The message says how to
/// allow a new region.
pub fn region_problem(region: &str) -> Option<String> {
    if let Some(problem) = crate::inputs::region_problem(region) {
        return Some(problem);
    }
    if PUBLISHED.contains(&region) || extra_regions().iter().any(|r| r == region) {
        return None;
    }
    Some(format!(
        "{region:?} is not an AWS region this version of mtls knows (the regions AWS \
         publishes: us-east-1, ap-northeast-1, ...); check for a typo, or, if AWS opened it \
         recently, allow it with {EXTRA_REGIONS_ENV}={region}"
    ))
}

/// The regions [`EXTRA_REGIONS_ENV`] allows.
fn extra_regions() -> Vec<String> {
    std::env::var(EXTRA_REGIONS_ENV)
        .unwrap_or_default()
        .split(',')
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect()
}

/// The region a run will use and where it was set, looked up as aws-config does but
/// without the network: `--region`, then `AWS_REGION` / `AWS_DEFAULT_REGION`, then the
/// `region` of the profile (`--profile`, `AWS_PROFILE` or `default`) in the shared config
/// files. `None` when none of them sets one (aws-config then asks the instance metadata
/// service, whose answer is AWS's own).
pub fn configured_region(settings: &AwsSettings) -> Option<(String, String)> {
    if let Some(r) = &settings.region {
        return Some(("--region".to_string(), r.clone()));
    }
    let env = ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|k| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| (k, v))
    });
    if let Some((k, v)) = env {
        return Some((k.to_string(), v));
    }
    profile_region(settings.profile.as_deref())
}

/// The `region` of the profile in the shared config files, read by aws-config's own
/// parser (so `AWS_CONFIG_FILE`, `AWS_PROFILE` and `[profile NAME]` mean what they mean to
/// the SDK).
fn profile_region(profile: Option<&str>) -> Option<(String, String)> {
    let mut builder = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = profile {
        builder = builder.profile_name(p);
    }
    let provider = builder.build();
    let load = || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(provider.region())
    };
    // A runtime cannot be started inside another one's context: an embedder's caller may
    // be in one, so the file is then read on a thread of its own.
    let region = if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| scope.spawn(load).join().ok().flatten())
    } else {
        load()
    }?;
    let name = profile
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_string());
    Some((
        format!("the region of profile {name:?}"),
        region.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_regions_pass_and_unknown_ones_name_the_escape_hatch() {
        for ok in [
            "us-east-1",
            "ap-northeast-1",
            "eu-central-2",
            "cn-north-1",
            "us-gov-west-1",
        ] {
            assert_eq!(region_problem(ok), None, "{ok}");
        }
        // Badly shaped: the shape rule's message.
        assert!(region_problem("us-east-1x")
            .unwrap()
            .contains("regions look like"));
        // Well formed, not published.
        let p = region_problem("ap-northeast-9").unwrap();
        assert!(p.contains("MTLS_EXTRA_REGIONS=ap-northeast-9"), "{p}");
        // Every published name is well formed.
        for r in PUBLISHED {
            assert_eq!(crate::inputs::region_problem(r), None, "{r}");
        }
    }

    #[tokio::test]
    async fn the_profile_is_read_from_inside_an_async_runtime_too() {
        // An embedder may check the region from async code: no nested-runtime panic.
        assert_eq!(profile_region(Some("mtls-test-no-such-profile")), None);
    }
}
