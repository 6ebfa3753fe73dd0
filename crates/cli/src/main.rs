//! `atelier`: every capability of the core from a terminal.

mod args;
mod assets;
mod demo;
mod docs;
mod mcp;
mod orchestrate;
mod plays;
mod providers;
mod render;
mod run;
mod threads;

use clap::Parser;
use std::process::ExitCode;

// The embedding model allocates large buffers for every layer of every batch; mimalloc reuses
// them instead of handing them back to the OS and faulting them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit_code(),
    }
}
