//! `export`: turns a data folder into a dataset a training script reads as
//! it is (SPEC.md, "Export formats"). This file is the driver: options, which
//! samples go in, the split ([`split`]), the output folder, progress, and the
//! summary; one file per format writes the files, [`preprocess`] makes every
//! 28×28 image and [`card`] the dataset card (`README.md`).
//!
//! The same seed and data give the same bytes: the split and every order
//! follow seeded hashes, the 28×28 images are made in integer arithmetic,
//! and nothing written depends on the clock.

mod card;
mod imagefolder;
mod kaggle;
mod mnist;
mod ndjson;
pub mod preprocess;
pub mod split;

use std::collections::HashSet;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use image::GrayImage;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Error, Result};
use crate::store::{self, DataPaths, SampleRow, db};
pub use split::SplitBy;

/// The dataset layouts `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MNIST's IDX files (`train-images-idx3-ubyte`, ...), 28×28.
    Mnist,
    /// Kaggle "Digit Recognizer" CSV (`label,pixel0..pixel783`), 28×28.
    Csv,
    /// `train/<label>/<file>.png` and `test/...` with `metadata.csv`: the
    /// original 280×280 PNGs, for torchvision's `ImageFolder` and Hugging Face.
    ImageFolder,
    /// Quick, Draw!'s newline-delimited JSON of the strokes.
    Ndjson,
}

impl Format {
    /// The name used on the command line and in the dataset card.
    pub fn name(self) -> &'static str {
        match self {
            Format::Mnist => "mnist",
            Format::Csv => "csv",
            Format::ImageFolder => "imagefolder",
            Format::Ndjson => "ndjson",
        }
    }

    /// Whether it holds MNIST-preprocessed 28×28 images.
    pub fn is_28x28(self) -> bool {
        matches!(self, Format::Mnist | Format::Csv)
    }
}

/// How progress is shown while exporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, a plain line every 10 % otherwise (on stderr).
    Auto,
    /// Nothing (tests, library use).
    Hidden,
}

/// Everything an export needs, checked by [`ExportOptions::validate`].
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The layout to write.
    pub format: Format,
    /// The folder to write into: new, empty, or a previous export.
    pub out: PathBuf,
    /// Share of each digit's samples held out for testing, 0 to 1.
    pub test_fraction: f64,
    /// Seed of the split and of the order within each side.
    pub seed: u64,
    /// What the split keeps together.
    pub split_by: SplitBy,
    /// Gzip the IDX files (`mnist` only).
    pub gzip: bool,
    /// Quick, Draw!'s simplified drawings (`ndjson` only).
    pub simplified: bool,
    /// The command line recorded in the dataset card.
    pub command: String,
    /// Progress display.
    pub progress: ProgressMode,
}

impl ExportOptions {
    /// Options with the defaults of the command line: 20 % test, seed 0, by sample.
    pub fn new(format: Format, out: impl Into<PathBuf>) -> Self {
        Self {
            format,
            out: out.into(),
            test_fraction: 0.2,
            seed: 0,
            split_by: SplitBy::Sample,
            gzip: false,
            simplified: false,
            command: String::new(),
            progress: ProgressMode::Hidden,
        }
    }

    /// Refuses values that parse but make no sense, in plain words.
    pub fn validate(&self) -> Result<()> {
        let f = self.test_fraction;
        if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
            return Err(Error::Usage(format!(
                "--test-fraction must be between 0 and 1, got {f}"
            )));
        }
        if self.gzip && self.format != Format::Mnist {
            return Err(Error::Usage("--gzip applies to --format mnist only".into()));
        }
        if self.simplified && self.format != Format::Ndjson {
            return Err(Error::Usage(
                "--simplified applies to --format ndjson only".into(),
            ));
        }
        Ok(())
    }
}

/// What an export wrote, for the summary and the dataset card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// The layout written.
    pub format: Format,
    /// The folder written.
    pub out: PathBuf,
    /// Training samples per digit.
    pub train: [u64; 10],
    /// Test samples per digit.
    pub test: [u64; 10],
    /// Distinct sessions among the training samples.
    pub train_sessions: u64,
    /// Distinct sessions among the test samples.
    pub test_sessions: u64,
    /// Sessions with samples on both sides (always 0 when split by session).
    pub shared_sessions: u64,
    /// Exported samples that have no session (older or pixel-only samples).
    pub without_session: u64,
    /// Samples per station of origin (merged folders), by name; empty when
    /// no sample names one.
    pub stations: Vec<(String, u64)>,
    /// Oldest and newest exported sample (UTC, the database's form).
    pub date_range: Option<(String, String)>,
    /// Samples left out because they have no strokes (`ndjson`).
    pub skipped_no_strokes: u64,
    /// Samples left out because their PNG is missing from `images/`.
    pub skipped_missing_image: u64,
    /// The files and folders written inside `out`, in order.
    pub files: Vec<String>,
}

