//! The store: the one writer of a data folder (see SPEC.md, "The data folder").
//!
//! Write order for a batch of samples, so that an acknowledged sample is
//! always on disk and a crash at any moment leaves nothing half-stored:
//!
//! 1. each PNG is written to a pending name (`images/.<name>.tmp`) and
//!    fsync'd by its own submitter ([`Names::prepare`]); then the writer
//!    fsyncs `images/` once for the batch;
//! 2. all rows are inserted in one transaction and committed (WAL,
//!    `synchronous = FULL`): from here the samples exist;
//! 3. each pending PNG is renamed to its final name;
//! 4. the CSV lines are appended in id order (written, not fsync'd);
//! 5. only then is each submitter answered.
//!
//! Steps 3 and 4 need no fsync of their own: once step 2 has committed, a
//! crash that loses a rename or a CSV line is finished by recovery at the
//! next open (below), from the pending PNG (durable since step 1) and the
//! committed row. So the durable work per batch is the submitters' PNG
//! fsyncs, one folder fsync and one commit.
//!
//! Why step 1 runs on the submitters' threads: this disk does a few hundred
//! to two thousand fsyncs a second one after another, but concurrent fsyncs
//! share the file system's journal commits. So 32 submitters fsync their 32
//! PNGs at once, while the writer is still committing the previous batch,
//! and the writer's own work per batch is two fsyncs whatever its size.
//!
//! Delete order ([`Store::delete`]), so that a sample is never half-deleted:
//!
//! 1. its PNG is renamed from `images/` into `trash/` (created if missing;
//!    `<stem>~<n>.png` when an earlier deletion left one of that name), then
//!    `trash/` and `images/` are fsync'd;
//! 2. its row is deleted in one transaction and committed: from here the
//!    sample is gone (if the commit fails, the PNG is renamed back);
//! 3. `labels.csv` is rewritten from the database atomically (temporary
//!    file, fsync, rename, folder fsync);
//! 4. only then is the caller answered.
//!
//! On open, recovery finishes what a crash interrupted, in this order:
//!
//! - a pending PNG whose row was committed is renamed into place (write
//!   step 3), one without a row was never acknowledged and is removed;
//! - a PNG in `trash/` whose row is still in the database, and missing from
//!   `images/`, was moved by a delete that never committed (delete step 1
//!   without step 2): it is moved back, so the sample is whole again (the
//!   file whose bytes match the row's SHA-256, where one is recorded);
//! - a `labels.csv` whose rows are a prefix of the database (write step 4
//!   cut short, maybe mid-line) gets its tail appended; one that still lists
//!   samples whose rows are gone and whose PNGs are in `trash/` (a delete
//!   committed, delete step 3 not done) is rewritten from the database.
//!
//! Anything else that disagrees is left for `check` to report.

pub mod db;
pub mod files;

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::digit::Digit;
use crate::error::{Error, Result};
pub use db::{SampleRow, Summary};
pub use files::{CsvRow, DataPaths};

/// What [`Store::delete`] removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Deleted {
    /// The row as it was, strokes included, so a front end can put the
    /// drawing back.
    pub sample: SampleRow,
    /// The PNG's name inside `trash/`: its own name, or `<stem>~<n>.png` on
    /// a clash; `None` when the row had no PNG left to move.
    pub trashed: Option<String>,
}

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

/// A sample whose PNG is already durable under its pending name
/// (`images/.<name>.tmp`), waiting for the writer to commit it. Made by
/// [`Names::prepare`]; given up with [`Names::abandon`] if it will not be.
#[derive(Debug)]
pub struct PendingSample {
    sample: NewSample,
    name: String,
    at: DateTime<Utc>,
}

