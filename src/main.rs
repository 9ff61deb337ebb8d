//! Parses the command line, runs it, and turns an error into one plain line
//! on stderr and exit code 1. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use digit_kiosk::cli::{Cli, Command};
use digit_kiosk::commands;
use digit_kiosk::store::DataPaths;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("digit-kiosk: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok(false)` is a clean failure already reported.
fn run(cli: Cli) -> digit_kiosk::Result<bool> {
    let paths = DataPaths::new(&cli.data);
    let mut out = std::io::stdout().lock();
    match cli.command {
        None => Err(digit_kiosk::Error::Usage("the window is not built yet; see `digit-kiosk --help`".into())),
        Some(Command::Stats(args)) => commands::stats(&paths, args.json, &mut out).map(|()| true),
        Some(Command::Check(args)) => commands::check(&paths, args.repair, &mut out),
    }
}
