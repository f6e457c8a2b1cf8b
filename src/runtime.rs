//! The embeddable API: configure a run, run a script, get its outcome.
//!
//! ```no_run
//! use mtls::{Mode, Runtime};
//!
//! let outcome = Runtime::builder()
//!     .workdir("out")
//!     .var("domain", "api.example.com")
//!     .mode(Mode::Plan { refresh: false })
//!     .build()
//!     .run_bundled("pki.rhai")?;
//! println!("{}", outcome.plan.render_text());
//! # Ok::<(), mtls::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::effects::{Approved, Effects, Mode, Plan};
use crate::error::Error;
use crate::script::{self, bundled, Context, Sources};
use crate::workdir::Workdir;

pub use crate::script::Printer;

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    workdir: PathBuf,
    vars: BTreeMap<String, String>,
    mode: Mode,
    force: bool,
    stdlib_dir: Option<PathBuf>,
    printer: Printer,
    aws: crate::aws::AwsSettings,
    notices: Printer,
    interrupt: Arc<AtomicBool>,
    approved: Option<Approved>,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            workdir: PathBuf::from("."),
            vars: BTreeMap::new(),
            mode: Mode::LIVE,
            force: false,
            stdlib_dir: None,
            printer: Arc::new(|s| println!("{s}")),
            aws: crate::aws::AwsSettings::default(),
            notices: Arc::new(|s| eprintln!("{s}")),
            interrupt: Arc::default(),
            approved: None,
        }
    }
}

impl RuntimeBuilder {
    /// The working folder: every path a script names is relative to it. It is created on
    /// the first write, never by a plan.
    pub fn workdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workdir = dir.into();
        self
    }

    /// A variable scripts read with `get_var("name")`.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Live (apply) or plan (dry-run), with the options of each: `Mode::Live { progress }`
    /// prints a line as each change is made (to [`RuntimeBuilder::on_notice`]'s printer, the
    /// CLI turns it on); `Mode::Plan { refresh }` lets a plan make read-only AWS calls, so
    /// each action says create, keep or update (without it a plan makes no network call at
    /// all). A quiet live run is the default.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Replace existing keys, certificates and resources instead of keeping them.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// A folder of `.rhai` files whose functions override the bundled stdlib's.
    pub fn stdlib_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.stdlib_dir = Some(dir.into());
        self
    }

    /// Where the script's `print` output goes (standard output by default).
    pub fn on_print(mut self, printer: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.printer = Arc::new(printer);
        self
    }

    /// A flag that stops the run when set (the CLI sets it on Ctrl-C): the script stops
    /// at its next operation, an AWS wait at once, with an error saying where.
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = flag;
        self
    }

    /// Where notes about the run itself go (which bundled steps a user's stdlib
    /// replaces, and a live run's progress lines); standard error by default.
    pub fn on_notice(mut self, printer: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.notices = Arc::new(printer);
        self
    }

    /// Where and as whom to call AWS (profile, region, endpoint); unset fields follow the
    /// standard AWS configuration chain.
    pub fn aws(mut self, settings: crate::aws::AwsSettings) -> Self {
        self.aws = settings;
        self
    }

    /// Limits a live run to the AWS changes `plan` shows (the plan a person confirmed):
    /// the first other AWS change stops the run with an error before it is sent. The run
    /// evaluates the script again, and a script may take another path than in its plan.
    pub fn approved(mut self, plan: &Plan) -> Self {
        self.approved = Some(Approved::from_plan(plan));
        self
    }

    /// The runtime, ready to run one script.
    pub fn build(self) -> Runtime {
        Runtime { cfg: self }
    }
}

/// Runs one script. A runtime is used once: each run starts from a fresh plan.
pub struct Runtime {
    cfg: RuntimeBuilder,
}

/// What a run did (live) or would do (plan).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every action, in order: carried out (live) or only recorded (plan).
    pub plan: Plan,
}

