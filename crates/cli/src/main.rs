//! `atelier`: every capability of the core from a terminal.

mod access;
mod args;
mod assets;
mod catalog;
mod demo;
mod docs;
mod mcp;
mod orchestrate;
mod out;
mod plays;
mod providers;
mod render;
mod run;
mod tasks;
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
