//! A real child process submitting in a loop is SIGKILLed at random moments,
//! ten times, on one data folder. After each kill every sample it had
//! acknowledged must be present and intact (file, checksum, row, CSV line),
//! and the real `digit-kiosk check` must find nothing wrong.
//!
//! The child is this test binary itself, re-run with `DIGIT_KIOSK_CRASH_CHILD`
//! set: then `crash_child` opens the folder and submits from a few threads,
//! printing one `ACK|id|filename|label|sha256|END` line per receipt (flushed)
//! only after `submit` returned it. One of its threads also deletes every
//! fourth of its own samples, printing `DELETING|id|END` before and
//! `DELETED|id|END` after `delete` returned: a deleted sample must be gone
//! from the database, `images/` and the CSV with its PNG in `trash/`, and
//! one whose delete was cut short must be whole or gone, never half.
//! Set `DIGIT_KIOSK_CRASH_SEED` to replay a run's kill moments (the seed is
//! printed).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{TempData, file_sha256};
use digit_kiosk::collector::{Collector, Drawing, Session, Submission, sha256_hex};
use digit_kiosk::digit::Digit;
use digit_kiosk::raster;
use digit_kiosk::sketch::{Point, Sketch, Stroke};
use digit_kiosk::store::{DataPaths, Source};

const CHILD_ENV: &str = "DIGIT_KIOSK_CRASH_CHILD";
const ROUNDS: usize = 10;
const CHILD_THREADS: usize = 4;
/// The child's thread 0 deletes every this many of its own samples.
const DELETE_EVERY: u64 = 4;

/// A small xorshift generator: reproducible kill moments from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A different drawing for every (thread, counter): one to three strokes,
/// sometimes with a tap.
fn drawing(rng: &mut Rng) -> Sketch {
    let mut strokes = Vec::new();
    let mut t = 0.0;
    for _ in 0..=rng.below(3) {
        let n = 1 + rng.below(12) as usize;
        let (mut x, mut y) = (20.0 + rng.below(240) as f32, 20.0 + rng.below(240) as f32);
        let mut points = Vec::with_capacity(n);
        for _ in 0..n {
            points.push(Point {
                x,
                y,
                t,
                pressure: None,
            });
            x = (x + rng.below(41) as f32 - 20.0).clamp(0.0, 280.0);
            y = (y + rng.below(41) as f32 - 20.0).clamp(0.0, 280.0);
            t += 8.0;
        }
        strokes.push(Stroke {
            pointer: None,
            points,
        });
    }
    Sketch::new(strokes).expect("a valid sketch")
}