impl Runtime {
    /// A builder with the defaults: working folder `.`, live, output on standard output.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Runs the script at `path`.
    pub fn run_file(self, path: impl AsRef<Path>) -> Result<Outcome, Error> {
        let path = path.as_ref();
        let source = crate::workdir::read_script_file(path)?;
        self.run_source(&path.display().to_string(), &source, path.parent())
    }

    /// Runs a script compiled into the binary (`pki.rhai`, `setup`, ...).
    pub fn run_bundled(self, name: &str) -> Result<Outcome, Error> {
        let file = bundled::script(name).ok_or_else(|| Error::ScriptNotFound {
            name: name.to_string(),
            bundled: bundled::script_names().join(", "),
        })?;
        self.run_source(&format!("(bundled) {}", file.path), file.source, None)
    }

    /// Runs `name`: the file at that path if there is one, else the bundled script of that
    /// name.
    pub fn run(self, name: &str) -> Result<Outcome, Error> {
        // Anything at that path is the user's script, even one mtls will refuse to read
        // (a FIFO, a folder): say why, rather than "no such script".
        if std::fs::symlink_metadata(name).is_ok() {
            self.run_file(name)
        } else {
            self.run_bundled(name)
        }
    }

    /// Runs `name` (a path, or a bundled script) like [`Runtime::run`], without blocking
    /// the caller's async runtime: the run gets a thread of its own, so several runs (each
    /// with its own working folder and output) can proceed at once.
    pub async fn run_async(self, name: impl Into<String>) -> Result<Outcome, Error> {
        let name = name.into();
        self.on_own_thread(move |rt| rt.run(&name)).await
    }

    /// Runs script text like [`Runtime::run_source`], without blocking the caller's async
    /// runtime.
    pub async fn run_source_async(
        self,
        name: impl Into<String>,
        source: impl Into<String>,
        dir: Option<PathBuf>,
    ) -> Result<Outcome, Error> {
        let (name, source) = (name.into(), source.into());
        self.on_own_thread(move |rt| rt.run_source(&name, &source, dir.as_deref()))
            .await
    }

    async fn on_own_thread(
        self,
        run: impl FnOnce(Runtime) -> Result<Outcome, Error> + Send + 'static,
    ) -> Result<Outcome, Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("mtls-run".into())
            .spawn(move || {
                let _ = tx.send(run(self));
            })
            .map_err(|source| Error::Io {
                action: "start a thread for",
                path: "the run".into(),
                source,
            })?;
        rx.await
            .map_err(|_| Error::internal("run a script", "its thread ended without an answer"))?
    }

    /// Runs script text. `name` is shown in errors; `dir` is where a local `stdlib/`
    /// folder is looked for.
    ///
    /// A live run is planned first, quietly and offline: every primitive checks its inputs
    /// in a plan too, so a bad value anywhere in the script (a SAN, a file, a domain) stops
    /// the run before its first file is written or its first AWS call is made.
    ///
    /// Called from inside an async runtime, the run moves to a thread of its own (it drives
    /// its own I/O); [`Runtime::run_source_async`] does the same without blocking.
    pub fn run_source(
        self,
        name: &str,
        source: &str,
        dir: Option<&Path>,
    ) -> Result<Outcome, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return std::thread::scope(|scope| {
                scope
                    .spawn(move || self.run_source_here(name, source, dir))
                    .join()
                    .unwrap_or_else(|_| Err(Error::internal("run a script", "its thread panicked")))
            });
        }
        self.run_source_here(name, source, dir)
    }

    fn run_source_here(
        self,
        name: &str,
        source: &str,
        dir: Option<&Path>,
    ) -> Result<Outcome, Error> {
        let cfg = self.cfg;
        // Every input is checked before anything is written or sent.
        crate::inputs::check_vars(&cfg.vars)?;
        crate::inputs::check_region(&cfg.aws)?;
        let mut locks = None;
        if cfg.mode.is_live() {
            let quiet: Printer = Arc::new(|_| {});
            let preflight = Pass {
                mode: Mode::PLAN,
                printer: quiet.clone(),
                notices: quiet,
                locks: None,
            };
            match evaluate(&cfg, &preflight, name, source, dir) {
                Ok(planned) => locks = Some(planned.locks),
                Err(e) => {
                    (cfg.notices)("nothing was changed: mtls plans a run before it changes anything, and the plan stopped at this error:");
                    return Err(e);
                }
            }
        }
        let pass = Pass {
            mode: cfg.mode,
            printer: cfg.printer.clone(),
            notices: cfg.notices.clone(),
            locks,
        };
        let plan = evaluate(&cfg, &pass, name, source, dir)?.plan;
        Ok(Outcome { plan })
    }
}

