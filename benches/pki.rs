//! Benchmark: `mtls run pki.rhai` against the article's twelve openssl commands (ARTICLE.md
//! steps 2-5), and `mtls plan pki.rhai` against `mtls --version`, in one run.
//!
//!     cargo bench --bench pki            # ROUNDS=N to change the number of rounds (default 9)
//!
//! Each round runs `mtls run` and the openssl recipe once each, in fresh temporary folders,
//! alternating order so neither profits from a warmer machine, checks that both made the
//! same four keys (RSA 4096 root, RSA 2048 others) and four certificates, then times
//! `mtls plan` and `mtls --version` in alternating pairs. Reported: the median wall time of
//! each and the ratios, then where plan's time goes, measured in this process. Key
//! generation is random (prime search), so medians over many rounds matter.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MTLS: &str = env!("CARGO_BIN_EXE_mtls");
const DOMAIN: &str = "api.example.com";
/// `mtls plan` / `mtls --version` pairs timed per round.
const PLAN_PAIRS: usize = 5;

fn run(cwd: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// The article's recipe, command for command (subjects as in the walkthrough): `openssl
/// version`, the self-signed root, then genrsa + req + x509 for each certificate, in the
/// article's order (client, intermediate, server). Twelve commands.
fn openssl_recipe(dir: &Path) {
    let subj = |cn: &str| format!("/C=JP/ST=Tokyo/O=Example/CN={cn}");
    run(dir, "openssl", &["version"]);
    run(dir, "openssl", &["genrsa", "-out", "RootCA.key", "4096"]);
    let root_subj = subj("ca");
    run(
        dir,
        "openssl",
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "36500",
            "-key",
            "RootCA.key",
            "-out",
            "RootCA.pem",
            "-subj",
            &root_subj,
        ],
    );
    // (name, common name, issuer): each signed as the article does, with `-set_serial 01`.
    for (name, cn, ca) in [
        ("client", "client", "RootCA"),
        ("inca", "inca", "RootCA"),
        ("server", DOMAIN, "inca"),
    ] {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        let cn_subj = subj(cn);
        run(dir, "openssl", &["genrsa", "-out", &key, "2048"]);
        run(
            dir,
            "openssl",
            &["req", "-new", "-key", &key, "-out", &csr, "-subj", &cn_subj],
        );
        run(
            dir,
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-set_serial",
                "01",
                "-out",
                &pem,
                "-days",
                "36500",
                "-sha256",
            ],
        );
    }
}

/// Both contenders must have made the same four keys (RSA 4096 root, RSA 2048 others) and
/// four certificates; checked after each timed run, outside the timing.
fn check_outputs(dir: &Path, who: &str) {
    for (name, bits) in [
        ("RootCA", 4096),
        ("client", 2048),
        ("inca", 2048),
        ("server", 2048),
    ] {
        let cert = dir.join(format!("{name}.pem"));
        assert!(cert.is_file(), "{who} made no {name}.pem");
        let out = Command::new("openssl")
            .args(["pkey", "-noout", "-text_pub", "-in"])
            .arg(dir.join(format!("{name}.key")))
            .output()
            .expect("run openssl pkey");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(&format!("({bits} bit)")),
            "{who}: {name}.key is not an RSA {bits} key"
        );
    }
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

/// Median time of `f` over `n` calls, in this process.
fn in_process(n: usize, mut f: impl FnMut()) -> Duration {
    median((0..n).map(|_| time(&mut f)).collect())
}

