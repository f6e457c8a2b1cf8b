//! Benchmark: a fleet of ECDSA P-256 client certificates. In one run:
//!
//! 1. `mtls run issue_clients.rhai --var count=COUNT` in a fresh folder holding an ECDSA
//!    P-256 root CA (made once by mtls, copied into every folder), ROUNDS times;
//! 2. the openssl loop a user would write, per certificate `openssl genpkey -algorithm EC
//!    -pkeyopt ec_paramgen_curve:P-256`, `openssl req -new` and `openssl x509 -req -CA`,
//!    timed on SAMPLE certificates and scaled to COUNT (all of them take minutes);
//! 3. the machine's compute limit for the same work: COUNT x (one P-256 key generation +
//!    one P-256 signature) / cores, from `openssl speed -seconds SECONDS ecdsap256` (sign)
//!    and `ecdhp256` (as the key generation's cost; see below), times the cores;
//! 4. the file system's floor for the same files: 2 x COUNT files of a key's and a
//!    certificate's size written with mtls's own batch writer (temporary name, one
//!    `syncfs`, rename, folder sync) on every core, with no cryptography;
//! 5. the least file work any writer of two files per device does (Linux), in CPU time on
//!    one thread, added to the limit: 2 x COUNT empty files (names alone), and 2 x COUNT
//!    files that appear whole (`O_TMPFILE`, write, `linkat`), neither synced;
//! 6. mtls again in a memory file system (`SHM`, default /dev/shm, when it exists): what
//!    mtls itself adds to the cryptography, without the disk;
//! 7. `mtls run issue_clients.rhai --var count=BIG` once, against the limit for BIG.
//!
//!     cargo bench --bench fleet     # COUNT=10000 SAMPLE=300 ROUNDS=3 SECONDS=3 BIG=100000 MTLS_BIN= SHM=/dev/shm
//!
//! Key generation is not a test of `openssl speed` in OpenSSL 3.0. Two stand-ins are
//! printed: an ECDH P-256 operation (one variable-base scalar multiplication, more than a
//! key generation's fixed-base one: the generous limit) and an ECDSA P-256 signature (one
//! fixed-base scalar multiplication and an inversion: the closest in work, and the limit
//! the target is judged against).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The binary timed: cargo's release build, or `MTLS_BIN` (a copy, when other builds share
/// the target folder and may replace `target/release/mtls` during the run).
fn mtls_bin() -> String {
    std::env::var("MTLS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mtls").to_string())
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(cwd: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A fresh folder holding the CA.
fn folder_with_ca(ca: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(ca.parent().unwrap()).unwrap();
    for f in ["RootCA.pem", "RootCA.key"] {
        std::fs::copy(ca.join(f), dir.path().join(f)).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("RootCA.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    dir
}

/// Folders kept until every figure is printed: removing tens of thousands of files is slow
/// (minutes on a file system mounted with `discard`) and would load the disk under the
/// next measurement.
static KEEP: std::sync::Mutex<Vec<tempfile::TempDir>> = std::sync::Mutex::new(Vec::new());

fn keep(dir: tempfile::TempDir) {
    KEEP.lock().unwrap().push(dir);
}

/// `mtls run issue_clients.rhai --var count=N` in a fresh folder; checked (outside the
/// timing) by `openssl verify` of a sample and the manifest's length.
fn mtls_fleet(ca: &Path, count: usize) -> Duration {
    let dir = folder_with_ca(ca);
    let arg = format!("count={count}");
    let took = time(|| {
        run(
            dir.path(),
            &mtls_bin(),
            &["run", "issue_clients.rhai", "--var", &arg],
        );
    });
    let sample: Vec<String> = (1..=count)
        .step_by((count / 50).max(1))
        .map(|n| format!("device-{n}.pem"))
        .collect();
    let mut args = vec!["verify", "-x509_strict", "-CAfile", "RootCA.pem"];
    args.extend(sample.iter().map(String::as_str));
    let out = run(dir.path(), "openssl", &args);
    assert_eq!(out.matches(": OK").count(), sample.len(), "{out}");
    let manifest = std::fs::read_to_string(dir.path().join("device-manifest.csv")).unwrap();
    assert_eq!(manifest.lines().count(), count + 1);
    keep(dir);
    println!("  mtls run, {count} certificates: {} ms", took.as_millis());
    took
}

/// The openssl loop for `sample` certificates, in a fresh folder.
fn openssl_loop(ca: &Path, sample: usize) -> Duration {
    let dir = folder_with_ca(ca);
    let d = dir.path();
    let took = time(|| {
        for n in 1..=sample {
            let (key, csr, pem, subj) = (
                format!("device-{n}.key"),
                format!("device-{n}.csr"),
                format!("device-{n}.pem"),
                format!("/CN=device-{n}"),
            );
            run(
                d,
                "openssl",
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    &key,
                ],
            );
            run(
                d,
                "openssl",
                &["req", "-new", "-key", &key, "-subj", &subj, "-out", &csr],
            );
            run(
                d,
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "RootCA.pem",
                    "-CAkey",
                    "RootCA.key",
                    "-CAcreateserial",
                    "-days",
                    "365",
                    "-sha256",
                    "-out",
                    &pem,
                ],
            );
        }
    });
    let out = run(
        d,
        "openssl",
        &[
            "verify",
            "-CAfile",
            "RootCA.pem",
            &format!("device-{sample}.pem"),
        ],
    );
    assert!(out.contains(": OK"), "{out}");
    keep(dir);
    println!(
        "  openssl loop, {sample} certificates: {} ms",
        took.as_millis()
    );
    took
}

/// The file system's part: `count` pairs of files of a P-256 key's and a certificate's
/// size (241 and 684 bytes) through `mtls::workdir::Batch`, on every core, in a fresh folder.
fn io_floor(top: &Path, count: usize) -> Duration {
    use rayon::prelude::*;
    let dir = tempfile::tempdir_in(top).unwrap();
    let wd = mtls::workdir::Workdir::new(dir.path());
    let key = mtls::pki::SecretPem::new("k".repeat(241));
    let cert = vec![b'c'; 684];
    let took = time(|| {
        let batch = wd.batch("").unwrap();
        (1..=count).into_par_iter().for_each(|n| {
            let (k, c) = (format!("device-{n}.key"), format!("device-{n}.pem"));
            batch
                .stage(&[
                    (&k, mtls::workdir::BatchFile::Secret(&key), false),
                    (&c, mtls::workdir::BatchFile::Public(&cert), false),
                ])
                .unwrap();
        });
        batch.commit().unwrap();
    });
    keep(dir);
    println!(
        "  file system floor, {} files: {} ms",
        2 * count,
        took.as_millis()
    );
    took
}

/// How the least file work is measured: names alone, or names that appear whole.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy, PartialEq)]
enum FileWork {
    /// An empty file per name: no data, no rename, no sync.
    Names,
    /// The cheapest way for a file to appear under its name with its whole content: an
    /// unnamed file (`O_TMPFILE`) written, then linked to its name; no sync.
    WholeNames,
}

/// The least file work 2 x `count` files of a key's and a certificate's size take here, on
/// one thread (on 2 threads the same work costs nearly twice the CPU: creates in one folder
/// wait on the folder's lock, spinning), in a fresh folder. Returns the wall and CPU time.
#[cfg(target_os = "linux")]
fn least_file_work(top: &Path, count: usize, work: FileWork) -> (Duration, Duration) {
    use std::ffi::CString;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};
    let dir = tempfile::tempdir_in(top).unwrap();
    let d = dir.path();
    let folder = std::fs::File::open(d).unwrap();
    let (key, cert) = (vec![b'k'; 241], vec![b'c'; 684]);
    let cpu_before = thread_cpu_time();
    let took = time(|| {
        for n in 1..=count {
            for (ext, bytes) in [("key", &key), ("pem", &cert)] {
                let name = format!("device-{n}.{ext}");
                if work == FileWork::Names {
                    std::fs::File::create_new(d.join(&name)).unwrap();
                    continue;
                }
                // SAFETY: open(2) of a NUL-terminated path; the descriptor is owned below.
                let fd = unsafe {
                    libc::openat(
                        folder.as_raw_fd(),
                        c".".as_ptr(),
                        libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
                        0o600,
                    )
                };
                assert!(fd >= 0, "O_TMPFILE: {}", std::io::Error::last_os_error());
                // SAFETY: fd was just opened and is owned by nothing else.
                let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
                file.write_all(bytes).unwrap();
                let from = CString::new(format!("/proc/self/fd/{fd}")).unwrap();
                let to = CString::new(name).unwrap();
                // SAFETY: linkat(2) with NUL-terminated paths and an open folder descriptor.
                let rc = unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        from.as_ptr(),
                        folder.as_raw_fd(),
                        to.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                };
                assert_eq!(rc, 0, "linkat: {}", std::io::Error::last_os_error());
            }
        }
    });
    let cpu = thread_cpu_time() - cpu_before;
    keep(dir);
    let what = match work {
        FileWork::Names => "names alone (empty files)",
        FileWork::WholeNames => "whole names (O_TMPFILE + write + linkat)",
    };
    println!(
        "  {what}, {} files, one thread: {} ms wall, {} ms CPU",
        2 * count,
        took.as_millis(),
        cpu.as_millis()
    );
    (took, cpu)
}

