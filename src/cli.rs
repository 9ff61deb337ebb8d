//! The command line, as clap derive types. Their doc comments are the
//! `--help` text. Nothing below `config.rs` sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Digit Kiosk: collect handwritten digits (0–9) for machine-learning datasets.
///
/// With no command it opens the drawing window on the data folder.
#[derive(Debug, Parser)]
#[command(name = "digit-kiosk", version, about, long_about = None)]
pub struct Cli {
    /// Data folder: images/, labels.csv, digits.db (created on first use).
    #[arg(long, global = true, value_name = "DIR", default_value = "data")]
    pub data: PathBuf,

    /// Kiosk mode for the window: fullscreen without decorations; leaving
    /// takes holding the "Hold to exit" corner control for three seconds.
    #[arg(long)]
    pub fullscreen: bool,

    /// What to do; the window when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count the samples per digit, sessions, and the first and last sample.
    Stats(StatsArgs),
    /// Check that the database, labels.csv and images/ agree; exit 1 while they do not.
    Check(CheckArgs),
}

/// `stats` options.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rebuild labels.csv from the database (atomically); orphan images are listed, never deleted.
    #[arg(long)]
    pub repair: bool,
}
