//! Helpers shared by the integration tests: a temporary data folder, a quick
//! way to submit strokes, counting what a folder holds (files, rows, CSV
//! lines), reading it back the way users do (rusqlite, the `sqlite3` CLI, a
//! CSV reader) and running the real `digit-kiosk` binary.
//!
//! Use it from a test file with `mod common;`. Each test binary uses a
//! different subset, hence the `dead_code` allowance.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use digit_kiosk::collector::{Collector, Drawing, Submission};
use digit_kiosk::digit::Digit;
use digit_kiosk::sketch::{Point, Sketch, Stroke};
use digit_kiosk::store::{DataPaths, Receipt, Source};

/// The seed app's query, which must keep working on every folder.
pub const SEED_QUERY: &str =
    "SELECT id, filename, label, timestamp, ip FROM digit_samples LIMIT 10;";

/// A data folder inside a fresh temporary directory, removed on drop.
/// The folder itself (`<tmp>/data`) does not exist until something opens it.
pub struct TempData {
    /// Keeps the temporary directory alive.
    pub dir: tempfile::TempDir,
    /// The data folder's paths.
    pub paths: DataPaths,
}

impl TempData {
    /// A new, not yet created, data folder.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("digit-kiosk-test-")
            .tempdir()
            .expect("create a temporary directory");
        let paths = DataPaths::new(dir.path().join("data"));
        Self { dir, paths }
    }

    /// The data folder's root.
    pub fn root(&self) -> &Path {
        &self.paths.root
    }

    /// Opens a collector on it.
    pub fn collector(&self) -> Collector {
        Collector::open(self.paths.clone()).expect("open the data folder")
    }
}

/// A sketch of one stroke through `points` (canvas space), 10 ms apart.
pub fn sketch(points: &[(f32, f32)]) -> Sketch {
    Sketch::new(vec![stroke(points)]).expect("a valid sketch")
}

/// One stroke through `points`, 10 ms apart.
pub fn stroke(points: &[(f32, f32)]) -> Stroke {
    let points = points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| Point {
            x,
            y,
            t: i as f64 * 10.0,
            pressure: None,
        })
        .collect();
    Stroke {
        pointer: None,
        points,
    }
}

/// A window submission of one stroke with this label.
pub fn strokes_submission(label: u8, points: &[(f32, f32)]) -> Submission {
    Submission {
        label: Digit::try_from(label).expect("label 0-9"),
        drawing: Drawing::Strokes(sketch(points)),
        source: Source::Window,
        client: "127.0.0.1".into(),
        session: None,
    }
}

/// Submits one stroke through `points` with this label, as the window does,
/// and returns the receipt (panics if it is refused).
pub fn submit_strokes(collector: &Collector, label: u8, points: &[(f32, f32)]) -> Receipt {
    collector
        .submit(strokes_submission(label, points))
        .expect("sample stored")
}

/// What a data folder holds, counted the plain way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Entries in `images/`, pending and hidden files included.
    pub files: usize,
    /// Rows in `digit_samples`.
    pub rows: usize,
    /// Lines of `labels.csv` after the header.
    pub csv_lines: usize,
}

/// Counts files, rows and CSV lines (a missing part counts 0).
pub fn counts(paths: &DataPaths) -> Counts {
    Counts {
        files: count_files(&paths.images()),
        rows: count_rows(paths),
        csv_lines: count_csv_lines(paths),
    }
}

/// Entries in a folder (0 if it does not exist).
pub fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Rows in `digit_samples`, read with rusqlite (0 without a database).
pub fn count_rows(paths: &DataPaths) -> usize {
    if !paths.db().exists() {
        return 0;
    }
    let n: i64 = open_db(paths)
        .query_row("SELECT COUNT(*) FROM digit_samples", [], |r| r.get(0))
        .expect("count rows");
    usize::try_from(n).expect("a count")
}

