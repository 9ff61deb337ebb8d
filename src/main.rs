//! Parses the command line, runs it, and turns an error into one plain line
//! on stderr and exit code 1. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use digit_kiosk::cli::{Cli, Command};
use digit_kiosk::collector::Collector;
use digit_kiosk::commands;
use digit_kiosk::store::DataPaths;
use digit_kiosk::ui::{self, WindowOptions};

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
        None => {
            ui::ensure_display()?;
            let collector = Collector::open(paths)?;
            let options = WindowOptions { kiosk: cli.fullscreen, ..WindowOptions::default() };
            let result = ui::run(collector.clone(), options);
            collector.shutdown();
            result.map(|()| true)
        }
        Some(Command::Stats(args)) => commands::stats(&paths, args.json, &mut out).map(|()| true),
        Some(Command::Check(args)) => commands::check(&paths, args.repair, &mut out),
    }
}
