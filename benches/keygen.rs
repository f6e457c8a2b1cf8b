//! Benchmark: RSA key generation, the slow part of `mtls run pki.rhai`, in mtls (rcgen on
//! aws-lc-rs, in process) against `openssl genrsa`; and whether the walkthrough's four
//! keys overlap on four threads as `pregen_keys` starts them: how much time the three RSA
//! 2048 keys add to the RSA 4096 one, in one thread and in four.
//!
//!     cargo bench --bench keygen         # ROUNDS=N to change the number of rounds (default 15)
//!
//! `openssl genrsa` is timed as a process, so its figure includes starting openssl:
//! `openssl version` is timed too, to show how much that is. RSA key generation searches
//! for random primes, so single timings vary a lot: medians, and the spread, are printed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mtls::pki::KeyAlgorithm;

fn openssl(args: &[&str]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    let elapsed = start.elapsed();
    assert!(status.success(), "openssl {args:?} failed");
    elapsed
}

fn generate(alg: KeyAlgorithm) -> Duration {
    let start = Instant::now();
    let key = alg.generate().expect("generate a key");
    let elapsed = start.elapsed();
    std::hint::black_box(key);
    elapsed
}

/// The walkthrough's four keys (RSA 4096 + 3 x RSA 2048), in one thread or in four.
/// Returns the total and the time the RSA 4096 key took by itself: the total minus that is
/// what the three RSA 2048 keys added (their sum in one thread, ~0 when they overlap).
fn four_keys(parallel: bool) -> (Duration, Duration) {
    let algs = [
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa2048,
    ];
    let start = Instant::now();
    let mut own = Vec::new();
    if parallel {
        let handles: Vec<_> = algs
            .iter()
            .map(|&a| std::thread::spawn(move || generate(a)))
            .collect();
        for h in handles {
            own.push(h.join().unwrap());
        }
    } else {
        for a in algs {
            own.push(generate(a));
        }
    }
    (start.elapsed(), own[0])
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    Stats {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

fn line(label: &str, s: &Stats) {
    println!(
        "{label:<44} median {:>7.1} ms   (min {:>7.1}, max {:>7.1})",
        s.median.as_secs_f64() * 1e3,
        s.min.as_secs_f64() * 1e3,
        s.max.as_secs_f64() * 1e3
    );
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15)
        .max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut t: [Vec<Duration>; 7] = Default::default();
    for round in 0..rounds {
        // Alternate which side goes first, so neither always gets the cooler machine.
        let pair = |a: &mut dyn FnMut(), b: &mut dyn FnMut()| {
            if round % 2 == 0 {
                a();
                b();
            } else {
                b();
                a();
            }
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        pair(&mut || x.push(generate(KeyAlgorithm::Rsa4096)), &mut || {
            y.push(openssl(&["genrsa", "-out", "k.key", "4096"]))
        });
        t[0].extend(x);
        t[1].extend(y);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        pair(&mut || x.push(generate(KeyAlgorithm::Rsa2048)), &mut || {
            y.push(openssl(&["genrsa", "-out", "k.key", "2048"]))
        });
        t[2].extend(x);
        t[3].extend(y);
        // What the three RSA 2048 keys add to the RSA 4096 one.
        let added = |(total, rsa4096): (Duration, Duration)| total.saturating_sub(rsa4096);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        pair(&mut || x.push(added(four_keys(false))), &mut || {
            y.push(added(four_keys(true)))
        });
        t[4].extend(x);
        t[5].extend(y);
        t[6].push(openssl(&["version"]));
    }
    println!("rounds: {rounds}, cores: {cores}");
    line(
        "aws-lc-rs RSA 4096 (mtls, in process)",
        &stats(t[0].clone()),
    );
    line("openssl genrsa 4096 (process)", &stats(t[1].clone()));
    line(
        "aws-lc-rs RSA 2048 (mtls, in process)",
        &stats(t[2].clone()),
    );
    line("openssl genrsa 2048 (process)", &stats(t[3].clone()));
    line("openssl version (process start)", &stats(t[6].clone()));
    line(
        "4 keys in one thread: added to the RSA 4096",
        &stats(t[4].clone()),
    );
    line(
        "4 keys, four threads: added to the RSA 4096",
        &stats(t[5].clone()),
    );
    let r = |a: &Vec<Duration>, b: &Vec<Duration>| {
        stats(a.clone()).median.as_secs_f64() / stats(b.clone()).median.as_secs_f64()
    };
    println!("ratio aws-lc-rs/openssl, RSA 4096: {:.2}", r(&t[0], &t[1]));
    println!("ratio aws-lc-rs/openssl, RSA 2048: {:.2}", r(&t[2], &t[3]));
}
