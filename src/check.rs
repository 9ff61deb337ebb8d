//! `check`: do the database, `labels.csv` and `images/` agree? A list of
//! problems in plain words, and the one repair that is always safe:
//! rebuilding the CSV from the database. Orphan images are listed, never
//! deleted: a person decides what they are.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;

use crate::collector::sha256_hex;
use crate::error::{Error, Result};
use crate::store::{CsvRow, DataPaths, Store, files};

/// One disagreement between the three parts of a data folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A row whose PNG is not in `images/`.
    MissingImage(String),
    /// A PNG in `images/` that no row names.
    OrphanImage(String),
    /// A PNG whose bytes differ from the checksum recorded when it was stored.
    ChangedImage(String),
    /// A file name that more than one row holds.
    DuplicateRow(String),
    /// A row with no line in `labels.csv`.
    CsvMissing(String),
    /// A line in `labels.csv` with no row.
    CsvExtra(String),
    /// A line in `labels.csv` whose values differ from its row.
    CsvDifferent(String),
    /// `labels.csv` lines in another order than the rows.
    CsvOrder,
    /// `labels.csv` cannot be parsed at all, or its last line is cut short.
    CsvUnreadable(String),
}

impl Problem {
    /// Whether `check --repair` fixes it (by rebuilding the CSV).
    pub fn is_csv(&self) -> bool {
        matches!(
            self,
            Problem::CsvMissing(_)
                | Problem::CsvExtra(_)
                | Problem::CsvDifferent(_)
                | Problem::CsvOrder
                | Problem::CsvUnreadable(_)
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingImage(n) => {
                write!(f, "missing image: images/{n} has a row but no file")
            }
            Problem::OrphanImage(n) => {
                write!(f, "orphan image: images/{n} has no row (left in place)")
            }
            Problem::ChangedImage(n) => write!(
                f,
                "changed image: images/{n} does not match its recorded SHA-256"
            ),
            Problem::DuplicateRow(n) => {
                write!(f, "duplicate rows: {n} is named by more than one row")
            }
            Problem::CsvMissing(n) => write!(f, "labels.csv lacks the row of {n}"),
            Problem::CsvExtra(n) => write!(f, "labels.csv has a line for {n}, which has no row"),
            Problem::CsvDifferent(n) => write!(f, "labels.csv line for {n} differs from its row"),
            Problem::CsvOrder => write!(f, "labels.csv lines are not in the order of the rows"),
            Problem::CsvUnreadable(why) => write!(f, "labels.csv: {why}"),
        }
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Rows in the database.
    pub samples: usize,
    /// Everything that disagrees, sorted.
    pub problems: Vec<Problem>,
    /// Whether the CSV was rebuilt.
    pub repaired_csv: bool,
    /// What opening the folder finished of an interrupted write (see
    /// [`Store::recovered`]): told, not counted as problems.
    pub recovered: Vec<String>,
}

/// Checks the folder; with `repair`, first rebuilds `labels.csv` when it
/// disagrees, then checks again. Opening the folder takes its lock (a
/// running kiosk is named) and finishes any write a crash interrupted.
pub fn run(paths: &DataPaths, repair: bool) -> Result<Report> {
    if !paths.root.is_dir() {
        return Err(Error::Usage(format!(
            "no data folder at `{}`",
            paths.root.display()
        )));
    }
    let mut store = Store::open(paths.clone())?;
    let mut report = inspect(&store)?;
    if repair && report.problems.iter().any(Problem::is_csv) {
        store.rebuild_csv()?;
        report = inspect(&store)?;
        report.repaired_csv = true;
    }
    report.recovered = store.recovered().to_vec();
    Ok(report)
}

fn inspect(store: &Store) -> Result<Report> {
    let paths = store.paths();
    let samples = store.samples()?;
    let mut problems = Vec::new();

    let mut seen = HashSet::new();
    for s in &samples {
        if !seen.insert(s.filename.as_str()) {
            problems.push(Problem::DuplicateRow(s.filename.clone()));
        }
    }

    let images_dir = paths.images();
    let on_disk: HashSet<String> = fs::read_dir(&images_dir)
        .map_err(|e| Error::io("read folder", &images_dir, e))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
        .collect();
    for s in &samples {
        if !on_disk.contains(&s.filename) {
            problems.push(Problem::MissingImage(s.filename.clone()));
        } else if let Some(expected) = &s.sha256 {
            let path = paths.image(&s.filename);
            let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            if &sha256_hex(&bytes) != expected {
                problems.push(Problem::ChangedImage(s.filename.clone()));
            }
        }
    }
    problems.extend(
        on_disk
            .iter()
            .filter(|n| !seen.contains(n.as_str()))
            .map(|n| Problem::OrphanImage(n.clone())),
    );

    let expected: Vec<CsvRow> = samples
        .iter()
        .map(|s| CsvRow::of(&s.filename, s.label, &s.timestamp, &s.ip))
        .collect();
    match files::read_csv(&paths.csv()) {
        Err(e) => problems.push(Problem::CsvUnreadable(e.to_string())),
        Ok((rows, torn)) => {
            if torn {
                problems.push(Problem::CsvUnreadable("its last line is cut short".into()));
            }
            problems.extend(compare_csv(&expected, &rows));
        }
    }
    problems.sort();
    problems.dedup();
    Ok(Report {
        samples: samples.len(),
        problems,
        repaired_csv: false,
        recovered: Vec::new(),
    })
}

fn compare_csv(expected: &[CsvRow], rows: &[CsvRow]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let by_name: HashMap<&str, &CsvRow> = rows.iter().map(|r| (r.filename.as_str(), r)).collect();
    let db_names: HashSet<&str> = expected.iter().map(|r| r.filename.as_str()).collect();
    for want in expected {
        match by_name.get(want.filename.as_str()) {
            None => problems.push(Problem::CsvMissing(want.filename.clone())),
            Some(got) if *got != want => {
                problems.push(Problem::CsvDifferent(want.filename.clone()))
            }
            Some(_) => {}
        }
    }
    let mut counted = HashSet::new();
    for row in rows {
        if !db_names.contains(row.filename.as_str()) || !counted.insert(row.filename.as_str()) {
            problems.push(Problem::CsvExtra(row.filename.clone()));
        }
    }
    if problems.is_empty() && expected != rows {
        problems.push(Problem::CsvOrder);
    }
    problems
}