impl PendingSample {
    /// The file name it will have in `images/`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Gives new samples their file names and writes their pending PNGs. One per
/// store, shared by every submitter ([`Store::names`]); safe on any thread.
pub struct Names {
    paths: DataPaths,
    state: Mutex<NameState>,
}

struct NameState {
    /// Read-only, to ask whether a row already holds a name.
    conn: Connection,
    /// Names given out and not yet committed or given up: two samples in the
    /// same microsecond get `_1`, `_2`, ... even before either is stored.
    reserved: HashSet<String>,
}

impl Names {
    /// Names the sample (stamping it now, unless it carries its instant) and
    /// writes its PNG durably under the pending name, on the caller's thread.
    pub fn prepare(&self, mut sample: NewSample) -> Result<PendingSample> {
        let (name, at) = self.reserve(&sample);
        let path = self.paths.pending_image(&name);
        if let Err(e) = files::write_synced(&path, &sample.png) {
            let _ = fs::remove_file(&path); // a part-written file; recovery would remove it too
            self.release([name.as_str()]);
            return Err(e);
        }
        sample.png = Vec::new(); // on disk now; the batch need not hold it
        Ok(PendingSample { sample, name, at })
    }

    /// Gives up a prepared sample that will not be committed: its pending
    /// file is removed and its name is free again.
    pub fn abandon(&self, pending: PendingSample) {
        let _ = fs::remove_file(self.paths.pending_image(&pending.name)); // else recovery removes it
        self.release([pending.name.as_str()]);
    }

    /// A free name: the sample's preferred one if free, else
    /// `digit_<label>_<stamp>.png`, with `_<n>` on a clash.
    fn reserve(&self, sample: &NewSample) -> (String, DateTime<Utc>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let at = sample.at.unwrap_or_else(Utc::now);
        let base = sample
            .preferred_name
            .as_deref()
            .and_then(|n| n.strip_suffix(".png"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("digit_{}_{}", sample.label, files::compact_stamp(&at)));
        let mut name = format!("{base}.png");
        let mut n = 0;
        while state.reserved.contains(&name) || self.taken(&state.conn, &name) {
            n += 1;
            name = format!("{base}_{n}.png");
        }
        state.reserved.insert(name.clone());
        (name, at)
    }

    fn taken(&self, conn: &Connection, name: &str) -> bool {
        self.paths.image(name).exists()
            || self.paths.pending_image(name).exists()
            // An unreadable database must not loop here forever; the insert
            // meets the unique index and fails the batch if the name is taken.
            || db::has_filename(conn, name).unwrap_or(false)
    }

    fn release<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for name in names {
            state.reserved.remove(name);
        }
    }
}

/// The writer of one data folder. Holds the folder lock while it lives.
pub struct Store {
    paths: DataPaths,
    conn: Connection,
    csv: File,
    names: Arc<Names>,
    /// What opening finished of an interrupted write, in plain words.
    recovered: Vec<String>,
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) the data folder for writing: takes the
    /// lock, migrates the database, and recovers from an interrupted write.
    pub fn open(paths: DataPaths) -> Result<Self> {
        files::create_layout(&paths)?;
        let lock = files::lock_folder(&paths)?;
        let conn = db::open_writer(&paths.db())?;
        let mut recovered = recover_pending_images(&paths, &conn)?;
        recovered.extend(recover_uncommitted_deletes(&paths, &conn)?);
        recovered.extend(heal_csv_tail(&paths, &conn)?);
        let csv_path = paths.csv();
        let csv = OpenOptions::new()
            .append(true)
            .open(&csv_path)
            .map_err(|e| Error::io("open", &csv_path, e))?;
        let state = NameState {
            conn: db::open_reader(&paths.db())?,
            reserved: HashSet::new(),
        };
        let names = Arc::new(Names {
            paths: paths.clone(),
            state: Mutex::new(state),
        });
        Ok(Self {
            paths,
            conn,
            csv,
            names,
            recovered,
            _lock: lock,
        })
    }

    /// What opening the folder finished of a write a crash interrupted
    /// (empty when nothing was), for `check` to tell.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// The folder's paths.
    pub fn paths(&self) -> &DataPaths {
        &self.paths
    }

    /// The namer submitters prepare their samples with before handing them
    /// to [`Store::commit`].
    pub fn names(&self) -> Arc<Names> {
        Arc::clone(&self.names)
    }

    /// Samples per label.
    pub fn counts(&self) -> Result<[u64; 10]> {
        db::counts(&self.conn).map_err(|e| self.db_err(e))
    }