/// Runs only as the child: submits until killed.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let collector = Collector::open(DataPaths::new(dir)).expect("open the data folder");
    let seed = std::process::id() as u64;
    let threads: Vec<_> = (0..CHILD_THREADS as u64)
        .map(|k| {
            let collector = collector.clone();
            std::thread::spawn(move || {
                let mut rng = Rng((seed << 8 | k).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                let session = Session::new(&format!("crash-{seed}-{k}")).expect("a session id");
                let say = |line: String| {
                    let mut out = std::io::stdout().lock();
                    out.write_all(line.as_bytes())
                        .and_then(|()| out.flush())
                        .expect("write to the parent");
                };
                for n in 1.. {
                    let sketch = drawing(&mut rng);
                    let label = Digit::try_from((rng.below(10)) as u8).expect("a digit");
                    // What the store must hold, computed independently of it.
                    let sha = sha256_hex(&raster::encode_png(&raster::rasterize(&sketch)));
                    let submitted = collector.submit(Submission {
                        label,
                        drawing: Drawing::Strokes(sketch),
                        source: Source::Window,
                        client: "127.0.0.1".into(),
                        session: Some(session.clone()),
                    });
                    let receipt = match submitted {
                        Ok(receipt) => receipt,
                        Err(e) => {
                            // The parent sees the child end by itself and fails.
                            eprintln!("crash child: {e}");
                            return;
                        }
                    };
                    say(format!(
                        "ACK|{}|{}|{}|{sha}|END\n",
                        receipt.id, receipt.filename, receipt.label
                    ));
                    if k == 0 && n % DELETE_EVERY == 0 {
                        say(format!("DELETING|{}|END\n", receipt.id));
                        if let Err(e) = collector.delete(receipt.id) {
                            eprintln!("crash child: {e}");
                            return;
                        }
                        say(format!("DELETED|{}|END\n", receipt.id));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("submitter thread");
    }
}

/// One acknowledged sample, as the child printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    id: i64,
    filename: String,
    label: String,
    sha256: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    // Only whole lines count: a line cut by the kill was never fully printed.
    let body = line.strip_suffix("|END\n")?;
    let body = &body[body.find("ACK|")? + 4..];
    let mut f = body.split('|');
    let ack = Ack {
        id: f.next()?.parse().ok()?,
        filename: f.next()?.to_string(),
        label: f.next()?.to_string(),
        sha256: f.next()?.to_string(),
    };
    f.next().is_none().then_some(ack)
}

/// `DELETING|id|END` or `DELETED|id|END`: the id, and whether the delete returned.
fn parse_delete(line: &str) -> Option<(i64, bool)> {
    let body = line.strip_suffix("|END\n")?;
    if let Some(id) = body.strip_prefix("DELETING|") {
        return Some((id.parse().ok()?, false));
    }
    Some((body.strip_prefix("DELETED|")?.parse().ok()?, true))
}

/// What the child told before it was killed.
struct Told {
    /// Samples it acknowledged.
    acks: Vec<Ack>,
    /// Deletes it began.
    deleting: Vec<i64>,
    /// Deletes that returned.
    deleted: Vec<i64>,
}

/// Spawns the child, kills it after `delay`, and returns what it told.
fn run_child_and_kill(paths: &DataPaths, delay: Duration) -> Told {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &paths.root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let (mut acks, mut deletes) = (Vec::new(), Vec::new());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("ACK|") {
                acks.push(parse_ack(&line));
            }
            if let Some(delete) = parse_delete(&line) {
                deletes.push(delete);
            }
            line.clear();
        }
        (acks, deletes)
    });
    std::thread::sleep(delay);
    let still_running = child.try_wait().unwrap().is_none();
    assert!(
        still_running,
        "the child stopped by itself (see its output above)"
    );
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child must die by SIGKILL, not stop by itself: {status:?}"
    );
    let (lines, deletes) = reader.join().unwrap();
    let complete: Vec<Ack> = lines.iter().flatten().cloned().collect();
    // At most the last line may have been cut by the kill.
    assert!(
        complete.len() + 1 >= lines.len(),
        "malformed acknowledgements: {lines:?}"
    );
    let pick = |done: bool| {
        deletes
            .iter()
            .filter(|d| d.1 == done)
            .map(|d| d.0)
            .collect()
    };
    Told {
        acks: complete,
        deleting: pick(false),
        deleted: pick(true),
    }
}

/// Every sample whose delete returned is gone: no row, no file in
/// `images/`, no CSV line (after reopening), its PNG in `trash/`.
fn assert_deleted(paths: &DataPaths, acks: &HashMap<i64, Ack>, deleted: &HashSet<i64>, when: &str) {
    let conn = rusqlite::Connection::open_with_flags(
        paths.db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let csv = std::fs::read_to_string(paths.csv()).unwrap_or_default();
    for id in deleted {
        let ack = &acks[id];
        let rows: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM digit_samples WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rows, 0, "{when}: deleted id {id} still has a row");
        assert!(
            !paths.image(&ack.filename).exists(),
            "{when}: deleted {} is still in images/",
            ack.filename
        );
        let trashed = paths.trash().join(&ack.filename);
        assert_eq!(
            file_sha256(&trashed),
            ack.sha256,
            "{when}: trash/{} is not its PNG",
            ack.filename
        );
        assert!(
            !csv.contains(&ack.filename),
            "{when}: labels.csv still lists deleted {}",
            ack.filename
        );
    }
}

