//! `atelier-desktop`: the workbench window on a vault.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use atelier_core::{logfile, vault};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Atelier's desktop workbench.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The vault directory (default: $ATELIER_HOME, else the OS data directory).
    #[arg(long, value_name = "DIR")]
    vault: Option<PathBuf>,
}

// The binary has no terminal UI; stderr is where a failure to start is reported.
#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let args = Args::parse();
    let Some(dir) = vault::locate(args.vault.as_deref(), &vault::process_env) else {
        eprintln!("atelier-desktop: no data directory on this system; pass --vault DIR");
        return ExitCode::from(2);
    };
    logfile::install(&dir, "desktop");
    match atelier_desktop::run(dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("atelier-desktop: {err}");
            ExitCode::FAILURE
        }
    }
}
