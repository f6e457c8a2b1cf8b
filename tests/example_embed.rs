//! `examples/embed.rs`, the embedding program the library docs point to, run as a user
//! would (`cargo run --example embed`) against moto: its plan reads AWS without changing
//! it, `--apply` makes the walkthrough, and its next plan finds nothing to change.

use std::process::Command;

use crate::support::moto::Moto;

/// `cargo run --example embed -- ARGS` with moto's environment; (success, stdout, stderr).
fn example(moto: &Moto, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--locked", "--example", "embed", "--"])
        .args(args)
        .envs(moto.env())
        .env("NO_COLOR", "1")
        .output()
        .expect("cargo run --example embed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mutating(moto: &Moto) -> usize {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .count()
}

#[test]
fn the_embedding_example_plans_applies_and_converges() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let dir = dir.to_str().unwrap();

    let (ok, plan, err) = example(&moto, &["api.example.com", dir]);
    assert!(ok, "{plan}\n{err}");
    assert!(plan.contains("+ api custom domain"), "{plan}");
    assert_eq!(mutating(&moto), 0, "a plan changed AWS:\n{plan}");

    let (ok, out, err) = example(&moto, &["api.example.com", dir, "--apply", "probe=false"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Applied: "), "{out}");
    assert_eq!(moto.requests_to("POST", "/domainnames").len(), 1, "{out}");

    moto.reset_recording();
    let (ok, again, err) = example(&moto, &["api.example.com", dir, "probe=false"]);
    assert!(ok, "{again}\n{err}");
    assert!(again.contains("0 to create, 0 to update"), "{again}");
    assert_eq!(mutating(&moto), 0, "{again}");
}