impl ExportSummary {
    /// All exported samples.
    pub fn total(&self) -> u64 {
        self.train.iter().sum::<u64>() + self.test.iter().sum::<u64>()
    }
}

/// The file that marks a folder as an export, listing what it wrote, so a
/// later export may replace exactly those and nothing else.
pub const MARKER: &str = ".digit-kiosk-export";

/// Exports the folder's samples as `options` say and returns what was written.
pub fn run(paths: &DataPaths, options: &ExportOptions) -> Result<ExportSummary> {
    options.validate()?;
    refuse_foreign_out(&options.out)?; // before the long read, so a refusal is immediate
    // Pixel formats need no strokes, and at 2–3 kB a sample they would be
    // most of the export's memory.
    let read = if options.format == Format::Ndjson {
        db::read_samples
    } else {
        db::read_samples_without_strokes
    };
    let rows = store::read(paths, read)?;

    let mut skipped_no_strokes = 0;
    let mut skipped_missing_image = 0;
    // One listing of images/ rather than a stat per sample.
    let on_disk: HashSet<String> = if options.format == Format::Ndjson {
        HashSet::new()
    } else {
        let dir = paths.images();
        fs::read_dir(&dir)
            .map_err(|e| Error::io("read folder", &dir, e))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    };
    let usable: Vec<&SampleRow> = rows
        .iter()
        .filter(|row| {
            if options.format == Format::Ndjson {
                let ok = ndjson::has_strokes(row);
                skipped_no_strokes += u64::from(!ok);
                ok
            } else {
                let ok = on_disk.contains(&row.filename);
                skipped_missing_image += u64::from(!ok);
                ok
            }
        })
        .collect();

    let parts = split::split(
        &usable,
        options.test_fraction,
        options.seed,
        options.split_by,
    );
    let entries = entries(options);
    prepare_out(&options.out, &entries)?;

    let total = usable.len() as u64;
    let mut progress = Progress::new(options.progress, total);
    let files = match options.format {
        Format::Mnist => mnist::write(paths, &parts, options, &mut progress)?,
        Format::Csv => kaggle::write(paths, &parts, &options.out, &mut progress)?,
        Format::ImageFolder => imagefolder::write(paths, &parts, &options.out, &mut progress)?,
        Format::Ndjson => ndjson::write(&parts, &options.out, options.simplified, &mut progress)?,
    };
    progress.finish();

    let summary = summarize(
        options,
        &parts,
        files,
        skipped_no_strokes,
        skipped_missing_image,
    );
    card::write(options, &summary)?;
    Ok(summary)
}

/// The summary printed after an export: totals, then counts per digit and split.
pub fn summary_text(
    s: &ExportSummary,
    options: &ExportOptions,
    took: std::time::Duration,
) -> String {
    let (train, test) = (s.train.iter().sum::<u64>(), s.test.iter().sum::<u64>());
    let mut text = format!(
        "exported {} samples as {} to `{}` in {:.1} s: train {train}, test {test} (seed {}, split by {})\n",
        s.total(),
        s.format.name(),
        s.out.display(),
        took.as_secs_f64(),
        options.seed,
        options.split_by.name()
    );
    text += "digit  ";
    text += &(0..10).map(|d| format!("{d:>6}")).collect::<String>();
    text += "\ntrain  ";
    text += &s
        .train
        .iter()
        .map(|n| format!("{n:>6}"))
        .collect::<String>();
    text += "\ntest   ";
    text += &s.test.iter().map(|n| format!("{n:>6}")).collect::<String>();
    text += "\n";
    if s.skipped_no_strokes > 0 {
        text += &format!(
            "skipped {} samples without strokes (pixels only, or from the original app)\n",
            s.skipped_no_strokes
        );
    }
    if s.skipped_missing_image > 0 {
        text += &format!(
            "skipped {} samples whose PNG is missing from images/ (`digit-kiosk check` lists them)\n",
            s.skipped_missing_image
        );
    }
    if options.test_fraction > 0.0 && options.test_fraction < 1.0 {
        for (side, counts) in [("training", &s.train), ("test", &s.test)] {
            let missing: Vec<String> = (0..10)
                .filter(|&d| counts[d] == 0 && s.train[d] + s.test[d] > 0)
                .map(|d| d.to_string())
                .collect();
            if !missing.is_empty() {
                text += &format!(
                    "note: no {side} samples of digit(s) {}: too few to split\n",
                    missing.join(", ")
                );
            }
        }
    }
    text += &format!("wrote {}\n", s.out.join("README.md").display());
    text
}

