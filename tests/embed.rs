//! The engine embedded without the CLI: the library API drives a run and returns its plan.

use crate::support;

use std::sync::{Arc, Mutex};

use mtls::effects::Op;
use mtls::{Mode, Runtime};
use support::moto::Moto;

#[test]
fn library_runs_a_script_in_plan_and_live_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let printed = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = printed.clone();
    let script = r#"
        let ca = gen_root_ca(#{ algorithm: "ecdsa-p256", subject: #{ CN: get_var("name") } });
        print(`${ca.status} ${ca.cert} ${ca.sha256}`);
    "#;

    let plan = Runtime::builder()
        .workdir(tmp.path())
        .var("name", "Embedded CA")
        .mode(Mode::PLAN)
        .on_print(move |s| sink.lock().unwrap().push(s.to_string()))
        .build()
        .run_source("embedded.rhai", script, None)
        .unwrap()
        .plan;
    assert_eq!(plan.summary.create, 2);
    assert!(plan.actions.iter().all(|a| a.op == Op::Create));
    assert_eq!(
        printed.lock().unwrap().as_slice(),
        ["create RootCA.pem (known after apply)"]
    );
    assert!(!tmp.path().join("RootCA.key").exists());

    let live = Runtime::builder()
        .workdir(tmp.path())
        .var("name", "Embedded CA")
        .on_print(|_| {})
        .build()
        .run_source("embedded.rhai", script, None)
        .unwrap()
        .plan;
    assert_eq!(live.summary.create, 2);
    let pem = std::fs::read_to_string(tmp.path().join("RootCA.pem")).unwrap();
    let info = mtls::pki::ParsedCert::from_pem("RootCA.pem", &pem)
        .unwrap()
        .info()
        .unwrap();
    assert_eq!(info.subject, "C=JP, ST=Tokyo, O=Example, CN=Embedded CA");
    assert_eq!(info.key_algorithm, "ECDSA P-256");
    assert!(info.is_ca);
}

/// A live run's progress lines go to the embedder's notice printer, never straight to
/// standard error (a service has no terminal to print on).
#[test]
fn progress_lines_reach_the_notice_printer() {
    let tmp = tempfile::tempdir().unwrap();
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = notices.clone();
    let script = r#"gen_root_ca(#{ algorithm: "ecdsa-p256", subject: #{ CN: "Progress CA" } });"#;
    Runtime::builder()
        .workdir(tmp.path())
        .mode(Mode::Live { progress: true })
        .on_notice(move |s| sink.lock().unwrap().push(s.to_string()))
        .build()
        .run_source("progress.rhai", script, None)
        .unwrap();
    let lines = notices.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("RootCA.key"), "{lines:?}");
    assert!(lines[1].contains("RootCA.pem"), "{lines:?}");
}

#[test]
fn library_errors_are_values_with_locations() {
    let err = Runtime::builder()
        .mode(Mode::PLAN)
        .build()
        .run_source("bad.rhai", "let x = get_var(\"missing\");", None)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bad.rhai:1:"), "{text}");
    assert!(text.contains("missing variable `missing`"), "{text}");
}

/// Runtime is Send, so an embedder can hand it to another thread or task.
#[test]
fn runtime_and_outcome_are_send() {
    fn send<T: Send>() {}
    send::<Runtime>();
    send::<mtls::Outcome>();
    send::<mtls::Error>();
}

/// An embedder (a service provisioning mTLS per tenant, say) runs scripts from inside its
/// own tokio runtime, several at once, each with its own folder and output. The scripts
/// reach AWS (moto), which used to panic with "Cannot start a runtime from within a runtime".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scripts_run_concurrently_inside_a_tokio_runtime() {
    let moto = Moto::start();
    let script = r#"
        let ca = gen_root_ca(#{ algorithm: "ecdsa-p256", subject: #{ CN: get_var("tenant") } });
        print(`${get_var("tenant")} ${aws_account_id()} ${ca.status}`);
    "#;
    let run = |dir: &std::path::Path, tenant: &str, out: Arc<Mutex<Vec<String>>>| {
        Runtime::builder()
            .workdir(dir)
            .var("tenant", tenant)
            .aws(moto.settings())
            .on_print(move |s| out.lock().unwrap().push(s.to_string()))
            .on_notice(|_| {})
            .build()
            .run_source_async("tenant.rhai", script, None)
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (out_a, out_b) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    );
    let (ra, rb) = tokio::join!(
        run(a.path(), "tenant-a", out_a.clone()),
        run(b.path(), "tenant-b", out_b.clone())
    );
    assert_eq!(ra.unwrap().plan.summary.create, 2);
    assert_eq!(rb.unwrap().plan.summary.create, 2);
    assert_eq!(
        out_a.lock().unwrap().as_slice(),
        ["tenant-a 123456789012 create"]
    );
    assert_eq!(
        out_b.lock().unwrap().as_slice(),
        ["tenant-b 123456789012 create"]
    );
    for (dir, cn) in [(&a, "tenant-a"), (&b, "tenant-b")] {
        let pem = std::fs::read_to_string(dir.path().join("RootCA.pem")).unwrap();
        let info = mtls::pki::ParsedCert::from_pem("RootCA.pem", &pem)
            .unwrap()
            .info()
            .unwrap();
        assert!(
            info.subject.ends_with(&format!("CN={cn}")),
            "{}",
            info.subject
        );
    }

    // The blocking API works from async code too: the run moves to a thread of its own.
    let c = tempfile::tempdir().unwrap();
    let outcome = Runtime::builder()
        .workdir(c.path())
        .var("tenant", "tenant-c")
        .aws(moto.settings())
        .on_print(|_| {})
        .build()
        .run_source("tenant.rhai", script, None)
        .unwrap();
    assert_eq!(outcome.plan.summary.create, 2);
}

