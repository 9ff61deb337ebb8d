//! `Collector::submit`: the only way a sample enters the data folder, used by
//! the window and the web server alike. A cheap `Clone` handle: submitters on
//! any thread rasterise, encode and write their PNG durably under a pending
//! name in parallel, then hand it to the one writer thread, which commits
//! whatever is waiting as one durable batch (group commit) and answers each
//! submitter when its sample is on disk. `Collector::delete` goes through the
//! same writer, in turn with the batches, so the writer alone owns the folder.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use image::GrayImage;
use sha2::{Digest, Sha256};

use crate::digit::Digit;
use crate::error::{Error, Result};
use crate::raster;
use crate::sketch::Sketch;
use crate::store::{DataPaths, Deleted, Names, NewSample, PendingSample, Receipt, Source, Store};

/// Most samples committed in one batch.
const MAX_BATCH: usize = 256;

/// A participant run id: 1–64 ASCII letters, digits, `-` or `_`, so it is
/// safe in any file or report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Session(String);

impl Session {
    /// Checks a session id sent by a client.
    pub fn new(id: &str) -> Result<Self> {
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err(Error::BadSession)
        }
    }

    /// A fresh id for a new participant: the UTC instant, unique enough for
    /// one station and readable in reports.
    pub fn fresh(prefix: &str) -> Self {
        Self(format!(
            "{prefix}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%6f")
        ))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What was drawn: strokes (rasterised here), or pixels already normalised
/// by [`crate::picture::normalize_png`].
#[derive(Debug, Clone)]
pub enum Drawing {
    /// Timed strokes; the PNG is made from them.
    Strokes(Sketch),
    /// A 280×280 grayscale image from a client that has only pixels.
    Pixels(GrayImage),
}

/// One sample as a front end hands it in.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The label chosen.
    pub label: Digit,
    /// The drawing.
    pub drawing: Drawing,
    /// Which front end.
    pub source: Source,
    /// Client address (`127.0.0.1` for the window).
    pub client: String,
    /// Participant run, where known.
    pub session: Option<Session>,
}

struct Job {
    sample: PendingSample,
    reply: SyncSender<Result<Receipt>>,
}

/// What the writer thread is asked to do, in the order asked.
// Nearly every message is a `Store`, and `Job` was sent by value before
// deletes existed: boxing it would add an allocation per submit for nothing.
#[allow(clippy::large_enum_variant)]
enum Work {
    /// Commit a prepared sample, in a batch with whatever else is waiting.
    Store(Job),
    /// Delete one sample.
    Delete {
        id: i64,
        reply: SyncSender<Result<Deleted>>,
    },
}

struct Shared {
    paths: DataPaths,
    names: Arc<Names>,
    sender: Mutex<Option<Sender<Work>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    counts: Mutex<[u64; 10]>,
    listeners: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

/// The handle every front end submits through. Clones share one writer.
#[derive(Clone)]
pub struct Collector {
    shared: Arc<Shared>,
}

impl Collector {
    /// Opens the data folder (see [`Store::open`]) and starts its writer.
    pub fn open(paths: DataPaths) -> Result<Self> {
        let store = Store::open(paths.clone())?;
        let counts = store.counts()?;
        let (sender, receiver) = mpsc::channel();
        let shared = Arc::new(Shared {
            paths,
            names: store.names(),
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(None),
            counts: Mutex::new(counts),
            listeners: Mutex::new(Vec::new()),
        });
        let for_writer = Arc::downgrade(&shared);
        let handle = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(store, receiver, for_writer))
            .map_err(|e| Error::io("start the writer thread for", shared.paths.root.clone(), e))?;
        *lock(&shared.writer) = Some(handle);
        Ok(Self { shared })
    }

    /// Stores one sample and returns once it is durable: PNG on disk, row
    /// committed, CSV line appended. Checks were done when the submission's
    /// parts were made; here the PNG is made and handed to the writer.
    pub fn submit(&self, submission: Submission) -> Result<Receipt> {
        let Submission {
            label,
            drawing,
            source,
            client,
            session,
        } = submission;
        let (image, strokes) = match &drawing {
            Drawing::Strokes(sketch) => (
                raster::rasterize(sketch),
                Some(sketch.to_json().to_string()),
            ),
            Drawing::Pixels(image) => (image.clone(), None),
        };
        let png = raster::encode_png(&image);
        let sample = NewSample {
            label,
            sha256: sha256_hex(&png),
            png,
            strokes,
            source,
            ip: client,
            session: session.map(|s| s.0),
            station: None,
            preferred_name: None,
            at: None,
        };
        self.store(sample)
    }