    /// Makes a batch of prepared samples durable (steps 1 to 4 of the module
    /// docs) and returns each one's receipt, in order. A failed commit fails
    /// the whole batch and leaves no trace of it.
    pub fn commit(&mut self, batch: Vec<PendingSample>) -> Vec<Result<Receipt>> {
        if batch.is_empty() {
            return Vec::new();
        }
        let stamps: Vec<String> = batch.iter().map(|p| files::db_timestamp(&p.at)).collect();
        let rows: Vec<db::NewRow> = batch
            .iter()
            .zip(&stamps)
            .map(|(p, timestamp)| db::NewRow {
                filename: &p.name,
                label: p.sample.label.value(),
                timestamp,
                ip: &p.sample.ip,
                source: p.sample.source.name(),
                session: p.sample.session.as_deref(),
                station: p.sample.station.as_deref(),
                strokes: p.sample.strokes.as_deref(),
                sha256: &p.sample.sha256,
            })
            .collect();
        let committed = files::sync_dir(&self.paths.images())
            .and_then(|()| db::insert_rows(&mut self.conn, &rows).map_err(|e| self.db_err(e)));
        let ids = match committed {
            Ok(ids) => ids,
            Err(e) => {
                let message = e.to_string();
                for pending in batch {
                    self.names.abandon(pending); // never acknowledged
                }
                return rows_failed(&message, stamps.len());
            }
        };

        // Committed: the samples exist. What follows completes them; a crash
        // from here on is finished by recovery at the next open.
        for p in &batch {
            let (from, to) = (self.paths.pending_image(&p.name), self.paths.image(&p.name));
            if let Err(e) = fs::rename(&from, &to) {
                eprintln!(
                    "digit-kiosk: cannot rename `{}`: {e}; it will be finished at the next start",
                    from.display()
                );
            }
        }
        let csv_rows: Vec<CsvRow> = rows
            .iter()
            .map(|r| CsvRow::of(r.filename, r.label, r.timestamp, r.ip))
            .collect();
        if let Err(e) = self.csv.write_all(&files::csv_lines(&csv_rows)) {
            eprintln!(
                "digit-kiosk: cannot append to labels.csv ({e}); it is rebuilt from the database at the next start"
            );
        }
        self.names.release(batch.iter().map(|p| p.name.as_str()));
        batch
            .into_iter()
            .zip(ids)
            .map(|(p, id)| {
                Ok(Receipt {
                    id,
                    filename: p.name,
                    label: p.sample.label,
                    timestamp: p.at,
                })
            })
            .collect()
    }

    /// Deletes one sample (the delete order of the module docs): its PNG
    /// moves to `trash/`, its row leaves the database, `labels.csv` is
    /// rewritten. Returns the row as it was. A failure before the row is
    /// deleted leaves the sample whole.
    pub fn delete(&mut self, id: i64) -> Result<Deleted> {
        let sample = db::read_sample(&self.conn, id)
            .map_err(|e| self.db_err(e))?
            .ok_or(Error::NoSuchSample(id))?;
        let images = self.paths.images();
        let trash = self.paths.trash();
        // A committed sample's PNG is in place, or still pending if its rename failed.
        let png = [
            self.paths.image(&sample.filename),
            self.paths.pending_image(&sample.filename),
        ]
        .into_iter()
        .find(|p| p.exists());
        let trashed = match png {
            None => None,
            Some(from) => {
                files::create_dir_synced(&trash)?;
                let name = files::trash_name(&trash, &sample.filename);
                let to = trash.join(&name);
                fs::rename(&from, &to).map_err(|e| Error::io("move to trash/", &from, e))?;
                if let Err(e) = files::sync_dir(&trash).and_then(|()| files::sync_dir(&images)) {
                    self.untrash(&to, &sample.filename);
                    return Err(e);
                }
                Some(name)
            }
        };
        match db::delete_row(&mut self.conn, id) {
            Ok(true) => {}
            outcome => {
                if let Some(name) = &trashed {
                    self.untrash(&trash.join(name), &sample.filename);
                }
                return Err(match outcome {
                    Err(e) => self.db_err(e),
                    Ok(_) => Error::NoSuchSample(id),
                });
            }
        }
        // Deleted: what follows completes it; a crash from here on is
        // finished by recovery at the next open.
        if let Err(e) = self.rebuild_csv() {
            eprintln!(
                "digit-kiosk: cannot rewrite labels.csv ({e}); it is rewritten from the database at the next start"
            );
        }
        Ok(Deleted { sample, trashed })
    }

