//! The `mtls` binary: parse the command line, call the library, print diagnostics.

mod cli;

use std::io::IsTerminal;
use std::path::Path;

use clap::Parser;
use miette::{IntoDiagnostic, Result, WrapErr};

use cli::{Cli, Command, Format, RunArgs};
use mtls::script::{self, bundled, FunctionDoc};
use mtls::workdir::{Secrecy, Workdir};
use mtls::{Mode, Runtime};

/// Counts live heap bytes so a runaway script is stopped at the memory limit.
#[global_allocator]
static ALLOC: mtls::alloc::Counting = mtls::alloc::Counting;

fn main() -> Result<()> {
    let cli = Cli::parse();
    // `mtls serve` logs each request with its client's certificate subject by default.
    init_logging(cli.verbose, matches!(cli.command, Command::Serve(_)));
    // Wrapped lines break `grep` on logs; wrap only for a person at a terminal.
    let tty = std::io::stderr().is_terminal();
    miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(tty).build())
    }))
    .ok();
    match cli.command {
        Command::Run(args) => {
            let mode = if args.dry_run { Mode::Plan } else { Mode::Live };
            run(args, mode)
        }
        Command::Plan(args) => run(args, Mode::Plan),
        Command::Functions { stdlib, format } => functions(stdlib.as_deref(), format),
        Command::Init { dir, force } => init(&dir, force),
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: cli::ServeArgs) -> Result<()> {
    let cfg = mtls::gateway::ServeConfig {
        cert: args.cert,
        key: args.key,
        chain: args.chain,
        truststore: args.truststore,
        listen: args.listen,
    };
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(mtls::gateway::serve_until_ctrl_c(&cfg))?;
    Ok(())
}

fn init_logging(verbose: u8, serving: bool) {
    // aws-config warns about every missing optional config file; that is not news.
    let default = match (verbose, serving) {
        (0, false) => "warn,aws_runtime::env_config=error",
        (0, true) => "warn,mtls::gateway=info",
        (1, _) => "info,aws_runtime::env_config=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(args: RunArgs, mode: Mode) -> Result<()> {
    let json = args.format == Format::Json;
    let mut builder = Runtime::builder()
        .workdir(&args.dir)
        .mode(mode)
        .force(args.force)
        .refresh(args.refresh)
        .aws(mtls::aws::AwsSettings {
            profile: args.profile.clone(),
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
        })
        .progress(!json);
    for raw in &args.vars {
        let (name, value) = mtls::inputs::parse_var(raw)?;
        builder = builder.var(name, value);
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
    if let Some(dir) = &args.stdlib {
        builder = builder.stdlib_dir(dir);
    }
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
    Ok(())
}

fn functions(stdlib: Option<&Path>, format: Format) -> Result<()> {
    let mut docs: Vec<FunctionDoc> = mtls::script::primitive_docs();
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
