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
        .mode(Mode::Plan)
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

#[test]
fn library_errors_are_values_with_locations() {
    let err = Runtime::builder()
        .mode(Mode::Plan)
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