/// Where `mtls plan pki.rhai`'s time goes beyond starting a process, measured in this
/// process (no exec, no dynamic linking): a bare Rhai engine, the engine with every
/// primitive registered, compiling the bundled stdlib, and the whole plan.
fn plan_breakdown() {
    let n = 50;
    let bare = in_process(n, || {
        std::hint::black_box(rhai::Engine::new());
    });
    let registered = in_process(n, || {
        std::hint::black_box(mtls::script::primitive_docs());
    });
    let files = mtls::script::stdlib_files(None, None).unwrap();
    let engine = rhai::Engine::new();
    let compile = in_process(n, || {
        for f in &files {
            std::hint::black_box(engine.compile(&f.source).unwrap());
        }
    });
    // The only stdlib file pki.rhai reaches.
    let pki_lib = files
        .iter()
        .find(|f| f.name.ends_with("stdlib/pki.rhai"))
        .expect("the bundled stdlib/pki.rhai");
    let compile_pki = in_process(n, || {
        std::hint::black_box(engine.compile(&pki_lib.source).unwrap());
    });
    let dir = tempfile::tempdir().unwrap();
    let whole = in_process(n, || {
        mtls::Runtime::builder()
            .mode(mtls::Mode::PLAN)
            .workdir(dir.path())
            .var("domain", DOMAIN)
            .on_print(|_| {})
            .build()
            .run_bundled("pki.rhai")
            .unwrap();
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("where plan's time goes (in process, median of {n}):");
    println!(
        "  rhai::Engine::new():                       {:>6.2} ms",
        ms(bare)
    );
    println!(
        "  engine + all primitives (primitive_docs):  {:>6.2} ms",
        ms(registered)
    );
    println!(
        "  compile all {} bundled stdlib files:        {:>6.2} ms",
        files.len(),
        ms(compile)
    );
    println!(
        "  compile stdlib/pki.rhai only:               {:>6.2} ms",
        ms(compile_pki)
    );
    println!(
        "  the whole plan of pki.rhai:                {:>6.2} ms",
        ms(whole)
    );
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let var = format!("domain={DOMAIN}");
    let (mut openssl, mut mtls_run, mut mtls_plan, mut version) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let measure_mtls = || time(|| run(b.path(), MTLS, &["run", "pki.rhai", "--var", &var]));
        let measure_openssl = || time(|| openssl_recipe(a.path()));
        if round % 2 == 0 {
            openssl.push(measure_openssl());
            mtls_run.push(measure_mtls());
        } else {
            mtls_run.push(measure_mtls());
            openssl.push(measure_openssl());
        }
        check_outputs(a.path(), "openssl");
        check_outputs(b.path(), "mtls");
        // Both take milliseconds: several alternating pairs per round.
        for pair in 0..PLAN_PAIRS {
            let plan = || time(|| run(c.path(), MTLS, &["plan", "pki.rhai", "--var", &var]));
            let ver = || time(|| run(c.path(), MTLS, &["--version"]));
            if (round + pair) % 2 == 0 {
                mtls_plan.push(plan());
                version.push(ver());
            } else {
                version.push(ver());
                mtls_plan.push(plan());
            }
        }
    }
    let (o, m, p, v) = (
        median(openssl),
        median(mtls_run),
        median(mtls_plan),
        median(version),
    );
    println!("mtls:    {MTLS} run pki.rhai --var {var}   (fresh folder each round)");
    println!("openssl: the article's 12 commands, one after another (fresh folder each round)");
    println!("plan:    {MTLS} plan pki.rhai --var {var}   against   {MTLS} --version");
    println!("rounds: {rounds} (medians; plan and --version: {PLAN_PAIRS} pairs a round)");
    println!(
        "openssl recipe (12 commands): {:>8.1} ms",
        o.as_secs_f64() * 1e3
    );
    println!(
        "mtls run pki.rhai:            {:>8.1} ms   ratio mtls/openssl = {:.2}",
        m.as_secs_f64() * 1e3,
        m.as_secs_f64() / o.as_secs_f64()
    );
    println!(
        "mtls --version:               {:>8.1} ms",
        v.as_secs_f64() * 1e3
    );
    println!(
        "mtls plan pki.rhai:           {:>8.1} ms   ratio plan/--version = {:.2}",
        p.as_secs_f64() * 1e3,
        p.as_secs_f64() / v.as_secs_f64()
    );
    plan_breakdown();
}
