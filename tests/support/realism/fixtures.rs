//! Fixtures of the AWS tests: a PKI made once per process, what exists in moto
//! ([`Inventory`]) and the checks made of it, and a pool to run cases side by side.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::moto_client::{fqdn, moto_call, moto_zones};
use crate::support::moto::Moto;

/// A fresh working folder holding the walkthrough's keys and certificates for `domain`,
/// copied from a set made once per test process (key generation is the slow part of a
/// setup, and each test here runs several).
pub fn workdir_with_pki(domain: &str) -> tempfile::TempDir {
    static MADE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    static KEEP: OnceLock<Mutex<Vec<tempfile::TempDir>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let source = {
        let mut made = made.lock().unwrap();
        match made.get(domain) {
            Some(p) => p.clone(),
            None => {
                let dir = tempfile::tempdir().unwrap();
                crate::support::cli::mtls(
                    dir.path(),
                    &["run", "pki.rhai", "--var", &format!("domain={domain}")],
                )
                .success();
                let path = dir.path().to_path_buf();
                KEEP.get_or_init(Default::default).lock().unwrap().push(dir);
                made.insert(domain.to_string(), path.clone());
                path
            }
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for f in crate::support::cli::PKI_FILES {
        std::fs::copy(source.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// What exists in moto for `domain`, counted straight from moto.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Every public hosted zone of the account (names).
    pub zones: Vec<String>,
    /// REST APIs tagged for the domain (ids).
    pub apis: Vec<String>,
    /// Paths of the (first) tagged API.
    pub api_paths: Vec<String>,
    /// Whether its default endpoint is disabled, as moto stores it (read from moto's own
    /// JSON, not through mtls's wrapper: the convergence check must not share a bug of the
    /// code it checks).
    pub endpoint_disabled: bool,
    /// Its stages.
    pub stages: Vec<String>,
    /// Imported certificates tagged for the domain (ARNs).
    pub imported: Vec<String>,
    /// Requested certificates tagged for the domain (ARNs).
    pub requested: Vec<String>,
    /// Whether the custom domain exists, and its truststore version.
    pub domain: Option<Option<String>>,
    /// Its API mappings.
    pub mappings: usize,
}

impl Inventory {
    /// Reads it.
    pub fn of(moto: &Moto, domain: &str) -> Inventory {
        let port = moto.port();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let aws = rt
            .block_on(mtls::aws::Aws::connect(&moto.settings()))
            .unwrap();
        let mut inv = Inventory {
            zones: moto_zones(port)
                .into_iter()
                .filter(|z| !z.private)
                .map(|z| z.name)
                .collect(),
            ..Default::default()
        };
        let apis = rt
            .block_on(
                aws.apigateway().list_rest_apis(|a| {
                    a.tags.get("mtls:domain").map(String::as_str) == Some(domain)
                }),
            )
            .unwrap();
        inv.apis = apis.iter().map(|a| a.id.clone()).collect();
        if let Some(api) = apis.first() {
            inv.endpoint_disabled = endpoint_disabled_in_moto(port, &api.id);
            inv.api_paths = rt
                .block_on(aws.apigateway().resource_paths(&api.id))
                .unwrap();
            inv.stages = rt.block_on(aws.apigateway().stage_names(&api.id)).unwrap();
        }
        let mut by_domain = mtls::aws::Tags::new();
        by_domain.insert("mtls:domain".into(), domain.into());
        for c in rt
            .block_on(aws.acm().find_certificates(None, &by_domain))
            .unwrap()
        {
            match c.tags.get("mtls:role").map(String::as_str) {
                Some("server") => inv.imported.push(c.arn),
                Some("ownership-verification") => inv.requested.push(c.arn),
                _ => {}
            }
        }
        inv.domain = rt
            .block_on(aws.apigateway().domain_name(domain))
            .unwrap()
            .map(|d| d.truststore_version);
        if inv.domain.is_some() {
            let path = format!("/domainnames/{domain}/basepathmappings");
            if let Some((200, body)) = moto_call(port, "GET", &path, "apigateway", b"") {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                inv.mappings = v["item"].as_array().map_or(0, Vec::len);
            }
        }
        inv
    }

    /// What exists more than once (a run that is not over yet may still lack things).
    pub fn duplicates(&self) -> Vec<String> {
        let mut d = Vec::new();
        if self.zones.len() > 1 {
            d.push(format!("zones: {:?}", self.zones));
        }
        for (what, list) in [
            ("APIs tagged for the domain", &self.apis),
            ("imported certificates", &self.imported),
            ("requested certificates", &self.requested),
        ] {
            if list.len() > 1 {
                d.push(format!("{what}: {list:?}"));
            }
        }
        if self.stages.len() > 1 {
            d.push(format!("stages: {:?}", self.stages));
        }
        if self.mappings > 1 {
            d.push(format!("{} mappings", self.mappings));
        }
        d
    }

    /// Whether setup's work is whole, and made once: one zone, one API (with the PetStore
    /// definition, its default endpoint off, its stage), one imported and one requested
    /// certificate, one domain (with a truststore version), one mapping.
    pub fn problems(&self, zone: &str) -> Vec<String> {
        let mut p = Vec::new();
        let zones: Vec<&String> = self.zones.iter().collect();
        if zones != [&fqdn(zone)] {
            p.push(format!("zones: {zones:?}, want [{}]", fqdn(zone)));
        }
        if self.apis.len() != 1 {
            p.push(format!("{} APIs tagged for the domain", self.apis.len()));
        }
        if !self.api_paths.iter().any(|x| x == "/pets") {
            p.push(format!("the API has no /pets: {:?}", self.api_paths));
        }
        if !self.endpoint_disabled {
            p.push("the default endpoint is on".into());
        }
        if self.stages.len() != 1 {
            p.push(format!("stages: {:?}", self.stages));
        }
        if self.imported.len() != 1 {
            p.push(format!("imported certificates: {:?}", self.imported));
        }
        if self.requested.len() != 1 {
            p.push(format!("requested certificates: {:?}", self.requested));
        }
        match &self.domain {
            Some(Some(_)) => {}
            Some(None) => p.push("the domain has no truststore version".into()),
            None => p.push("no custom domain".into()),
        }
        if self.mappings != 1 {
            p.push(format!("{} mappings", self.mappings));
        }
        p
    }
}

/// `disableExecuteApiEndpoint` of REST API `api_id` as moto answers GetRestApi (false when
/// it cannot be read: the check then reports the endpoint on). moto stores what the patch
/// said (tests/support/moto.rs reads "true"/"false" as AWS does), so a run that sent
/// "false", or never sent the patch, shows here as an endpoint that is on.
fn endpoint_disabled_in_moto(port: u16, api_id: &str) -> bool {
    moto_call(
        port,
        "GET",
        &format!("/restapis/{api_id}"),
        "apigateway",
        b"",
    )
    .filter(|(status, _)| *status == 200)
    .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
    .is_some_and(|v| v["disableExecuteApiEndpoint"] == Value::Bool(true))
}

/// Asserts [`Inventory::problems`] is empty, printing `context` otherwise.
#[track_caller]
pub fn assert_converged(moto: &Moto, domain: &str, zone: &str, context: &str) {
    let inv = Inventory::of(moto, domain);
    let problems = inv.problems(zone);
    assert!(
        problems.is_empty(),
        "not one of each resource: {problems:?}\n{inv:#?}\n{context}"
    );
}

/// Two runs for one domain at the same time took turns: both succeeded, the account holds
/// exactly one of each resource, and one of them said it waited for the other's lock.
#[track_caller]
pub fn assert_took_turns(
    moto: &Moto,
    domain: &str,
    first: &std::process::Output,
    second: &std::process::Output,
    context: &str,
) {
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    for run in [first, second] {
        assert!(run.status.success(), "{}\n{context}", text(run));
    }
    assert_converged(moto, domain, domain, context);
    assert!(
        text(first).contains("waiting for it to finish")
            || text(second).contains("waiting for it to finish"),
        "neither run waited:\n{}\n{}",
        text(first),
        text(second)
    );
}

/// Runs `f` on each case, `workers` at a time, and returns each case's outcome in order
/// (a panic in `f` is that case's `Err`).
pub fn run_parallel<C: Sync, F>(cases: &[C], workers: usize, f: F) -> Vec<Result<String, String>>
where
    F: Fn(&C) -> Result<String, String> + Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<String, String>>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(case)))
                    .unwrap_or_else(|p| {
                        Err(p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panicked".to_string()))
                    });
                results.lock().unwrap()[i] = Some(out);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect()
}

/// How many cases run at once: `MTLS_TEST_WORKERS`, else 3.
pub fn workers() -> usize {
    std::env::var("MTLS_TEST_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}
