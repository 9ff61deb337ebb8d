//! The command line, as clap derive types. Their doc comments are the
//! `--help` text. Nothing below `config.rs` sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

    /// Also serve the drawing page to browsers while the window runs; with
    /// --lan the window shows the page's LAN address as text and a QR code.
    #[arg(long)]
    pub serve: bool,

    /// The endpoint of --serve (the same options as `serve`).
    #[command(flatten)]
    pub endpoint: ServeArgs,

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
    /// Write the samples as a training dataset (MNIST IDX, Kaggle CSV, ImageFolder or Quick, Draw! ndjson),
    /// split into train and test per digit, with a dataset card (README.md).
    Export(ExportArgs),
    /// Combine the data folders of several stations into one, skipping exact duplicates and
    /// recording each sample's station.
    Merge(MergeArgs),
    /// Serve the drawing page and its API to browsers, without a window; stop with Ctrl-C.
    Serve(ServeArgs),
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

/// Options of the HTTP endpoint: the `serve` command's, and the window's
/// beside its `--serve`. Resolved by `ServeArgs::config` (`config.rs`).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Serve the whole local network (bind 0.0.0.0) and print the URL(s) and a QR code for phones.
    #[arg(long)]
    pub lan: bool,

    /// Port to listen on.
    #[arg(long, value_name = "N", default_value_t = crate::web::DEFAULT_PORT)]
    pub port: u16,

    /// Address and port to listen on, e.g. 192.168.1.20:8080 (overrides --port; default
    /// 127.0.0.1, or 0.0.0.0 with --lan).
    #[arg(long, value_name = "IP:PORT")]
    pub addr: Option<std::net::SocketAddr>,

    /// Submissions per minute allowed from one client address (0 turns the limit off).
    #[arg(long, value_name = "N", default_value_t = crate::web::DEFAULT_RATE_LIMIT)]
    pub rate_limit: u32,
}

/// `export` options. Checked and resolved by `ExportArgs::options` (`config.rs`).
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Dataset layout: mnist (IDX files), csv (Kaggle Digit Recognizer), imagefolder (PNGs in
    /// train/<digit>/, test/<digit>/ with metadata.csv), ndjson (Quick, Draw! strokes).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,

    /// Folder to write: new, empty, or an earlier export (whose files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Share of each digit's samples held out for testing, from 0 to 1.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    pub test_fraction: f64,

    /// Seed of the split and order: the same seed and data give the same files, byte for byte.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Split sample by sample, or keep each session (one participant's run) on one side.
    #[arg(long, value_enum, value_name = "BY", default_value_t = SplitByArg::Sample)]
    pub split_by: SplitByArg,

    /// Gzip the IDX files (`*-ubyte.gz`), as MNIST is distributed (mnist only).
    #[arg(long)]
    pub gzip: bool,

    /// Quick, Draw!'s simplified drawings: 0-255, resampled, simplified, no timing (ndjson only).
    #[arg(long)]
    pub simplified: bool,
}

/// `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// MNIST's IDX files, 28×28.
    Mnist,
    /// Kaggle Digit Recognizer CSV, 28×28.
    Csv,
    /// The original PNGs in class folders, for torchvision and Hugging Face.
    Imagefolder,
    /// Quick, Draw! newline-delimited JSON of the strokes.
    Ndjson,
}

/// `export --split-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitByArg {
    /// Each sample on its own.
    Sample,
    /// Each session's samples together.
    Session,
}

/// `merge` options.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The stations' data folders to merge from (only read).
    #[arg(value_name = "SRC", required = true)]
    pub sources: Vec<PathBuf>,

    /// The data folder to merge into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
}
