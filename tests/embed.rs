//! The engine embedded without the CLI: the library API drives a run and returns its plan.

use std::cell::RefCell;
use std::rc::Rc;

use mtls::effects::Op;
use mtls::{Mode, Runtime};

#[test]
fn library_runs_a_script_in_plan_and_live_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let printed = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = printed.clone();
    let script = r#"
        let ca = gen_root_ca(#{ algorithm: "ecdsa-p256", subject: #{ CN: get_var("name") } });
        print(`${ca.status} ${ca.cert} ${ca.sha256}`);
    "#;

    let plan = Runtime::builder()
        .workdir(tmp.path())
        .var("name", "Embedded CA")
        .mode(Mode::Plan)
        .on_print(move |s| sink.borrow_mut().push(s.to_string()))
        .build()
        .run_source("embedded.rhai", script, None)
        .unwrap()
        .plan;
    assert_eq!(plan.summary.create, 2);
    assert!(plan.actions.iter().all(|a| a.op == Op::Create));
    assert_eq!(
        printed.borrow().as_slice(),
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