/// A script that makes the hosted zone of `domain` (a step of the domain: its run holds
/// the domain's lock from before it starts until it ends).
const ZONE_SCRIPT: &str = r#"print(route53_ensure_zone_for(get_var("domain")).status);"#;

/// How many hosted zones moto was asked to make (Route 53 `CreateHostedZone`: a POST to
/// the hostedzone collection).
fn zones_made(moto: &Moto) -> usize {
    moto.requests_to("POST", "/2013-04-01/hostedzone").len()
}

fn lock_file_of(moto: &Moto, domain: &str) -> std::path::PathBuf {
    mtls::script::domain_lock_file(
        support::moto::ACCOUNT_ID,
        support::moto::REGION,
        Some(&moto.endpoint_url()),
        domain,
    )
    .unwrap()
}

/// Another process holds the domain's lock: an embedded run waits (says so, changes
/// nothing), proceeds once it is released, and leaves the lock free when it returns.
#[test]
fn an_embedded_run_waits_for_another_process_then_proceeds_and_frees_its_lock() {
    let moto = Moto::start();
    let domain = "embed-wait.example.com";
    let tmp = tempfile::tempdir().unwrap();
    let holder = support::locks::Holder::take(&lock_file_of(&moto, domain));
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = notices.clone();
    let (dir, settings) = (tmp.path().to_path_buf(), moto.settings());
    let run = std::thread::spawn(move || {
        Runtime::builder()
            .workdir(dir)
            .var("domain", domain)
            .aws(settings)
            .on_print(|_| {})
            .on_notice(move |s| sink.lock().unwrap().push(s.to_string()))
            .build()
            .run_source("zone.rhai", ZONE_SCRIPT, None)
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !notices
        .lock()
        .unwrap()
        .iter()
        .any(|n| n.contains("waiting"))
    {
        assert!(std::time::Instant::now() < deadline, "the run never waited");
        assert!(!run.is_finished(), "the run did not wait for the lock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Waiting, it has changed nothing.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!run.is_finished());
    assert_eq!(zones_made(&moto), 0);

    let path = holder.path.clone();
    drop(holder);
    let outcome = run.join().unwrap().unwrap();
    assert_eq!(outcome.plan.summary.create, 1);
    assert_eq!(zones_made(&moto), 1);
    assert!(
        !support::locks::is_locked(&path),
        "the run returned holding its lock"
    );
}

/// Two runs for one domain in one process exclude each other as two processes do: one
/// waits for the other, and the zone is made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_in_process_runs_for_one_domain_serialise() {
    let moto = Moto::start();
    let domain = "embed-twice.example.com";
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let run = |dir: &std::path::Path| {
        let sink = notices.clone();
        Runtime::builder()
            .workdir(dir)
            .var("domain", domain)
            .aws(moto.settings())
            .on_print(|_| {})
            .on_notice(move |s| sink.lock().unwrap().push(s.to_string()))
            .build()
            .run_source_async("zone.rhai", ZONE_SCRIPT, None)
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, rb) = tokio::join!(run(a.path()), run(b.path()));
    let ops: Vec<Op> = [ra.unwrap(), rb.unwrap()]
        .iter()
        .map(|o| o.plan.actions[0].op)
        .collect();
    assert!(
        ops.contains(&Op::Create) && ops.contains(&Op::Keep),
        "{ops:?}"
    );
    assert_eq!(zones_made(&moto), 1);
    let notices = notices.lock().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n.contains(&format!("is changing the resources of {domain}; waiting"))),
        "neither run waited for the other: {notices:?}"
    );
    assert!(!support::locks::is_locked(&lock_file_of(&moto, domain)));
}
