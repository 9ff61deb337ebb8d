//! Parses the command line, runs it, and turns an error into one plain line
//! on stderr and exit code 1. Everything else lives in the library.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use digit_kiosk::Error;
use digit_kiosk::cli::{Cli, Command};
use digit_kiosk::collector::Collector;
use digit_kiosk::commands;
use digit_kiosk::store::DataPaths;
use digit_kiosk::ui::{self, WindowOptions};
use digit_kiosk::web;

fn main() -> ExitCode {
    let launched = Instant::now();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    match run(cli, launched) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("digit-kiosk: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` print as clap writes them (exit 0); a mistake on
/// the command line is one plain line on stderr and exit 1, like every other
/// user error (clap's own would be several lines and exit 2).
fn usage_error(err: &clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print(); // help or version; a closed pipe is not an error
        return ExitCode::SUCCESS;
    }
    let rendered = err.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("digit-kiosk: {message} (see `digit-kiosk --help`)");
    ExitCode::FAILURE
}

/// Runs the command; `Ok(false)` is a clean failure already reported.
fn run(cli: Cli, launched: Instant) -> digit_kiosk::Result<bool> {
    let paths = DataPaths::new(&cli.data);
    let mut out = std::io::stdout().lock();
    match cli.command {
        None => {
            ui::ensure_display()?;
            let endpoint = match (cli.serve, cli.endpoint.lan || cli.endpoint.addr.is_some()) {
                (true, _) => Some(cli.endpoint.config()?),
                (false, true) => {
                    return Err(Error::Usage("--lan and --addr belong with --serve".into()));
                }
                (false, false) => None,
            };
            let collector = Collector::open(paths)?;
            let server = match endpoint
                .map(|config| web::Server::start(collector.clone(), &config))
                .transpose()
            {
                Ok(server) => server,
                Err(e) => {
                    collector.shutdown();
                    return Err(e);
                }
            };
            let options = WindowOptions {
                kiosk: cli.fullscreen,
                served_urls: server.as_ref().map(web::Server::urls).unwrap_or_default(),
                timings_since: std::env::var_os("DIGIT_KIOSK_TIMINGS").map(|_| launched),
            };
            let result = ui::run(collector.clone(), options);
            if let Some(server) = server {
                server.stop();
            }
            collector.shutdown();
            result.map(|()| true)
        }
        Some(Command::Stats(args)) => commands::stats(&paths, args.json, &mut out).map(|()| true),
        Some(Command::Check(args)) => commands::check(&paths, args.repair, &mut out),
        Some(Command::Export(args)) => {
            commands::export(&paths, &args.options()?, &mut out).map(|()| true)
        }
        Some(Command::Merge(args)) => commands::merge(&args.sources, &args.into, &mut out),
        Some(Command::Serve(args)) => {
            digit_kiosk::web::serve_until_interrupted(paths, &args.config()?, &mut out)
                .map(|()| true)
        }
    }
}