    /// Undoes delete step 1 after a later step failed. If even that fails,
    /// recovery at the next open moves the PNG back (its row is still there).
    fn untrash(&self, trashed: &std::path::Path, filename: &str) {
        let back = fs::rename(trashed, self.paths.image(filename))
            .map_err(|e| Error::io("move back from trash/", trashed, e))
            .and_then(|()| files::sync_dir(&self.paths.images()));
        if let Err(e) = back {
            eprintln!("digit-kiosk: {e}; it is moved back at the next start");
        }
    }

    fn db_err(&self, source: rusqlite::Error) -> Error {
        Error::Database {
            path: self.paths.db(),
            source,
        }
    }
}

/// The answer to every sample of a batch whose commit failed.
fn rows_failed(message: &str, n: usize) -> Vec<Result<Receipt>> {
    (0..n)
        .map(|_| Err(Error::StorageFailed(message.to_string())))
        .collect()
}

/// Step 3 of an interrupted batch: rename committed pending PNGs into place,
/// remove the ones whose row never committed (they were never acknowledged).
fn recover_pending_images(paths: &DataPaths, conn: &Connection) -> Result<Vec<String>> {
    let dir = paths.images();
    let entries = fs::read_dir(&dir).map_err(|e| Error::io("read folder", &dir, e))?;
    let (mut renamed, mut removed) = (0, 0);
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(target) = file_name.to_str().and_then(files::pending_target) else {
            continue;
        };
        let committed = db::has_filename(conn, target).map_err(|e| Error::Database {
            path: paths.db(),
            source: e,
        })?;
        let result = if committed {
            fs::rename(entry.path(), paths.image(target))
        } else {
            fs::remove_file(entry.path())
        };
        result.map_err(|e| Error::io("recover", entry.path(), e))?;
        if committed {
            renamed += 1
        } else {
            removed += 1
        }
    }
    let mut notes = Vec::new();
    if renamed > 0 {
        notes.push(format!(
            "moved {renamed} stored sample image(s) from their pending names into place"
        ));
    }
    if removed > 0 {
        notes.push(format!(
            "removed {removed} pending image(s) of samples never stored (never acknowledged)"
        ));
    }
    if !notes.is_empty() {
        files::sync_dir(&dir)?;
    }
    Ok(notes)
}

/// Delete step 1 without step 2: a PNG in `trash/` whose row is still in
/// the database, and which `images/` lacks, is moved back into place.
fn recover_uncommitted_deletes(paths: &DataPaths, conn: &Connection) -> Result<Option<String>> {
    let trash = paths.trash();
    let entries = match fs::read_dir(&trash) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None), // nothing ever deleted
        Err(e) => return Err(Error::io("read folder", &trash, e)),
    };
    // Each sample name the trash may hold a PNG of, with those files by clash number.
    let mut candidates: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        for (origin, n) in files::trash_origins(&name) {
            candidates
                .entry(origin)
                .or_default()
                .push((n, name.clone()));
        }
    }
    let mut restored = 0;
    for (origin, mut names) in candidates {
        if paths.image(&origin).exists() {
            continue; // whole, or a later sample that got the same name
        }
        let Some(recorded) = db::sha256_of(conn, &origin).map_err(|e| Error::Database {
            path: paths.db(),
            source: e,
        })?
        else {
            continue; // no row: deleted for good
        };
        names.retain(|(_, name)| trash.join(name).is_file());
        names.sort();
        let pick = match recorded {
            Some(sha) => names.iter().find(|(_, name)| {
                fs::read(trash.join(name))
                    .is_ok_and(|bytes| crate::collector::sha256_hex(&bytes) == sha)
            }),
            None => names.last(), // no checksum (the original app's rows): the latest of that name
        };
        let Some((_, name)) = pick else {
            continue; // none of them is its PNG: `check` reports the image missing
        };
        let from = trash.join(name);
        fs::rename(&from, paths.image(&origin))
            .map_err(|e| Error::io("move back from trash/", &from, e))?;
        restored += 1;
    }
    if restored == 0 {
        return Ok(None);
    }
    files::sync_dir(&paths.images())?;
    files::sync_dir(&trash)?;
    Ok(Some(format!(
        "moved {restored} image(s) back from trash/: their deletion was interrupted before it took effect"
    )))
}