fn summarize(
    options: &ExportOptions,
    parts: &split::Split,
    files: Vec<String>,
    skipped_no_strokes: u64,
    skipped_missing_image: u64,
) -> ExportSummary {
    let count = |rows: &[&SampleRow]| {
        let mut per = [0u64; 10];
        for r in rows {
            if let Some(n) = per.get_mut(usize::from(r.label)) {
                *n += 1;
            }
        }
        per
    };
    let sessions = |rows: &[&SampleRow]| -> HashSet<String> {
        rows.iter().filter_map(|r| r.session.clone()).collect()
    };
    let (train_s, test_s) = (sessions(&parts.train), sessions(&parts.test));
    let all = parts.train.iter().chain(&parts.test);
    let first = all.clone().map(|r| r.timestamp.as_str()).min();
    let last = all.clone().map(|r| r.timestamp.as_str()).max();
    ExportSummary {
        format: options.format,
        out: options.out.clone(),
        train: count(&parts.train),
        test: count(&parts.test),
        train_sessions: train_s.len() as u64,
        test_sessions: test_s.len() as u64,
        shared_sessions: train_s.intersection(&test_s).count() as u64,
        without_session: all.filter(|r| r.session.is_none()).count() as u64,
        stations: {
            let mut per = std::collections::BTreeMap::<String, u64>::new();
            for r in parts.train.iter().chain(&parts.test) {
                if let Some(station) = &r.station {
                    *per.entry(station.clone()).or_default() += 1;
                }
            }
            per.into_iter().collect()
        },
        date_range: first.zip(last).map(|(a, b)| (a.to_string(), b.to_string())),
        skipped_no_strokes,
        skipped_missing_image,
        files,
    }
}

/// The top-level names a format writes into `--out` (besides the marker).
fn entries(options: &ExportOptions) -> Vec<String> {
    let mut names: Vec<String> = match options.format {
        Format::Mnist => mnist::FILES
            .iter()
            .map(|f| mnist::file_name(f, options.gzip))
            .collect(),
        Format::Csv => kaggle::FILES.iter().map(|f| f.to_string()).collect(),
        Format::ImageFolder => imagefolder::ENTRIES.iter().map(|f| f.to_string()).collect(),
        Format::Ndjson => ndjson::FILES.iter().map(|f| f.to_string()).collect(),
    };
    names.push(card::FILE.to_string());
    names
}

/// Makes `out` ready: created if new; if it is a previous export, what that
/// export wrote is removed; any other non-empty folder is refused, so an
/// export never overwrites someone's files. Then the marker is written, listing
/// what this export will write.
fn prepare_out(out: &Path, entries: &[String]) -> Result<()> {
    refuse_foreign_out(out)?;
    fs::create_dir_all(out).map_err(|e| Error::io("create folder", out, e))?;
    let marker = out.join(MARKER);
    if let Ok(previous) = fs::read_to_string(&marker) {
        for name in previous.lines().skip(1).filter(|n| is_plain_name(n)) {
            let path = out.join(name);
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("remove", &path, e));
                }
                _ => {}
            }
        }
    }
    let text =
        std::iter::once("digit-kiosk export: these entries are replaced by the next export here")
            .chain(entries.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
    fs::write(&marker, text).map_err(|e| Error::io("write", &marker, e))
}

/// Refuses an `--out` that is a file, or a non-empty folder that is not a
/// previous export; a missing folder is fine (it is created later).
fn refuse_foreign_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::Usage(format!(
            "--out `{}` is a file, not a folder",
            out.display()
        )));
    }
    let Ok(mut listing) = fs::read_dir(out) else {
        return Ok(());
    };
    if listing.next().is_some() && !out.join(MARKER).is_file() {
        return Err(Error::Usage(format!(
            "--out `{}` is not empty and not a previous export; choose a new or empty folder",
            out.display()
        )));
    }
    Ok(())
}

/// A single file or folder name, never a path that leaves the folder.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}