/// How one evaluation of a script runs: the preflight plan of a live run, or the run itself.
struct Pass {
    mode: Mode,
    printer: Printer,
    notices: Printer,
    /// The locks a live run takes before its script starts (what its plan showed).
    locks: Option<Locks>,
}

/// The locks a plan shows its run needs: its working folder's when it changes anything,
/// and the domains its steps named.
struct Locks {
    folder: bool,
    domains: Vec<String>,
}

/// One evaluation of a script: its journal, and the locks its run needs.
struct Evaluated {
    plan: Plan,
    locks: Locks,
}

/// Compiles and evaluates the script once; returns its journal. A live run first takes the
/// locks of `pass`, and holds them until the script ends, whatever its result.
fn evaluate(
    cfg: &RuntimeBuilder,
    pass: &Pass,
    name: &str,
    source: &str,
    dir: Option<&Path>,
) -> Result<Evaluated, Error> {
    let mut ctx = Context::new(
        Workdir::new(&cfg.workdir),
        Effects::printing_to(pass.mode, pass.notices.clone()).with_approved(cfg.approved.clone()),
        cfg.vars.clone(),
        cfg.force,
    );
    ctx.aws.settings = cfg.aws.clone();
    ctx.interrupt = cfg.interrupt.clone();
    ctx.notices = pass.notices.clone();
    let ctx = Rc::new(ctx);
    let (mut engine, docs) = script::new_engine(Some(&ctx), pass.printer.clone());
    engine.set_module_resolver(script::modules::Modules::new(
        dir.map(Path::to_path_buf),
        cfg.stdlib_dir.clone(),
    ));
    let primitives: HashSet<String> = docs.into_iter().map(|d| d.name).collect();
    let mut sources = Sources::default();
    let files = script::stdlib_files(dir, cfg.stdlib_dir.as_deref())?;
    let stdlib = script::compile_stdlib(&engine, &files, &primitives, &mut sources)?;
    sources.add_file(name, source);
    let ast = engine
        .compile(source)
        .map_err(|e| Error::from(sources.parse_error(name, &e)))?;
    script::refuse_primitive_names(&ast, name, &primitives)?;
    // Which bundled steps this run does not use as shipped, said before anything runs.
    let mut overrides = stdlib.overrides;
    let stdlib_names: HashSet<&str> = stdlib.ast.iter_functions().map(|f| f.name).collect();
    overrides.extend(
        ast.iter_functions()
            .filter(|f| stdlib_names.contains(f.name))
            .map(|f| format!("{}() from {name}", f.name)),
    );
    for o in &overrides {
        (pass.notices)(&format!("note: using {o} instead of the bundled step"));
    }
    // Script functions come last so a script can redefine a stdlib step for itself.
    let program = stdlib.ast.merge(&ast);
    // Before its first file or AWS change, a run waits for any other run on its folder or
    // domains; it holds their locks until it ends.
    if let Some(locks) = &pass.locks {
        if let Err(e) = script::take_before_run(&ctx, &locks.domains, locks.folder) {
            ctx.finish();
            return Err(e);
        }
    }
    let result = engine.run_ast(&program);
    // Gateways started by `serve` live until the script ends, and locks are held until
    // then, whatever its result.
    ctx.finish();
    result.map_err(|e| Error::from(sources.runtime_error(name, &e)))?;
    let plan = ctx.effects.plan();
    let locks = Locks {
        folder: plan.has_changes(),
        domains: ctx.locks.wanted_domains(),
    };
    Ok(Evaluated { plan, locks })
}
