//! The `mtls` command: parse the command line, call the library, print diagnostics.
//! `src/main.rs` only installs the counting allocator and calls [`main`].

mod args;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use miette::{IntoDiagnostic, Result, WrapErr};

use crate::script::{self, bundled, FunctionDoc};
use crate::workdir::{Secrecy, Workdir};
use crate::{Mode, Plan, Runtime, RuntimeBuilder};
use args::{Cli, Command, Format, RunArgs};

/// The exit status of `plan --detailed-exitcode` when the plan holds changes.
const EXIT_CHANGES: u8 = 2;

/// Runs the `mtls` command with the process's arguments and returns its exit status; errors
/// are printed as diagnostics on standard error (exit 1).
pub fn main() -> ExitCode {
    match run_command() {
        Ok(code) => code,
        Err(report) => {
            eprintln!("Error: {report:?}");
            ExitCode::FAILURE
        }
    }
}

fn run_command() -> Result<ExitCode> {
    let cli = parse_args();
    // Colours only ever go to standard error (diagnostics, logs); standard output carries
    // plans, JSON and completion scripts, which never hold escape codes.
    let colour = colour_on_stderr();
    // `mtls serve` logs each request with its client's certificate subject by default.
    init_logging(
        cli.verbose,
        matches!(cli.command, Command::Serve(_)),
        colour,
    );
    // Wrapped lines break `grep` on logs; wrap only for a person at a terminal.
    let tty = std::io::stderr().is_terminal();
    miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .wrap_lines(tty)
                .color(colour)
                .terminal_links(colour && tty)
                .build(),
        )
    }))
    .ok();
    match cli.command {
        Command::Run(cmd) if cmd.dry_run => {
            let plan = run(&cmd.common, plan_mode(&cmd.common), None)?;
            Ok(plan_status(&plan, cmd.detailed_exitcode))
        }
        Command::Run(cmd) => {
            // A person at a terminal confirms changes to AWS, and the run then sends only
            // those; a script or CI (standard input not a terminal) has said what it wants
            // by running mtls.
            let confirmed = if !cmd.yes && std::io::stdin().is_terminal() {
                Some(confirm(&cmd.common)?)
            } else {
                None
            };
            // Progress lines, unless standard output and error are kept for JSON.
            let progress = cmd.common.format != Format::Json;
            run(&cmd.common, Mode::Live { progress }, confirmed.as_ref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(cmd) => {
            let plan = run(&cmd.common, plan_mode(&cmd.common), None)?;
            Ok(plan_status(&plan, cmd.detailed_exitcode))
        }
        Command::Functions { stdlib, format } => {
            functions(stdlib.as_deref(), format).map(|()| ExitCode::SUCCESS)
        }
        Command::Init { dir, force } => init(&dir, force).map(|()| ExitCode::SUCCESS),
        Command::Serve(args) => serve(args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => check(args),
        Command::Completions { shell } => {
            completions(shell)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Parses the command line. A usage error exits 1 like any other error (clap's default is
/// 2), so that 2 keeps the one meaning `--detailed-exitcode` gives it: changes present.
fn parse_args() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| {
        let code = if e.use_stderr() { 1 } else { 0 };
        let _ = e.print();
        let _ = std::io::stdout().flush();
        std::process::exit(code)
    })
}

/// Whether standard error gets colours: never with `NO_COLOR` set (to anything but the
/// empty string, as no-color.org asks); always with `CLICOLOR_FORCE` or `FORCE_COLOR` set
/// (to anything but `0`); otherwise only at a terminal that is not `TERM=dumb`, unless
/// `CLICOLOR=0`.
fn colour_on_stderr() -> bool {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let on = |name: &str| var(name).is_some_and(|v| v != "0" && v != "false");
    if var("NO_COLOR").is_some() {
        return false;
    }
    if on("CLICOLOR_FORCE") || on("FORCE_COLOR") {
        return true;
    }
    std::io::stderr().is_terminal()
        && var("TERM").map_or(true, |t| t != "dumb")
        && var("CLICOLOR").map_or(true, |v| v != "0")
}

/// `plan --detailed-exitcode` (as Terraform's): 0 when the plan holds no change, 2 when it
/// does (an error has exited 1 already). Without the flag, 0.
fn plan_status(plan: &Plan, detailed: bool) -> ExitCode {
    if detailed && plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

/// `mtls completions SHELL`: the completion script, generated from the clap definition.
fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mtls", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .into_diagnostic()
        .wrap_err("could not write the completion script")
}

/// `mtls check`: the findings on stdout; exit 1 with any error, 0 otherwise.
fn check(args: args::CheckArgs) -> Result<ExitCode> {
    let report = crate::check::check(&crate::check::CheckInput {
        dir: args.dir,
        truststore: args.truststore,
        cert: args.cert,
        key: args.key,
        chain: args.chain,
        domain: args.domain,
        expiring: args.expiring,
        crl: args.crl,
    })?;
    if args.format == Format::Json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
    Ok(if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn serve(args: args::ServeArgs) -> Result<()> {
    let cfg = crate::gateway::ServeConfig {
        cert: args.cert,
        key: args.key,
        chain: args.chain,
        truststore: args.truststore,
        listen: args.listen,
        crl: args.crl,
    };
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(crate::gateway::serve_until_ctrl_c(&cfg))?;
    Ok(())
}

fn init_logging(verbose: u8, serving: bool, colour: bool) {
    // aws-config warns about every missing optional config file; that is not news. Nor is
    // an instance metadata service that does not answer off EC2: when no region is set,
    // aws-config asks it and logs each failed attempt as a multi-line WARN, before mtls's
    // own "no region is set" error says what to do.
    let default = match (verbose, serving) {
        (0, false) => "warn,aws_runtime::env_config=error,aws_config::imds=error",
        (0, true) => "warn,mtls::gateway=info,aws_config::imds=error",
        (1, _) => "info,aws_runtime::env_config=error,aws_config::imds=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

/// A plan of these arguments: read-only AWS calls with `--refresh` only.
fn plan_mode(args: &RunArgs) -> Mode {
    Mode::Plan {
        refresh: args.refresh,
    }
}

/// The settings every pass over a script shares: folder, inputs, AWS, stdlib, mode.
fn builder(args: &RunArgs, mode: Mode) -> Result<RuntimeBuilder> {
    let mut builder = Runtime::builder()
        .workdir(&args.dir)
        .mode(mode)
        .force(args.force)
        .aws(crate::AwsSettings {
            profile: args.profile.clone(),
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
        });
    for raw in &args.vars {
        let (name, value) = crate::inputs::parse_var(raw)?;
        builder = builder.var(name, value);
    }
    if let Some(dir) = &args.stdlib {
        builder = builder.stdlib_dir(dir);
    }
    Ok(builder)
}

/// Before a live run at a terminal: plans the same script (quietly, and offline unless
/// `--refresh`), and when the plan changes something on AWS, shows those changes and asks.
/// Returns the plan to go on with (the run sends no AWS change it does not show; with none,
/// nothing was asked), an error when the answer is anything but `yes`: nothing has been
/// written or sent by then (a plan makes no AWS call that changes anything).
fn confirm(args: &RunArgs) -> Result<Plan> {
    let planned = builder(args, plan_mode(args))?
        .on_print(|_| {})
        .on_notice(|_| {})
        .build()
        .run(&args.script);
    let plan = match planned {
        Ok(outcome) => outcome.plan,
        Err(e) => {
            eprintln!("nothing was changed: mtls plans a run before it changes anything, and the plan stopped at this error:");
            return Err(e.into());
        }
    };
    if !plan.changes_aws() {
        return Ok(plan);
    }
    let text = plan.aws_changes().render_text();
    // The plan's closing line says how to apply it: that is what is being asked here.
    let text = match text.find("\nNothing was changed: this was a plan.") {
        Some(end) => text[..end].trim_end(),
        None => text.trim_end(),
    };
    let mut err = std::io::stderr().lock();
    let offline = if args.refresh {
        ""
    } else {
        " (planned offline, so what already exists is not looked up: `--refresh` looks first)"
    };
    let _ = write!(
        err,
        "mtls will change these resources on AWS{offline}:\n\n{text}\n\nApply these changes? Only 'yes' is accepted: "
    );
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .into_diagnostic()
        .wrap_err("could not read the answer")?;
    if answer.trim() == "yes" {
        eprintln!();
        return Ok(plan);
    }
    Err(miette::miette!(
        help = "run it again and answer yes, or pass --yes to apply without asking",
        "not applied: the answer was {:?}, not \"yes\"; nothing was changed",
        answer.trim()
    ))
}

/// Runs the script in `mode`; a live run sends only the AWS changes of `confirmed` (when
/// a person confirmed a plan).
fn run(args: &RunArgs, mode: Mode, confirmed: Option<&Plan>) -> Result<Plan> {
    let json = args.format == Format::Json;
    let mut builder = builder(args, mode)?;
    if let Some(plan) = confirmed {
        builder = builder.approved(plan);
    }
    // The first Ctrl-C stops the run where it is, with a word on what was done; a second
    // one ends the process at once.
    let interrupt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for register in [
        signal_hook::flag::register_conditional_shutdown(
            signal_hook::consts::SIGINT,
            130,
            interrupt.clone(),
        ),
        signal_hook::flag::register(signal_hook::consts::SIGINT, interrupt.clone()),
    ] {
        register
            .into_diagnostic()
            .wrap_err("could not watch for Ctrl-C")?;
    }
    builder = builder.interrupt(interrupt);
    if json {
        // Standard output carries only the JSON document.
        builder = builder.on_print(|s| eprintln!("{s}"));
    }
    let outcome = builder.build().run(&args.script)?;
    if json {
        println!("{}", outcome.plan.to_json());
    } else {
        print!("\n{}", outcome.plan.render_text());
    }
    Ok(outcome.plan)
}

fn functions(stdlib: Option<&Path>, format: Format) -> Result<()> {
    let mut docs: Vec<FunctionDoc> = script::primitive_docs();
    let files = script::stdlib_files(None, stdlib)?;
    docs.extend(script::stdlib_docs(&files));
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&docs).into_diagnostic()?);
        return Ok(());
    }
    let width = docs.iter().map(|d| d.signature.len()).max().unwrap_or(0);
    let mut group = String::new();
    for d in &docs {
        if d.group != group {
            group = d.group.clone();
            let title = if group.ends_with(".rhai") {
                format!("stdlib steps: {group}")
            } else {
                format!("primitives: {group}")
            };
            println!("\n{title}");
        }
        println!("  {:<width$}  {}", d.signature, d.doc);
    }
    Ok(())
}

fn init(dir: &Path, force: bool) -> Result<()> {
    // The same folder rules as a run: no link out of DIR is followed, for reading or writing.
    let folder = Workdir::new(dir);
    let mut planned = Vec::new();
    for f in bundled::SCRIPTS {
        planned.push((f.path.trim_start_matches("scripts/"), f.source));
    }
    for f in bundled::STDLIB {
        planned.push((f.path, f.source));
    }
    // Check every file first, so a refusal leaves the folder exactly as it was.
    let mut existing = Vec::new();
    for (name, _) in &planned {
        if folder.exists(name)? {
            existing.push(dir.join(name).display().to_string());
        }
    }
    if !existing.is_empty() && !force {
        return Err(miette::miette!(
            help = "nothing was written; pass --force to overwrite them, or choose another folder",
            "{} file(s) already exist: {}",
            existing.len(),
            existing.join(", ")
        ));
    }
    for (name, source) in &planned {
        folder.write(name, source.as_bytes(), Secrecy::Public, force)?;
        println!("wrote {}", dir.join(name).display());
    }
    println!(
        "\nEdit them, then run e.g. `mtls run {} --var domain=api.example.com`\n(the stdlib/ folder next to a script overrides the bundled steps, function by function).",
        dir.join("pki.rhai").display()
    );
    Ok(())
}
