//! The files of the data folder: paths, the folder lock, durable writes
//! (temporary name, fsync, rename, directory fsync) and `labels.csv` lines.
//! Knows nothing of SQL.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// The header of `labels.csv`, exactly as the original app wrote it.
pub const CSV_HEADER: &str = "filename,label,timestamp,ip\n";

/// Suffix of a PNG that is written but not yet committed.
const TMP_SUFFIX: &str = ".tmp";

/// Where everything of one data folder lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPaths {
    /// The data folder itself.
    pub root: PathBuf,
}

impl DataPaths {
    /// The paths of the folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// `images/`: one PNG per sample.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
    /// `labels.csv`: the mirror of the database for spreadsheets and scripts.
    pub fn csv(&self) -> PathBuf {
        self.root.join("labels.csv")
    }
    /// `digits.db`: the source of truth.
    pub fn db(&self) -> PathBuf {
        self.root.join("digits.db")
    }
    /// `trash/`: where deleted samples' PNGs go.
    pub fn trash(&self) -> PathBuf {
        self.root.join("trash")
    }
    /// The lock file held by the one process that writes here.
    pub fn lock(&self) -> PathBuf {
        self.root.join(".digit-kiosk.lock")
    }
    /// A sample's PNG.
    pub fn image(&self, filename: &str) -> PathBuf {
        self.images().join(filename)
    }
    /// A sample's PNG before its row is committed.
    pub fn pending_image(&self, filename: &str) -> PathBuf {
        self.images().join(format!(".{filename}{TMP_SUFFIX}"))
    }
}

/// The name a pending PNG file will get, if `name` is a pending file's name.
pub fn pending_target(name: &str) -> Option<&str> {
    name.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)
}

/// Separates a deleted PNG's own name from the number that keeps it apart
/// from an earlier one of the same name in `trash/` (`digit_5_…Z~1.png`).
/// Not `_`: the store's own names use `_<n>` for same-microsecond samples.
const TRASH_CLASH: char = '~';

/// A free name in `trash/` for a deleted sample's PNG: its own name, or
/// `<stem>~<n>.png` when an earlier deletion left one of that name.
pub fn trash_name(trash: &Path, filename: &str) -> String {
    let stem = filename.strip_suffix(".png").unwrap_or(filename);
    let mut name = filename.to_string();
    let mut n = 0u32;
    while trash.join(&name).exists() {
        n += 1;
        name = format!("{stem}{TRASH_CLASH}{n}.png");
    }
    name
}

/// The sample names a file in `trash/` may stand for, with its clash
/// number: the name itself (0), and, for `<stem>~<n>.png`, `<stem>.png` (n).
pub fn trash_origins(name: &str) -> Vec<(String, u32)> {
    let mut origins = vec![(name.to_string(), 0)];
    let numbered = name
        .strip_suffix(".png")
        .and_then(|stem| stem.rsplit_once(TRASH_CLASH))
        .and_then(|(stem, n)| Some((format!("{stem}.png"), n.parse().ok()?)));
    origins.extend(numbered);
    origins
}

/// Creates `dir` if missing and makes its name durable in its parent.
pub fn create_dir_synced(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    sync_dir(dir.parent().unwrap_or(Path::new(".")))
}