/// The sample names whose PNGs `trash/` holds (see [`files::trash_origins`]).
fn trashed_names(paths: &DataPaths) -> Result<HashSet<String>> {
    let trash = paths.trash();
    let entries = match fs::read_dir(&trash) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(Error::io("read folder", &trash, e)),
    };
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .flat_map(|name| {
            files::trash_origins(&name)
                .into_iter()
                .map(|(origin, _)| origin)
        })
        .collect())
}

/// Step 4 of an interrupted batch: if `labels.csv` holds a prefix of the
/// database's rows (possibly with a cut last line), append the rest. A
/// missing (or empty) CSV is created from the database.
fn heal_csv_tail(paths: &DataPaths, conn: &Connection) -> Result<Option<String>> {
    let csv_path = paths.csv();
    let samples = db::read_samples_without_strokes(conn).map_err(|e| Error::Database {
        path: paths.db(),
        source: e,
    })?;
    let expected: Vec<CsvRow> = samples
        .iter()
        .map(|s| CsvRow::of(&s.filename, s.label, &s.timestamp, &s.ip))
        .collect();
    if fs::metadata(&csv_path)
        .map(|m| m.len() == 0)
        .unwrap_or(true)
    {
        // Missing, or emptied: without its header a CSV reader would take the first row for one.
        let what = if csv_path.exists() {
            "empty"
        } else {
            "missing"
        };
        files::replace_atomically(&csv_path, &files::csv_file(&expected))?;
        let news = what == "empty" || !expected.is_empty(); // a new folder's first CSV is no news
        return Ok(news.then(|| format!("labels.csv was {what}; written from the database")));
    }
    let Ok((rows, torn)) = files::read_csv(&csv_path) else {
        return Ok(None); // unreadable: `check` reports it, `check --repair` rebuilds it
    };
    let is_prefix = rows.len() <= expected.len() && expected.iter().zip(&rows).all(|(a, b)| a == b);
    if is_prefix && (torn || rows.len() < expected.len()) {
        files::replace_atomically(&csv_path, &files::csv_file(&expected))?;
        return Ok(Some(format!(
            "labels.csv ended early{}; added its last {} line(s) from the database",
            if torn { " in the middle of a line" } else { "" },
            expected.len() - rows.len()
        )));
    }
    if !is_prefix {
        // Delete step 3 not done: lines of samples whose rows are gone and whose PNGs are in trash/.
        let in_db: HashSet<&str> = expected.iter().map(|r| r.filename.as_str()).collect();
        let trashed = trashed_names(paths)?;
        let kept: Vec<&CsvRow> = rows
            .iter()
            .filter(|r| in_db.contains(r.filename.as_str()) || !trashed.contains(&r.filename))
            .collect();
        let dropped = rows.len() - kept.len();
        let still_prefix =
            kept.len() <= expected.len() && expected.iter().zip(&kept).all(|(a, b)| a == *b);
        if dropped > 0 && still_prefix {
            files::replace_atomically(&csv_path, &files::csv_file(&expected))?;
            return Ok(Some(format!(
                "labels.csv still listed {dropped} deleted sample(s) (their images are in trash/); rewritten from the database"
            )));
        }
    }
    Ok(None)
}

impl Store {
    /// Every sample in id order.
    pub fn samples(&self) -> Result<Vec<SampleRow>> {
        db::read_samples(&self.conn).map_err(|e| self.db_err(e))
    }

    /// Rewrites `labels.csv` from the database, atomically.
    pub fn rebuild_csv(&mut self) -> Result<()> {
        let samples = db::read_samples_without_strokes(&self.conn).map_err(|e| self.db_err(e))?;
        let rows: Vec<CsvRow> = samples
            .iter()
            .map(|s| CsvRow::of(&s.filename, s.label, &s.timestamp, &s.ip))
            .collect();
        let path = self.paths.csv();
        files::replace_atomically(&path, &files::csv_file(&rows))?;
        self.csv = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
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
    let db_err = |source| Error::Database {
        path: paths.db(),
        source,
    };
    match Store::open(paths.clone()) {
        Ok(store) => f(&store.conn).map_err(db_err),
        Err(Error::FolderInUse { .. }) => f(&db::open_reader(&paths.db())?).map_err(db_err),
        Err(e) => Err(e),
    }
}
