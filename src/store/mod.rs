//! The store: the one writer of a data folder (see SPEC.md, "The data folder").
//!
//! Write order for a batch of samples, so that an acknowledged sample is
//! always on disk and a crash at any moment leaves nothing half-stored:
//!
//! 1. each PNG is written to a pending name (`images/.<name>.tmp`) and
//!    fsync'd; then `images/` is fsync'd once;
//! 2. all rows are inserted in one transaction and committed (WAL,
//!    `synchronous = FULL`): from here the samples exist;
//! 3. each pending PNG is renamed to its final name; `images/` fsync'd once;
//! 4. the CSV lines are appended in id order and fsync'd;
//! 5. only then is each submitter answered.
//!
//! On open, recovery finishes what a crash interrupted: a pending PNG whose
//! row was committed is renamed into place (step 3), one without a row was
//! never acknowledged and is removed; a `labels.csv` whose rows are a prefix
//! of the database (step 4 cut short, maybe mid-line) gets its tail appended.
//! Anything else that disagrees is left for `check` to report.

pub mod db;
pub mod files;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::digit::Digit;
use crate::error::{Error, Result};
pub use db::{SampleRow, Summary};
pub use files::{CsvRow, DataPaths};

/// Where a sample came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Drawn in the station's window.
    Window,
    /// Sent over HTTP by a browser or script.
    Web,
    /// Copied from another station's folder by `merge`.
    Merge,
}

impl Source {
    /// The name stored in the `source` column.
    pub fn name(self) -> &'static str {
        match self {
            Source::Window => "window",
            Source::Web => "web",
            Source::Merge => "merge",
        }
    }
}

/// A sample ready to be stored: the PNG is made, everything is checked.
#[derive(Debug, Clone)]
pub struct NewSample {
    /// Its label.
    pub label: Digit,
    /// The PNG bytes to store.
    pub png: Vec<u8>,
    /// SHA-256 of `png`, hex.
    pub sha256: String,
    /// The strokes as JSON, if it was drawn as strokes.
    pub strokes: Option<String>,
    /// Where it came from.
    pub source: Source,
    /// Client address for the CSV and database.
    pub ip: String,
    /// Participant run.
    pub session: Option<String>,
    /// Station of origin (merges).
    pub station: Option<String>,
    /// A file name to keep if it is free (merges); otherwise one is made.
    pub preferred_name: Option<String>,
    /// The instant to record (merges keep the original); now if absent.
    pub at: Option<DateTime<Utc>>,
}

/// What a submitter gets back once its sample is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Row id.
    pub id: i64,
    /// File name inside `images/`.
    pub filename: String,
    /// The label stored.
    pub label: Digit,
    /// The instant recorded (the file name's stamp).
    pub timestamp: DateTime<Utc>,
}

