//! `digits.db`: the schema, its forward migrations and the queries. The
//! database is the source of truth; this file knows SQL and nothing of files.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use crate::error::{Error, Result};

/// The schema version this program writes (`PRAGMA user_version`). Version 0
/// is a folder made by the original Flask app (or an empty database).
pub const SCHEMA_VERSION: i64 = 1;

/// Forward migrations: entry `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[fn(&Transaction) -> rusqlite::Result<()>] = &[migrate_0_to_1];

/// The table as this program makes it. `filename` is unique through an index
/// rather than the column, so a Flask folder whose workers once wrote the same
/// name twice still opens (and `check` names the duplicate).
const CREATE_V1: &str = "
CREATE TABLE digit_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    filename TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    timestamp DATETIME NOT NULL,
    ip TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'flask',
    session TEXT,
    station TEXT,
    strokes TEXT,
    sha256 TEXT,
    app_version TEXT
);";

/// One stored sample as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// Row id, stable for the sample's life.
    pub id: i64,
    /// File name inside `images/`.
    pub filename: String,
    /// Label 0–9.
    pub label: u8,
    /// UTC, `2025-12-04 12:34:56.789012`.
    pub timestamp: String,
    /// Client address (`127.0.0.1` for the window).
    pub ip: String,
    /// `window`, `web`, `flask` (rows of the original app) or `merge`.
    pub source: String,
    /// The participant run the sample belongs to, where known.
    pub session: Option<String>,
    /// The station a merged sample came from, where known.
    pub station: Option<String>,
    /// The strokes as JSON (see `sketch.rs`), absent for pixel-only samples.
    pub strokes: Option<String>,
    /// SHA-256 of the PNG file as hex, absent for rows of the original app.
    pub sha256: Option<String>,
}

/// A row about to be inserted.
pub struct NewRow<'a> {
    /// File name inside `images/`.
    pub filename: &'a str,
    /// Label 0–9.
    pub label: u8,
    /// UTC, `2025-12-04 12:34:56.789012`.
    pub timestamp: &'a str,
    /// Client address.
    pub ip: &'a str,
    /// `window`, `web`, ...
    pub source: &'a str,
    /// Participant run.
    pub session: Option<&'a str>,
    /// Station of origin (merges).
    pub station: Option<&'a str>,
    /// Strokes JSON.
    pub strokes: Option<&'a str>,
    /// PNG SHA-256 hex.
    pub sha256: &'a str,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Database {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens the database for writing, creating or migrating it as needed.
pub fn open_writer(path: &Path) -> Result<Connection> {
    let err = db_err(path);
    let mut conn = Connection::open(path).map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&err)?;
    // WAL: one fsync per commit, readers (stats, export) never block the writer.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(&err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&err)?;
    let version = schema_version(&conn, path)?;
    migrate(&mut conn, version).map_err(&err)?;
    Ok(conn)
}

/// Opens an existing database read-only (stats, export while a kiosk runs).
pub fn open_reader(path: &Path) -> Result<Connection> {
    let err = db_err(path);
    if !path.exists() {
        return Err(Error::io(
            "open",
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such database (nothing collected yet?)",
            ),
        ));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&err)?;
    if schema_version(&conn, path)? < SCHEMA_VERSION {
        return Err(Error::Corrupt {
            folder: path.to_path_buf(),
            message:
                "this database is from an older version; run `digit-kiosk check` once to migrate it"
                    .into(),
        });
    }
    Ok(conn)
}

/// The database's schema version; one newer than this program's is refused
/// in plain words, before anything reads or migrates it.
fn schema_version(conn: &Connection, path: &Path) -> Result<i64> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| db_err(path)(e))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Corrupt {
            folder: path.to_path_buf(),
            message: format!(
                "schema version {version} is newer than this program's {SCHEMA_VERSION}; upgrade digit-kiosk"
            ),
        });
    }
    Ok(version)
}