    /// Writes a finished sample's PNG (on this thread, so many submitters'
    /// fsyncs overlap), hands it to the writer and waits for its receipt
    /// (`submit` and `merge` both end here).
    pub fn store(&self, sample: NewSample) -> Result<Receipt> {
        if lock(&self.shared.sender).is_none() {
            return Err(Error::WriterStopped);
        }
        let pending = self.shared.names.prepare(sample)?;
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Work::Store(Job {
            sample: pending,
            reply,
        });
        let unsent = match lock(&self.shared.sender).as_ref() {
            Some(sender) => sender.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = unsent {
            if let Work::Store(job) = job {
                self.shared.names.abandon(job.sample);
            }
            return Err(Error::WriterStopped);
        }
        answer.recv().unwrap_or(Err(Error::WriterStopped))
    }

    /// Deletes one sample through the writer (see [`Store::delete`]): its
    /// PNG moves to `trash/`, its row and CSV line go. Returns the row as it
    /// was once the deletion is durable; the counts follow and `on_change`
    /// listeners are called.
    pub fn delete(&self, id: i64) -> Result<Deleted> {
        let (reply, answer) = mpsc::sync_channel(1);
        let sent = match lock(&self.shared.sender).as_ref() {
            Some(sender) => sender.send(Work::Delete { id, reply }).is_ok(),
            None => false,
        };
        if !sent {
            return Err(Error::WriterStopped);
        }
        answer.recv().unwrap_or(Err(Error::WriterStopped))
    }

    /// Samples per label, as of the last commit.
    pub fn counts(&self) -> [u64; 10] {
        *lock(&self.shared.counts)
    }

    /// Calls `f` (from the writer thread) after each committed batch, e.g.
    /// to wake the window when a browser submits.
    pub fn on_change(&self, f: impl Fn() + Send + Sync + 'static) {
        lock(&self.shared.listeners).push(Box::new(f));
    }

    /// The data folder this collector writes.
    pub fn paths(&self) -> &DataPaths {
        &self.shared.paths
    }

    /// Stops taking submissions, lets the writer finish what it holds, and
    /// waits for it. Later submits get [`Error::WriterStopped`].
    pub fn shutdown(&self) {
        lock(&self.shared.sender).take();
        if let Some(handle) = lock(&self.shared.writer).take() {
            let _ = handle.join(); // a panicked writer has nothing left to flush
        }
    }
}

fn write_loop(mut store: Store, jobs: Receiver<Work>, shared: std::sync::Weak<Shared>) {
    // A delete met while gathering a batch waits here until that batch is committed.
    let mut next = None;
    while let Some(work) = next.take().or_else(|| jobs.recv().ok()) {
        let first = match work {
            Work::Store(job) => job,
            Work::Delete { id, reply } => {
                let result = store.delete(id);
                if let (Ok(deleted), Some(shared)) = (&result, shared.upgrade()) {
                    if let Some(n) = lock(&shared.counts).get_mut(usize::from(deleted.sample.label))
                    {
                        *n = n.saturating_sub(1);
                    }
                    for listener in lock(&shared.listeners).iter() {
                        listener();
                    }
                }
                let _ = reply.send(result); // the caller may have gone; the sample is deleted all the same
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(Work::Store(job)) => batch.push(job),
                Ok(delete) => {
                    next = Some(delete);
                    break;
                }
                Err(_) => break,
            }
        }
        let (samples, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|j| (j.sample, j.reply)).unzip();
        let results = store.commit(samples);
        if let Some(shared) = shared.upgrade() {
            let mut counts = lock(&shared.counts);
            for receipt in results.iter().flatten() {
                if let Some(n) = counts.get_mut(receipt.label.index()) {
                    *n += 1;
                }
            }
            drop(counts);
            for listener in lock(&shared.listeners).iter() {
                listener();
            }
        }
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result); // the submitter may have gone; the sample is stored all the same
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A poisoned lock only means another thread panicked while holding it; the
/// data behind these locks (counts, a sender) stays valid.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