/// How often, and how far apart, taking a held folder lock is retried
/// before the folder is reported in use (half a second in all).
const LOCK_RETRIES: u32 = 10;
const LOCK_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Takes the folder's lock so only one process writes; the lock goes when
/// the returned file is dropped (or the process dies).
pub fn lock_folder(paths: &DataPaths) -> Result<File> {
    let path = paths.lock();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open the lock file", &path, e))?;
    // The lock (flock) belongs to the open file, so a process that forks while
    // the previous writer closes it (a test harness, a launcher) may hold it
    // for the instant before its `exec`: a writer that just stopped is waited
    // for briefly, one that keeps running is refused.
    let mut attempt = 0;
    let locked = loop {
        match file.try_lock() {
            Err(fs::TryLockError::WouldBlock) if attempt < LOCK_RETRIES => {
                attempt += 1;
                std::thread::sleep(LOCK_RETRY_PAUSE);
            }
            other => break other,
        }
    };
    match locked {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder); // best effort: only used in the message
            let holder = holder.trim();
            return Err(Error::FolderInUse {
                folder: paths.root.clone(),
                holder: if holder.is_empty() {
                    "unknown process".into()
                } else {
                    holder.to_string()
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
    }
    let me = format!("process {}", std::process::id());
    file.set_len(0)
        .and_then(|()| file.write_all(me.as_bytes()))
        .map_err(|e| Error::io("write the lock file", &path, e))?;
    Ok(file)
}

/// Creates the folder layout if missing.
pub fn create_layout(paths: &DataPaths) -> Result<()> {
    for dir in [paths.root.clone(), paths.images()] {
        fs::create_dir_all(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
    }
    Ok(())
}

/// Writes `bytes` to a new file and makes its contents durable.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write", path, e))
}

/// Makes renames and new names inside `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync folder", dir, e))
}

/// Replaces `path` atomically with `bytes`: temporary file, fsync, rename,
/// directory fsync. Readers see the old file or the new one, never half.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp-rewrite");
    let _ = fs::remove_file(&tmp); // a leftover from a crash; absent is fine
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| Error::io("replace", path, e))?;
    sync_dir(dir)
}

/// `20251204T123456789012Z`: the compact UTC stamp of file names and the CSV.
pub fn compact_stamp(at: &DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%6fZ").to_string()
}

/// `2025-12-04 12:34:56.789012`: the database's form, which SQLite reads.
pub fn db_timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// `2025-12-04T12:34:56.789012Z`: RFC 3339, for JSON.
pub fn rfc3339(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads a database timestamp back (accepts with or without fraction).
pub fn parse_db_timestamp(text: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// One `labels.csv` record, as the original app wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CsvRow {
    /// File name inside `images/`.
    pub filename: String,
    /// Label as text.
    pub label: String,
    /// Compact UTC stamp.
    pub timestamp: String,
    /// Client address.
    pub ip: String,
}

impl CsvRow {
    /// The CSV record of a database row: the compact stamp of its timestamp.
    pub fn of(filename: &str, label: u8, db_timestamp: &str, ip: &str) -> Self {
        Self {
            filename: filename.to_string(),
            label: label.to_string(),
            timestamp: parse_db_timestamp(db_timestamp)
                .map(|t| compact_stamp(&t))
                .unwrap_or_else(|| db_timestamp.to_string()),
            ip: ip.to_string(),
        }
    }
}

/// Formats records as CSV lines (no header), quoting where needed.
pub fn csv_lines<'a>(rows: impl IntoIterator<Item = &'a CsvRow>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for row in rows {
        // Serialising four strings into a Vec cannot fail.
        let _ = writer.serialize(row);
    }
    writer.into_inner().unwrap_or_default()
}

/// The whole `labels.csv` for these rows, header first.
pub fn csv_file<'a>(rows: impl IntoIterator<Item = &'a CsvRow>) -> Vec<u8> {
    let mut out = CSV_HEADER.as_bytes().to_vec();
    out.extend(csv_lines(rows));
    out
}

/// Parses `labels.csv`: its records, and whether its last line was cut short
/// (no final newline, as after a crash mid-append).
pub fn read_csv(path: &Path) -> Result<(Vec<CsvRow>, bool)> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let torn = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let whole = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(whole);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::Corrupt {
            folder: path.to_path_buf(),
            message: format!("labels.csv cannot be read: {e}"),
        })?;
        let field = |i| record.get(i).unwrap_or_default().to_string();
        rows.push(CsvRow {
            filename: field(0),
            label: field(1),
            timestamp: field(2),
            ip: field(3),
        });
    }
    Ok((rows, torn))
}