/// Every acknowledged sample is on disk as acknowledged, read straight from
/// the files and the database as the crash left them.
fn assert_acknowledged_intact(paths: &DataPaths, acks: &HashMap<i64, Ack>, when: &str) {
    if acks.is_empty() {
        return; // killed before its first receipt: nothing was promised
    }
    let conn = rusqlite::Connection::open_with_flags(
        paths.db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT filename, CAST(label AS TEXT), sha256 FROM digit_samples WHERE id = ?1")
        .unwrap();
    for ack in acks.values() {
        let path = paths.image(&ack.filename);
        assert!(
            path.exists(),
            "{when}: acknowledged {} has no file",
            ack.filename
        );
        assert_eq!(
            file_sha256(&path),
            ack.sha256,
            "{when}: {} is not the PNG that was acknowledged",
            ack.filename
        );
        let row: (String, String, String) = stmt
            .query_row([ack.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap_or_else(|e| {
                panic!(
                    "{when}: acknowledged id {} ({}) has no row: {e}",
                    ack.id, ack.filename
                )
            });
        assert_eq!(
            row,
            (ack.filename.clone(), ack.label.clone(), ack.sha256.clone()),
            "{when}: row of id {}",
            ack.id
        );
    }
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_sample() {
    let seed = std::env::var("DIGIT_KIOSK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: DIGIT_KIOSK_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let data = TempData::new();
    let paths = &data.paths;
    let mut acked: HashMap<i64, Ack> = HashMap::new();
    let mut deleted: HashSet<i64> = HashSet::new();
    let mut repairs = 0;
    let started = Instant::now();
    for round in 1..=ROUNDS {
        // Early kills land in start-up and recovery, later ones mid-batch.
        let delay = Duration::from_millis(if round == 1 { 5 } else { 20 + rng.below(400) });
        let told = run_child_and_kill(paths, delay);
        for ack in &told.acks {
            let before = acked.insert(ack.id, ack.clone());
            assert!(before.is_none(), "id {} acknowledged twice", ack.id);
        }
        deleted.extend(&told.deleted);
        // A delete the kill cut short may have taken effect or not; recovery decides, below.
        let cut: Vec<i64> = told
            .deleting
            .iter()
            .filter(|id| !told.deleted.contains(id))
            .copied()
            .collect();
        let when = format!(
            "round {round} (killed after {delay:?}, {} acknowledged, {} deleted)",
            told.acks.len(),
            told.deleted.len()
        );
        let live =
            |acked: &HashMap<i64, Ack>, deleted: &HashSet<i64>, cut: &[i64]| -> HashMap<i64, Ack> {
                acked
                    .iter()
                    .filter(|(id, _)| !deleted.contains(id) && !cut.contains(id))
                    .map(|(&id, a)| (id, a.clone()))
                    .collect()
            };
        assert_acknowledged_intact(paths, &live(&acked, &deleted, &cut), &when);

        // The real binary: `check`, and `check --repair` where the CSV needs it.
        let run = common::run_on(paths, "check", &[]);
        for note in run.stdout.lines().filter(|l| l.starts_with("recovered: ")) {
            eprintln!("{when}: {note}");
        }
        if run.code != Some(0) {
            let problems: Vec<&str> = run
                .stdout
                .lines()
                .filter(|l| !l.contains("problem(s) in"))
                .collect();
            assert!(
                problems.iter().all(|l| l.starts_with("labels.csv")),
                "{when}: only the CSV may lag\n{run}"
            );
            common::run_on(paths, "check", &["--repair"]).expect_code(0);
            repairs += 1;
        }
        let run = common::run_on(paths, "check", &[]);
        run.expect_code(0);
        assert!(
            run.stdout.starts_with("ok: ") || run.stdout.contains("\nok: "),
            "{when}: check reports nothing\n{run}"
        );
        assert!(run.stderr.is_empty(), "{when}\n{run}");

        // A delete cut short is now whole or undone: row, image and CSV line all there, or none.
        let (_, records) = common::csv_records(paths);
        let csv: HashMap<&str, &str> = records
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        let conn = rusqlite::Connection::open_with_flags(
            paths.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        for id in &cut {
            let ack = &acked[id];
            let row: bool = conn
                .query_row(
                    "SELECT COUNT(*) > 0 FROM digit_samples WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .unwrap();
            let parts = (
                row,
                paths.image(&ack.filename).exists(),
                csv.contains_key(ack.filename.as_str()),
            );
            assert!(
                parts == (true, true, true) || parts == (false, false, false),
                "{when}: {} is half-deleted: {parts:?}",
                ack.filename
            );
            if !row {
                deleted.insert(*id);
            }
        }
        drop(conn);

        // After reopening: files, rows and CSV lines are the same set, every acknowledged one in it.
        let live = live(&acked, &deleted, &[]);
        assert_acknowledged_intact(paths, &live, &format!("{when}, reopened"));
        assert_deleted(paths, &acked, &deleted, &format!("{when}, reopened"));
        for ack in live.values() {
            assert_eq!(
                csv.get(ack.filename.as_str()),
                Some(&ack.label.as_str()),
                "{when}: CSV line of {}",
                ack.filename
            );
        }
        let counts = common::counts(paths);
        assert_eq!(
            (counts.files, counts.csv_lines),
            (counts.rows, counts.rows),
            "{when}: {counts:?}"
        );
        eprintln!("{when}: {} stored in all", counts.rows);
    }
    eprintln!(
        "{} samples acknowledged and {} of them deleted over {ROUNDS} kills in {:?}; `check --repair` needed {repairs} time(s)",
        acked.len(),
        deleted.len(),
        started.elapsed()
    );
    assert!(
        acked.len() >= 50,
        "the child must have stored enough to make the kills meaningful: {}",
        acked.len()
    );
}