/// Lines of `labels.csv` after the header (0 without the file).
pub fn count_csv_lines(paths: &DataPaths) -> usize {
    std::fs::read_to_string(paths.csv())
        .map(|s| s.lines().skip(1).count())
        .unwrap_or(0)
}

/// A read-only rusqlite connection to the folder's database.
pub fn open_db(paths: &DataPaths) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(paths.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open digits.db read-only")
}

/// One row as the seed query sees it: `id, filename, label, timestamp, ip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRow {
    /// Row id.
    pub id: i64,
    /// File name inside `images/`.
    pub filename: String,
    /// The label as SQLite renders it.
    pub label: String,
    /// `2025-12-04 12:34:56.789012`.
    pub timestamp: String,
    /// Client address.
    pub ip: String,
}

/// Every row's seed columns in id order, read with rusqlite. The label is
/// read as SQLite's text rendering so integer and text labels compare alike.
pub fn db_rows(paths: &DataPaths) -> Vec<SeedRow> {
    let conn = open_db(paths);
    let mut stmt = conn
        .prepare("SELECT id, filename, CAST(label AS TEXT), timestamp, COALESCE(ip, '') FROM digit_samples ORDER BY id")
        .expect("prepare");
    stmt.query_map([], |r| {
        Ok(SeedRow {
            id: r.get(0)?,
            filename: r.get(1)?,
            label: r.get(2)?,
            timestamp: r.get(3)?,
            ip: r.get(4)?,
        })
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("read rows")
}

/// Runs the real `sqlite3` CLI on the database and returns its stdout
/// (panics if it fails or writes to stderr).
pub fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("run sqlite3 (apt-get install sqlite3)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "sqlite3 failed: {stderr}"
    );
    String::from_utf8(out.stdout).expect("sqlite3 prints UTF-8")
}

/// The seed query through the `sqlite3` CLI, each line split on `|`.
pub fn seed_query_cli(paths: &DataPaths) -> Vec<Vec<String>> {
    sqlite3(&paths.db(), SEED_QUERY)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// `labels.csv` parsed with the csv crate: the header, then the records.
pub fn csv_records(paths: &DataPaths) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(paths.csv()).expect("open labels.csv");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let records = reader
        .records()
        .map(|r| {
            r.expect("a well-formed CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    (header, records)
}

/// The PNG files in `images/` (final names only), sorted.
pub fn image_names(paths: &DataPaths) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(paths.images())
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// SHA-256 of a file, lowercase hex.
pub fn file_sha256(path: &Path) -> String {
    digit_kiosk::collector::sha256_hex(&std::fs::read(path).expect("read file"))
}

/// The path of the real `digit-kiosk` binary built for these tests.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_digit-kiosk"))
}

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with the whole run unless it exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    /// Panics unless stderr is exactly one plain line: no panic, no
    /// backtrace, no usage dump.
    pub fn expect_one_plain_error_line(&self) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr must be one line\n{self}");
        for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "Usage:"] {
            assert!(!self.stderr.contains(bad), "stderr shows `{bad}`\n{self}");
        }
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `digit-kiosk <args>` to completion with no stdin. `RUST_BACKTRACE`
/// is set so that a panic would show its backtrace and fail the checks.
pub fn run_bin<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out: Output = Command::new(bin_path())
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run digit-kiosk");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `digit-kiosk <subcommand> --data <folder> <extra...>`.
pub fn run_on(paths: &DataPaths, subcommand: &str, extra: &[&str]) -> Run {
    let mut args: Vec<std::ffi::OsString> = vec![
        subcommand.into(),
        "--data".into(),
        paths.root.clone().into(),
    ];
    args.extend(extra.iter().map(Into::into));
    run_bin(args)
}

/// An RGBA image as PNG bytes, as a client with only pixels would send it.
pub fn png_rgba(img: &image::RgbaImage) -> Vec<u8> {
    use image::ImageEncoder as _;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("encode a PNG");
    out
}

/// PNG bytes as the `data:image/png;base64,...` URL of the HTTP API.
pub fn data_url(png: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}