/// The writer of one data folder. Holds the folder lock while it lives.
pub struct Store {
    paths: DataPaths,
    conn: Connection,
    csv: File,
    /// The stamp of the newest name made, and names made with it: two samples
    /// in the same microsecond get `_1`, `_2`, ...
    last_stamp: String,
    names_at_last_stamp: HashSet<String>,
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) the data folder for writing: takes the
    /// lock, migrates the database, and recovers from an interrupted write.
    pub fn open(paths: DataPaths) -> Result<Self> {
        files::create_layout(&paths)?;
        let lock = files::lock_folder(&paths)?;
        let conn = db::open_writer(&paths.db())?;
        recover_pending_images(&paths, &conn)?;
        heal_csv_tail(&paths, &conn)?;
        let csv_path = paths.csv();
        let csv = OpenOptions::new().append(true).open(&csv_path).map_err(|e| Error::io("open", &csv_path, e))?;
        Ok(Self { paths, conn, csv, last_stamp: String::new(), names_at_last_stamp: HashSet::new(), _lock: lock })
    }

    /// The folder's paths.
    pub fn paths(&self) -> &DataPaths {
        &self.paths
    }

    /// Samples per label.
    pub fn counts(&self) -> Result<[u64; 10]> {
        db::counts(&self.conn).map_err(|e| self.db_err(e))
    }

    /// Makes a batch durable (see the module docs for the order) and returns
    /// each sample's receipt or error, in order. A failed PNG write fails only
    /// that sample; a failed commit fails the batch and leaves no trace.
    pub fn commit(&mut self, batch: Vec<NewSample>) -> Vec<Result<Receipt>> {
        let mut results: Vec<Option<Result<Receipt>>> = Vec::with_capacity(batch.len());
        let mut pending: Vec<(usize, String, DateTime<Utc>)> = Vec::new();
        for (i, sample) in batch.iter().enumerate() {
            let (name, at) = self.make_name(sample);
            match files::write_synced(&self.paths.pending_image(&name), &sample.png) {
                Ok(()) => {
                    pending.push((i, name, at));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if let Err(e) = self.commit_pending(&batch, &pending, &mut results) {
            for (i, name, _) in &pending {
                let _ = fs::remove_file(self.paths.pending_image(name)); // never acknowledged
                if let Some(slot) = results.get_mut(*i) {
                    *slot = Some(Err(Error::StorageFailed(e.to_string())));
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Err(Error::WriterStopped))).collect()
    }

    fn commit_pending(
        &mut self,
        batch: &[NewSample],
        pending: &[(usize, String, DateTime<Utc>)],
        results: &mut [Option<Result<Receipt>>],
    ) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        files::sync_dir(&self.paths.images())?;
        let stamps: Vec<String> = pending.iter().map(|(_, _, at)| files::db_timestamp(at)).collect();
        let rows: Vec<db::NewRow> = pending
            .iter()
            .zip(&stamps)
            .filter_map(|((i, name, _), ts)| {
                let s = batch.get(*i)?;
                Some(db::NewRow {
                    filename: name,
                    label: s.label.value(),
                    timestamp: ts,
                    ip: &s.ip,
                    source: s.source.name(),
                    session: s.session.as_deref(),
                    station: s.station.as_deref(),
                    strokes: s.strokes.as_deref(),
                    sha256: &s.sha256,
                })
            })
            .collect();
        let ids = db::insert_rows(&mut self.conn, &rows).map_err(|e| self.db_err(e))?;

        // Committed: the samples exist. What follows completes them; a crash
        // from here on is finished by recovery at the next open.
        for (_, name, _) in pending {
            let (from, to) = (self.paths.pending_image(name), self.paths.image(name));
            if let Err(e) = fs::rename(&from, &to) {
                eprintln!(
                    "digit-kiosk: cannot rename `{}`: {e}; it will be finished at the next start",
                    from.display()
                );
            }
        }
        if let Err(e) = files::sync_dir(&self.paths.images()) {
            eprintln!("digit-kiosk: {e}");
        }
        let csv_rows: Vec<CsvRow> = rows.iter().map(|r| CsvRow::of(r.filename, r.label, r.timestamp, r.ip)).collect();
        if let Err(e) = self.csv.write_all(&files::csv_lines(&csv_rows)).and_then(|()| self.csv.sync_data()) {
            eprintln!(
                "digit-kiosk: cannot append to labels.csv ({e}); it is rebuilt from the database at the next start"
            );
        }
        for ((i, name, at), id) in pending.iter().zip(ids) {
            if let (Some(slot), Some(s)) = (results.get_mut(*i), batch.get(*i)) {
                *slot = Some(Ok(Receipt { id, filename: name.clone(), label: s.label, timestamp: *at }));
            }
        }
        Ok(())
    }

    /// A free file name for the sample: its preferred one if free, else
    /// `digit_<label>_<stamp>.png`, with `_<n>` on a clash.
    fn make_name(&mut self, sample: &NewSample) -> (String, DateTime<Utc>) {
        let at = sample.at.unwrap_or_else(Utc::now);
        let stamp = files::compact_stamp(&at);
        if stamp != self.last_stamp {
            self.last_stamp = stamp.clone();
            self.names_at_last_stamp.clear();
        }
        let base = sample
            .preferred_name
            .as_deref()
            .and_then(|n| n.strip_suffix(".png"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("digit_{}_{stamp}", sample.label));
        let mut name = format!("{base}.png");
        let mut n = 0;
        while self.names_at_last_stamp.contains(&name) || self.name_taken(&name) {
            n += 1;
            name = format!("{base}_{n}.png");
        }
        self.names_at_last_stamp.insert(name.clone());
        (name, at)
    }

    fn name_taken(&self, name: &str) -> bool {
        self.paths.image(name).exists()
            || self.paths.pending_image(name).exists()
            || db::has_filename(&self.conn, name).unwrap_or(true)
    }

    fn db_err(&self, source: rusqlite::Error) -> Error {
        Error::Database { path: self.paths.db(), source }
    }
}

/// Step 3 of an interrupted batch: rename committed pending PNGs into place,
/// remove the ones whose row never committed (they were never acknowledged).
fn recover_pending_images(paths: &DataPaths, conn: &Connection) -> Result<()> {
    let dir = paths.images();
    let entries = fs::read_dir(&dir).map_err(|e| Error::io("read folder", &dir, e))?;
    let mut changed = false;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(target) = file_name.to_str().and_then(files::pending_target) else { continue };
        let committed = db::has_filename(conn, target).map_err(|e| Error::Database { path: paths.db(), source: e })?;
        let result =
            if committed { fs::rename(entry.path(), paths.image(target)) } else { fs::remove_file(entry.path()) };
        result.map_err(|e| Error::io("recover", entry.path(), e))?;
        changed = true;
    }
    if changed {
        files::sync_dir(&dir)?;
    }
    Ok(())
}

/// Step 4 of an interrupted batch: if `labels.csv` holds a prefix of the
/// database's rows (possibly with a cut last line), append the rest. A
/// missing CSV is created from the database.
fn heal_csv_tail(paths: &DataPaths, conn: &Connection) -> Result<()> {
    let csv_path = paths.csv();
    let samples = db::read_samples(conn).map_err(|e| Error::Database { path: paths.db(), source: e })?;
    let expected: Vec<CsvRow> = samples.iter().map(|s| CsvRow::of(&s.filename, s.label, &s.timestamp, &s.ip)).collect();
    if !csv_path.exists() {
        return files::replace_atomically(&csv_path, &files::csv_file(&expected));
    }
    let Ok((rows, torn)) = files::read_csv(&csv_path) else {
        return Ok(()); // unreadable: `check` reports it, `check --repair` rebuilds it
    };
    let is_prefix = rows.len() <= expected.len() && expected.iter().zip(&rows).all(|(a, b)| a == b);
    if is_prefix && (torn || rows.len() < expected.len()) {
        files::replace_atomically(&csv_path, &files::csv_file(&expected))?;
    }
    Ok(())
}

impl Store {
    /// Every sample in id order.
    pub fn samples(&self) -> Result<Vec<SampleRow>> {
        db::read_samples(&self.conn).map_err(|e| self.db_err(e))
    }

    /// Rewrites `labels.csv` from the database, atomically.
    pub fn rebuild_csv(&mut self) -> Result<()> {
        let rows: Vec<CsvRow> =
            self.samples()?.iter().map(|s| CsvRow::of(&s.filename, s.label, &s.timestamp, &s.ip)).collect();
        let path = self.paths.csv();
        files::replace_atomically(&path, &files::csv_file(&rows))?;
        self.csv = OpenOptions::new().append(true).open(&path).map_err(|e| Error::io("open", &path, e))?;
        Ok(())
    }
}

/// Runs `f` on the folder's database for reading. When no other process
/// holds the folder it is opened as the writer would (migrating a Flask-made
/// or older folder first); when a kiosk is running, read-only beside it.
pub fn read<T>(paths: &DataPaths, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
    if !paths.db().exists() {
        return Err(Error::Corrupt {
            folder: paths.root.clone(),
            message: "no digits.db here: nothing has been collected in this folder".into(),
        });
    }
    let db_err = |source| Error::Database { path: paths.db(), source };
    match Store::open(paths.clone()) {
        Ok(store) => f(&store.conn).map_err(db_err),
        Err(Error::FolderInUse { .. }) => f(&db::open_reader(&paths.db())?).map_err(db_err),
        Err(e) => Err(e),
    }
}