/// Runs the migrations from `version` (never newer than this program's) up.
fn migrate(conn: &mut Connection, version: i64) -> rusqlite::Result<()> {
    for (from, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        step(&tx)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Version 0 is either nothing or the Flask app's table (`label VARCHAR(1)`,
/// `ip` nullable, no AUTOINCREMENT). Rebuild it in the new shape, keeping
/// every row's id and values; its rows are marked `source = 'flask'`.
fn migrate_0_to_1(tx: &Transaction) -> rusqlite::Result<()> {
    let legacy: bool = tx
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'digit_samples'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if legacy {
        tx.execute_batch("ALTER TABLE digit_samples RENAME TO digit_samples_flask;")?;
    }
    tx.execute_batch(CREATE_V1)?;
    if legacy {
        tx.execute_batch(
            "INSERT INTO digit_samples (id, filename, label, timestamp, ip, source)
                 SELECT id, filename, CAST(TRIM(label) AS INTEGER), timestamp, COALESCE(ip, ''), 'flask'
                 FROM digit_samples_flask ORDER BY id;
             DROP TABLE digit_samples_flask;",
        )?;
    }
    let duplicates: i64 = tx.query_row(
        "SELECT COUNT(*) FROM (SELECT filename FROM digit_samples GROUP BY filename HAVING COUNT(*) > 1)",
        [],
        |r| r.get(0),
    )?;
    let unique = if duplicates == 0 { "UNIQUE" } else { "" };
    tx.execute_batch(&format!(
        "CREATE {unique} INDEX digit_samples_filename ON digit_samples (filename);
         CREATE INDEX digit_samples_session ON digit_samples (session);"
    ))?;
    Ok(())
}

/// Inserts rows in one transaction and returns their ids in order.
pub fn insert_rows(conn: &mut Connection, rows: &[NewRow]) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    let mut ids = Vec::with_capacity(rows.len());
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO digit_samples (filename, label, timestamp, ip, source, session, station, strokes, sha256, app_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for r in rows {
            stmt.execute(params![
                r.filename,
                r.label,
                r.timestamp,
                r.ip,
                r.source,
                r.session,
                r.station,
                r.strokes,
                r.sha256,
                env!("CARGO_PKG_VERSION")
            ])?;
            ids.push(tx.last_insert_rowid());
        }
    }
    tx.commit()?;
    Ok(ids)
}

/// Whether a row names this file.
pub fn has_filename(conn: &Connection, filename: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM digit_samples WHERE filename = ?1")?
        .exists([filename])
}

/// Every sample in id order (the order stored).
pub fn read_samples(conn: &Connection) -> rusqlite::Result<Vec<SampleRow>> {
    read_rows(conn, "strokes")
}

/// [`read_samples`] with `strokes` left `None`: at 2–3 kB a sample the
/// strokes are most of the rows' memory, and opening a folder or a pixel
/// export never needs them.
pub fn read_samples_without_strokes(conn: &Connection) -> rusqlite::Result<Vec<SampleRow>> {
    read_rows(conn, "NULL")
}

fn read_rows(conn: &Connection, strokes: &str) -> rusqlite::Result<Vec<SampleRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, filename, label, timestamp, ip, source, session, station, {strokes}, sha256
         FROM digit_samples ORDER BY id"
    ))?;
    let rows = stmt.query_map([], sample_of)?;
    rows.collect()
}

/// A [`SampleRow`] from the columns `read_rows` and `read_sample` select, in their order.
fn sample_of(r: &rusqlite::Row) -> rusqlite::Result<SampleRow> {
    Ok(SampleRow {
        id: r.get(0)?,
        filename: r.get(1)?,
        label: r.get(2)?,
        timestamp: r.get(3)?,
        ip: r.get(4)?,
        source: r.get(5)?,
        session: r.get(6)?,
        station: r.get(7)?,
        strokes: r.get(8)?,
        sha256: r.get(9)?,
    })
}

/// The sample with this id, strokes included, if there is one.
pub fn read_sample(conn: &Connection, id: i64) -> rusqlite::Result<Option<SampleRow>> {
    conn.query_row(
        "SELECT id, filename, label, timestamp, ip, source, session, station, strokes, sha256
         FROM digit_samples WHERE id = ?1",
        [id],
        sample_of,
    )
    .optional()
}

/// The SHA-256 recorded for the row naming this file: `None` when no row
/// names it, `Some(None)` for a row stored without one (the original app's).
pub fn sha256_of(conn: &Connection, filename: &str) -> rusqlite::Result<Option<Option<String>>> {
    conn.prepare_cached("SELECT sha256 FROM digit_samples WHERE filename = ?1")?
        .query_row([filename], |r| r.get(0))
        .optional()
}

/// Deletes one row in its own transaction; false when there was none.
pub fn delete_row(conn: &mut Connection, id: i64) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let deleted = tx.execute("DELETE FROM digit_samples WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(deleted > 0)
}

/// Samples per label 0–9.
pub fn counts(conn: &Connection) -> rusqlite::Result<[u64; 10]> {
    let mut counts = [0u64; 10];
    let mut stmt =
        conn.prepare_cached("SELECT label, COUNT(*) FROM digit_samples GROUP BY label")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let label: i64 = row.get(0)?;
        let n: i64 = row.get(1)?;
        if let Some(slot) = usize::try_from(label).ok().and_then(|l| counts.get_mut(l)) {
            *slot = u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(counts)
}

/// Summary figures for `stats`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Samples per label 0–9.
    pub per_label: [u64; 10],
    /// All samples.
    pub total: u64,
    /// Distinct participant runs (samples without a session not counted).
    pub sessions: u64,
    /// Timestamp of the oldest sample.
    pub first: Option<String>,
    /// Timestamp of the newest sample.
    pub last: Option<String>,
}

/// Counts, sessions and the time range.
pub fn summary(conn: &Connection) -> rusqlite::Result<Summary> {
    let per_label = counts(conn)?;
    let (sessions, first, last) = conn.query_row(
        "SELECT COUNT(DISTINCT session), MIN(timestamp), MAX(timestamp) FROM digit_samples",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Summary {
        per_label,
        total: per_label.iter().sum(),
        sessions: u64::try_from(sessions).unwrap_or(0),
        first,
        last,
    })
}