/// User + system CPU time of the calling thread so far.
#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) },
        0
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Seconds per operation that `openssl speed` reports for the first `column` of `row`.
fn speed(args: &[&str], row: &str, column: usize) -> f64 {
    let out = run(Path::new("."), "openssl", args);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(row))
        .unwrap_or_else(|| panic!("no {row:?} line in:\n{out}"));
    // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  41000.0  12000.0": the times, then ops/s.
    let fields: Vec<&str> = line.split_whitespace().collect();
    let times: Vec<f64> = fields
        .iter()
        .filter_map(|f| f.strip_suffix('s').and_then(|t| t.parse().ok()))
        .collect();
    let rates: Vec<f64> = fields
        .iter()
        .rev()
        .take_while(|f| f.parse::<f64>().is_ok())
        .filter_map(|f| f.parse().ok())
        .collect::<Vec<f64>>()
        .into_iter()
        .rev()
        .collect();
    // Rates are more precise than the rounded times.
    rates
        .get(column)
        .map(|r| 1.0 / r)
        .or_else(|| times.get(column).copied())
        .unwrap_or_else(|| panic!("cannot read {line:?}"))
}

fn main() {
    let count = env_num("COUNT", 10_000);
    let sample = env_num("SAMPLE", 300);
    let rounds = env_num("ROUNDS", 3);
    let seconds = env_num("SECONDS", 3).to_string();
    let big = env_num("BIG", 100_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The CA, made by mtls once (ECDSA P-256: the compute limit counts P-256 signatures).
    let top = tempfile::tempdir().unwrap();
    let ca = top.path().join("ca");
    std::fs::create_dir(&ca).unwrap();
    std::fs::write(
        ca.join("ca.rhai"),
        "gen_root_ca(#{ algorithm: \"ecdsa-p256\" });\n",
    )
    .unwrap();
    run(&ca, &mtls_bin(), &["run", "ca.rhai"]);

    println!("fleet bench: COUNT={count} SAMPLE={sample} ROUNDS={rounds} SECONDS={seconds} BIG={big}, {cores} cores");
    println!("  mtls:    {} run issue_clients.rhai --var count={count}  (fresh folder, ECDSA P-256 CA and clients)", mtls_bin());
    println!("  openssl: per certificate genpkey EC P-256 + req -new + x509 -req -CA  ({sample} timed, scaled to {count})");

    // mtls and the openssl sample alternate, so neither gets a quieter machine.
    let mut mtls_times = Vec::new();
    let mut loop_times = Vec::new();
    for round in 0..rounds {
        if round % 2 == 0 {
            mtls_times.push(mtls_fleet(&ca, count));
            loop_times.push(openssl_loop(&ca, sample));
        } else {
            loop_times.push(openssl_loop(&ca, sample));
            mtls_times.push(mtls_fleet(&ca, count));
        }
    }
    let io = median((0..rounds).map(|_| io_floor(top.path(), count)).collect()).as_secs_f64();
    #[cfg(target_os = "linux")]
    let least = |work| {
        let runs: Vec<(Duration, Duration)> = (0..rounds)
            .map(|_| least_file_work(top.path(), count, work))
            .collect();
        (
            median(runs.iter().map(|r| r.0).collect()).as_secs_f64(),
            median(runs.iter().map(|r| r.1).collect()).as_secs_f64(),
        )
    };
    #[cfg(target_os = "linux")]
    let (names, whole) = (least(FileWork::Names), least(FileWork::WholeNames));
    // mtls in a memory file system (no disk), when there is one: what mtls itself adds.
    let shm = Path::new(&std::env::var("SHM").unwrap_or_else(|_| "/dev/shm".into())).to_path_buf();
    let in_memory = shm.is_dir().then(|| {
        let top = tempfile::tempdir_in(&shm).unwrap();
        let ca_copy = top.path().join("ca");
        std::fs::create_dir(&ca_copy).unwrap();
        for f in ["RootCA.pem", "RootCA.key"] {
            std::fs::copy(ca.join(f), ca_copy.join(f)).unwrap();
        }
        let t = median((0..rounds).map(|_| mtls_fleet(&ca_copy, count)).collect()).as_secs_f64();
        keep(top);
        t
    });
    let mtls_t = median(mtls_times.clone()).as_secs_f64();
    let loop_sample = median(loop_times).as_secs_f64();
    let loop_t = loop_sample * count as f64 / sample as f64;

    let sign = speed(
        &["speed", "-seconds", &seconds, "ecdsap256"],
        "256 bits ecdsa",
        0,
    );
    let ecdh = speed(
        &["speed", "-seconds", &seconds, "ecdhp256"],
        "256 bits ecdh",
        0,
    );
    // One key generation + one signature per certificate, on every core.
    let limit = |n: usize, keygen: f64| n as f64 * (keygen + sign) / cores as f64;
    let limit_sign = limit(count, sign);
    let limit_ecdh = limit(count, ecdh);

    let ms = |s: f64| s * 1e3;
    println!();
    println!(
        "openssl speed (one core): ECDSA P-256 sign {:.1} us, ECDH P-256 {:.1} us",
        sign * 1e6,
        ecdh * 1e6
    );
    println!(
        "compute limit for {count}: {:.0} ms (keygen as a signature), {:.0} ms (keygen as an ECDH)",
        ms(limit_sign),
        ms(limit_ecdh)
    );
    println!(
        "mtls run, {count} certificates: median {:.0} ms (rounds: {:?} ms)",
        ms(mtls_t),
        mtls_times.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
    );
    println!(
        "openssl loop: {:.0} ms for {sample}, {:.1} ms per certificate, {:.0} s scaled to {count}",
        ms(loop_sample),
        ms(loop_sample) / sample as f64,
        loop_t
    );
    println!(
        "mtls / openssl loop = 1/{:.0}  (target: 1/200 or less: {})",
        loop_t / mtls_t,
        if loop_t / mtls_t >= 200.0 {
            "met"
        } else {
            "missed"
        }
    );
    println!(
        "mtls / compute limit = {:.2} (keygen as a signature; target <= 2: {}), {:.2} (keygen as an ECDH)",
        mtls_t / limit_sign,
        if mtls_t / limit_sign <= 2.0 { "met" } else { "missed" },
        mtls_t / limit_ecdh
    );
    println!(
        "file system floor: {} files through mtls's batch writer (no crypto): median {:.0} ms = {:.2} x the compute limit",
        2 * count,
        ms(io),
        io / limit_sign
    );
    println!(
        "mtls / (compute limit + file system floor) = {:.2}",
        mtls_t / (limit_sign + io)
    );
    // The same cores do the cryptography and the kernel's work for the files, so no program
    // can take less than (limit x cores + that CPU) / cores, even with every core busy
    // throughout; syncing the data adds to it.
    #[cfg(target_os = "linux")]
    for ((wall, cpu), what) in [
        (names, "names alone (empty files, no data, no sync)"),
        (whole, "whole names (O_TMPFILE + write + linkat, no sync)"),
    ] {
        let bound = (limit_sign * cores as f64 + cpu) / cores as f64;
        println!(
            "{what}, {} files, one thread: median {:.0} ms wall, {:.0} ms CPU; least a writer of these takes with the cryptography: {:.0} ms = {:.2} x the compute limit",
            2 * count,
            ms(wall),
            ms(cpu),
            ms(bound),
            bound / limit_sign
        );
    }
    if let Some(t) = in_memory {
        println!(
            "mtls run, {count} certificates in a memory file system ({}): median {:.0} ms = {:.2} x the compute limit",
            shm.display(),
            ms(t),
            t / limit_sign
        );
    }

    if big > 0 {
        let big_t = mtls_fleet(&ca, big).as_secs_f64();
        println!(
            "mtls run, {big} certificates: {:.0} ms; compute limit {:.0} ms (signature) / {:.0} ms (ECDH); ratio {:.2} / {:.2}; openssl loop scaled {:.0} s, 1/{:.0}",
            ms(big_t),
            ms(limit(big, sign)),
            ms(limit(big, ecdh)),
            big_t / limit(big, sign),
            big_t / limit(big, ecdh),
            loop_sample * big as f64 / sample as f64,
            loop_sample * big as f64 / sample as f64 / big_t
        );
    }
    println!("(removing the folders made; not measured)");
}
