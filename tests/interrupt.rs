//! Ctrl-C during a run: the run stops where it is, says where, and what it had done.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn ctrl_c_stops_the_run_and_says_where_and_what_was_done() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flow.rhai"),
        // Each turn reads and parses a file: slow enough that the operation limit is far off.
        // No property access in the loop: Rhai gives no position to a stop inside one. The
        // loop runs only once the certificate exists: in the run, not in its plan. "ready" is
        // printed from inside the loop (line 5), so the Ctrl-C cannot land before it.
        "let root = gen_root_ca(#{ algorithm: \"ecdsa-p256\" });\nlet cert = root.cert;\nlet ready = false;\nif file_exists(cert) {\n    loop { inspect_cert(cert); if !ready { print(\"ready\"); ready = true; } }\n}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(["run", "flow.rhai"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // A bounded wait: the loop would otherwise run into the operation limit much later.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "mtls did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C)"), "{stderr}");
    assert!(stderr.contains("flow.rhai:5"), "where: {stderr}");
    assert!(
        stderr.contains("+ created private key RootCA.key"),
        "what was done: {stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
    // What was made is whole: the key is there, 0600, and no temporary file is left.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    assert!(names.contains(&"RootCA.key".to_string()), "{names:?}");
}
