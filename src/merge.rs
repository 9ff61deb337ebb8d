//! `merge SRC... --into DIR`: combines the data folders of several stations
//! (a classroom with four kiosks) into one. Every sample goes through
//! [`Collector::store`], so the merged folder gets the store's write order
//! and durability like any submission, and `check` passes on it.
//!
//! - **Duplicates** are recognised by content: the SHA-256 of the PNG (worked
//!   out from the file for rows of the original app, which have none), and
//!   skipped, whether already in `DIR` or met earlier in this merge.
//! - **Origin** goes into the `station` column: the source folder's name
//!   (with its parent's when two sources share a name); a sample that already
//!   names a station, from an earlier merge, keeps it.
//! - **Names** are kept; only a real clash (the same name, other content)
//!   gets `_1`, `_2`, ... before `.png`, as the store names two samples of
//!   one microsecond. Label, timestamp, ip, session and strokes are kept.
//!
//! Sources are only read (a running kiosk may hold one; a folder of the
//! original app is migrated in place first, as by every command). Samples are stored
//! from several threads so the store commits them in batches; their ids in
//! `DIR` therefore follow the order they were committed, not the sources'.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use crate::check;
use crate::collector::{Collector, sha256_hex};
use crate::digit::Digit;
use crate::error::{Error, Result};
use crate::store::{self, DataPaths, NewSample, SampleRow, Source, db, files};

/// Samples stored at once: enough for the store to fill its batches.
const STORERS: usize = 32;

/// What happened to one source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The folder as given.
    pub folder: PathBuf,
    /// The station name recorded for its samples (unless they had one).
    pub station: String,
    /// Samples in it.
    pub samples: u64,
    /// Samples copied into the destination.
    pub merged: u64,
    /// Samples skipped as exact duplicates.
    pub duplicates: u64,
    /// Samples stored under a new name because theirs was taken.
    pub renamed: u64,
    /// Rows whose PNG is missing: left out.
    pub missing_images: u64,
}

/// The outcome of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeReport {
    /// One entry per source, in the order given.
    pub sources: Vec<SourceReport>,
    /// The destination's `check` after the merge.
    pub check: check::Report,
}

/// Merges `sources` into the data folder `into` (created if needed).
pub fn run(sources: &[PathBuf], into: &Path) -> Result<MergeReport> {
    for source in sources {
        if !DataPaths::new(source).db().is_file() {
            return Err(Error::Usage(format!(
                "`{}` is not a data folder: it has no digits.db",
                source.display()
            )));
        }
    }
    let stations = station_names(sources);
    let dest = DataPaths::new(into);
    let collector = Collector::open(dest.clone())?;
    let outcome = merge_into(&collector, &dest, sources, &stations);
    collector.shutdown();
    let reports = outcome?;
    let check = check::run(&dest, false)?;
    Ok(MergeReport {
        sources: reports,
        check,
    })
}

fn merge_into(
    collector: &Collector,
    dest: &DataPaths,
    sources: &[PathBuf],
    stations: &[String],
) -> Result<Vec<SourceReport>> {
    // What the destination already holds (read beside our own writer).
    let existing = store::read(dest, db::read_samples_without_strokes)?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut taken: HashSet<String> = HashSet::new();
    for row in &existing {
        taken.insert(row.filename.clone());
        let hash = match &row.sha256 {
            Some(h) => Some(h.clone()),
            None => fs::read(dest.image(&row.filename))
                .ok()
                .map(|b| sha256_hex(&b)),
        };
        seen.extend(hash);
    }

    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let (send, receive) = mpsc::sync_channel::<NewSample>(STORERS * 2);
    let receive = Mutex::new(receive);
    let reports = std::thread::scope(|scope| {
        for n in 0..STORERS {
            let (receive, failure) = (&receive, &failure);
            let storer = move || {
                loop {
                    let next = receive
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    let Ok(sample) = next else { break };
                    if let Err(e) = collector.store(sample) {
                        failure
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .get_or_insert(e);
                    }
                }
            };
            if let Err(e) = std::thread::Builder::new()
                .name(format!("merge-{n}"))
                .spawn_scoped(scope, storer)
            {
                failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(Error::io("start a thread for", dest.root.clone(), e));
                break;
            }
        }
        let mut reports = Vec::new();
        for (source, station) in sources.iter().zip(stations) {
            if failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
            {
                break;
            }
            match plan_source(source, station, dest, &mut seen, &mut taken, &send) {
                Ok(report) => reports.push(report),
                Err(e) => {
                    failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(e);
                    break;
                }
            }
        }
        drop(send); // the storers finish what is queued, then stop
        reports
    });
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// Reads one source and queues each new sample for storing.
fn plan_source(
    source: &Path,
    station: &str,
    dest: &DataPaths,
    seen: &mut HashSet<String>,
    taken: &mut HashSet<String>,
    send: &mpsc::SyncSender<NewSample>,
) -> Result<SourceReport> {
    let paths = DataPaths::new(source);
    let rows = store::read(&paths, db::read_samples)?;
    let mut report = SourceReport {
        folder: source.to_path_buf(),
        station: station.to_string(),
        samples: rows.len() as u64,
        merged: 0,
        duplicates: 0,
        renamed: 0,
        missing_images: 0,
    };
    for row in rows {
        let Ok(png) = fs::read(paths.image(&row.filename)) else {
            report.missing_images += 1;
            continue;
        };
        let sha256 = sha256_hex(&png);
        if !seen.insert(sha256.clone()) {
            report.duplicates += 1;
            continue;
        }
        let name = free_name(&row.filename, dest, taken);
        report.renamed += u64::from(name != row.filename);
        let sample = new_sample(row, png, sha256, name, station)?;
        send.send(sample).map_err(|_| Error::WriterStopped)?;
        report.merged += 1;
    }
    Ok(report)
}

fn new_sample(
    row: SampleRow,
    png: Vec<u8>,
    sha256: String,
    name: String,
    station: &str,
) -> Result<NewSample> {
    Ok(NewSample {
        label: Digit::try_from(row.label)?,
        png,
        sha256,
        strokes: row.strokes,
        source: Source::Merge,
        ip: row.ip,
        session: row.session,
        station: Some(row.station.unwrap_or_else(|| station.to_string())),
        at: files::parse_db_timestamp(&row.timestamp),
        preferred_name: Some(name),
    })
}

/// The sample's own name if nothing in the destination has it, else the
/// first free `<name>_<n>.png`.
fn free_name(name: &str, dest: &DataPaths, taken: &mut HashSet<String>) -> String {
    let free = |n: &str, taken: &HashSet<String>| !taken.contains(n) && !dest.image(n).exists();
    let base = name.strip_suffix(".png").unwrap_or(name);
    let mut candidate = format!("{base}.png");
    let mut n = 0;
    while !free(&candidate, taken) {
        n += 1;
        candidate = format!("{base}_{n}.png");
    }
    taken.insert(candidate.clone());
    candidate
}

/// Each source's folder name; where two differ in path but share a name,
/// their parent's name is put before it (`kiosk1/data`).
fn station_names(sources: &[PathBuf]) -> Vec<String> {
    let full: Vec<PathBuf> = sources
        .iter()
        .map(|s| fs::canonicalize(s).unwrap_or_else(|_| s.clone()))
        .collect();
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "station".into())
    };
    full.iter()
        .map(|p| {
            let clash = full.iter().any(|q| q != p && name(q) == name(p));
            match (clash, p.parent().and_then(|parent| parent.file_name())) {
                (true, Some(parent)) => format!("{}/{}", parent.to_string_lossy(), name(p)),
                _ => name(p),
            }
        })
        .collect()
}
