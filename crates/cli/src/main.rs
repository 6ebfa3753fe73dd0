//! `atelier`: every capability of the core from a terminal.

mod args;
mod demo;
mod docs;
mod render;
mod run;

use clap::Parser;
use std::process::ExitCode;

// candle's CPU backend allocates a tensor per operation; mimalloc makes embedding ~1.5× faster
// than the system allocator (measured in DESIGN.md §4).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit_code(),
    }
}