/// The command line as typed, quoted for a POSIX shell where needed, with the
/// program named `digit-kiosk` whatever path started it.
pub fn command_line(args: impl IntoIterator<Item = String>) -> String {
    let quote = |a: String| {
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
        if plain {
            a
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    std::iter::once("digit-kiosk".to_string())
        .chain(args.into_iter().skip(1).map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Progress on stderr: an indicatif bar on a terminal, else a line every 10 %.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: u64,
    done: u64,
    next_line: u64,
}

impl Progress {
    fn new(mode: ProgressMode, total: u64) -> Self {
        let on_terminal = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Auto && on_terminal).then(|| {
            let style =
                ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} samples, {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            ProgressBar::new(total)
                .with_style(style)
                .with_prefix("export")
        });
        let lines = mode == ProgressMode::Auto && !on_terminal;
        Self {
            bar,
            lines,
            total,
            done: 0,
            next_line: total.div_ceil(10).max(1),
        }
    }

    /// `n` more samples written.
    pub(crate) fn inc(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if self.lines && self.done >= self.next_line && self.done < self.total {
            eprintln!(
                "export: {}/{} samples ({}%)",
                self.done,
                self.total,
                self.done * 100 / self.total.max(1)
            );
            while self.next_line <= self.done {
                self.next_line += self.total.div_ceil(10).max(1);
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    /// An export that stops on an error clears its bar too, so the error
    /// line stands alone.
    fn drop(&mut self) {
        self.finish();
    }
}

/// Reads a sample's PNG as 8-bit gray, white ink on black. The program's own
/// PNGs decode directly; anything else (an old app's RGBA canvas) goes through
/// the same normalisation as pixels sent by a browser, and an image without
/// ink there is a blank canvas.
fn load_gray(paths: &DataPaths, row: &SampleRow) -> Result<GrayImage> {
    let path = paths.image(&row.filename);
    let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let unreadable = || Error::Corrupt {
        folder: paths.root.clone(),
        message: format!(
            "images/{} is not a readable PNG; `digit-kiosk check` lists damaged images",
            row.filename
        ),
    };
    match image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map_err(|_| unreadable())?
    {
        image::DynamicImage::ImageLuma8(gray) => Ok(gray),
        _ => match crate::picture::normalize_png(&bytes) {
            Ok(gray) => Ok(gray),
            Err(Error::BadImage(why)) if why.contains("blank") => Ok(crate::raster::blank_image()),
            Err(_) => Err(unreadable()),
        },
    }
}

/// Samples per block handed to the worker threads; bounds memory whatever
/// the dataset's size.
const BLOCK: usize = 4096;

/// Makes the 28×28 image of each row, on all cores, and hands them to `sink`
/// in the rows' order (so the output does not depend on thread timing).
fn for_each_mnist(
    paths: &DataPaths,
    rows: &[&SampleRow],
    progress: &mut Progress,
    mut sink: impl FnMut(&SampleRow, &[u8; preprocess::PIXELS]) -> Result<()>,
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 16);
    let mut images = vec![[0u8; preprocess::PIXELS]; BLOCK.min(rows.len())];
    for block in rows.chunks(BLOCK) {
        let per_thread = block.len().div_ceil(threads).max(1);
        let outcome: Result<()> = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for (n, (chunk, slots)) in block
                .chunks(per_thread)
                .zip(images.chunks_mut(per_thread))
                .enumerate()
            {
                let work = move || -> Result<()> {
                    for (row, slot) in chunk.iter().zip(slots.iter_mut()) {
                        let gray = load_gray(paths, row)?;
                        *slot = preprocess::mnist_pixels(
                            gray.as_raw(),
                            gray.width() as usize,
                            gray.height() as usize,
                        );
                    }
                    Ok(())
                };
                let handle = std::thread::Builder::new()
                    .name(format!("export-{n}"))
                    .spawn_scoped(scope, work)
                    .map_err(|e| Error::io("start a worker thread for", &paths.root, e))?;
                handles.push(handle);
            }
            for handle in handles {
                handle.join().unwrap_or_else(|_| {
                    Err(Error::Usage("an export worker thread failed".into()))
                })?;
            }
            Ok(())
        });
        outcome?;
        for (row, pixels) in block.iter().zip(&images) {
            sink(row, pixels)?;
        }
        progress.inc(block.len() as u64);
    }
    Ok(())
}

/// A buffered file for writing, with the path in its errors.
fn create(path: &Path) -> Result<std::io::BufWriter<fs::File>> {
    fs::File::create(path)
        .map(|f| std::io::BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| Error::io("create", path, e))
}

/// Wraps a write error with the file's path.
fn write_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io("write", path, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_command_is_quoted_for_a_shell() {
        let args = [
            "/x/target/debug/digit-kiosk",
            "export",
            "--out",
            "my data/it's",
            "--seed",
            "3",
        ];
        assert_eq!(
            command_line(args.map(String::from)),
            r"digit-kiosk export --out 'my data/it'\''s' --seed 3"
        );
    }

    #[test]
    fn a_marker_never_names_a_path_outside_the_folder() {
        for bad in ["", ".", "..", "../x", "a/b", "/etc", r"a\b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
        assert!(is_plain_name("train-images-idx3-ubyte.gz"));
    }
}
