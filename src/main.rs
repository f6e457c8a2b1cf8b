//! The `mtls` binary. Everything it does is in [`mtls::cli`]; this file only installs the
//! allocator that lets a run stop a script at its memory limit.

use std::process::ExitCode;

/// Counts live heap bytes so a runaway script is stopped at the memory limit.
#[global_allocator]
static ALLOC: mtls::CountingAllocator = mtls::CountingAllocator;

fn main() -> ExitCode {
    mtls::cli::main()
}
