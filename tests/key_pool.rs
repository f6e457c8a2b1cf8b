//! `pregen_key` generates keys in the background on a pool of one thread per core, not on
//! an OS thread per key: a script may ask for many.

use std::process::{Command, Stdio};
use std::time::Duration;

/// The threads `pid` has now (0 once it has ended).
fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn many_pregenerated_keys_share_a_pool_of_one_thread_per_core() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let keys = cores + 40;
    let tmp = tempfile::tempdir().unwrap();
    // RSA-4096 keys take a second or more each: while the script makes one more key of its
    // own (not pregenerated), the pregenerated ones are still being made, and the process
    // shows how many threads make them.
    let script = format!(
        r#"for i in 0..{keys} {{ pregen_key(`k${{i}}.key`, "rsa4096"); }}
        gen_root_ca(#{{ algorithm: "rsa4096", subject: #{{ CN: "Pool" }} }});"#
    );
    std::fs::write(tmp.path().join("pool.rhai"), script).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(["run", "pool.rhai"])
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut most = 0;
    while child.try_wait().unwrap().is_none() {
        most = most.max(threads_of(child.id()));
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(most > 0, "the run was never seen");
    // The main thread, the pool, and a few of the runtime's own: far fewer than the keys.
    assert!(
        most < cores + 20,
        "{most} threads for {keys} pregenerated keys on {cores} cores"
    );
}
