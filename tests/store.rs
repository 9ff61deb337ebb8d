//! The data-folder contract, read back the way its users read it: the PNG
//! opened and its pixels looked at, `labels.csv` parsed as CSV, the row read
//! with rusqlite and with the real `sqlite3` CLI. Then the store under load,
//! same-microsecond names, a second writer refused, every rejection writing
//! nothing, and a folder made by the original Flask app opened in place.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use common::{
    Counts, TempData, counts, csv_records, data_url, db_rows, file_sha256, image_names, png_rgba,
    sqlite3, submit_strokes,
};
use digit_kiosk::Error;
use digit_kiosk::collector::{Collector, Drawing, Session, Submission, sha256_hex};
use digit_kiosk::digit::Digit;
use digit_kiosk::picture::{normalize_png, png_from_data_url};
use digit_kiosk::raster;
use digit_kiosk::sketch::{MAX_POINTS, Sketch};
use digit_kiosk::store::db::SCHEMA_VERSION;
use digit_kiosk::store::files::{compact_stamp, db_timestamp};
use digit_kiosk::store::{NewSample, Receipt, Source};
use image::{Rgba, RgbaImage};
use serde_json::json;

/// `digit_<label>_<YYYYMMDDTHHMMSSffffffZ>[_n].png`, split into its parts.
fn parse_name(name: &str) -> Option<(u8, String, Option<u32>)> {
    let rest = name.strip_prefix("digit_")?.strip_suffix(".png")?;
    let (label, rest) = rest.split_once('_')?;
    let (stamp, n) = match rest.split_once('_') {
        Some((stamp, n)) => (stamp, Some(n.parse().ok()?)),
        None => (rest, None),
    };
    let ok = stamp.len() == 22
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 8 || i == 21 || b.is_ascii_digit());
    if !ok {
        return None;
    }
    Some((label.parse().ok()?, stamp.to_string(), n))
}

#[test]
fn a_stroke_sample_reads_back_as_png_csv_and_row() {
    let data = TempData::new();
    let collector = data.collector();
    let session = Session::new("participant-1").unwrap();
    let before = Utc::now();
    let receipt = collector
        .submit(Submission {
            label: Digit::try_from(7u8).unwrap(),
            drawing: Drawing::Strokes(common::sketch(&[
                (40.0, 60.0),
                (240.0, 60.0),
                (120.0, 250.0),
            ])),
            source: Source::Window,
            client: "127.0.0.1".into(),
            session: Some(session.clone()),
        })
        .unwrap();
    let after = Utc::now();
    assert!(
        before <= receipt.timestamp && receipt.timestamp <= after,
        "{receipt:?}"
    );
    assert_eq!(receipt.label.value(), 7);

    // The file name: label, then the receipt's own UTC stamp.
    let stamp = compact_stamp(&receipt.timestamp);
    assert_eq!(
        parse_name(&receipt.filename),
        Some((7, stamp.clone(), None)),
        "{}",
        receipt.filename
    );
    assert_eq!(
        image_names(&data.paths),
        vec![receipt.filename.clone()],
        "exactly one PNG, no leftovers"
    );
    assert_eq!(
        common::count_files(&data.paths.images()),
        1,
        "no pending file left behind"
    );

    // The PNG, opened as any image tool opens it.
    let png = image::open(data.paths.image(&receipt.filename)).unwrap();
    assert_eq!(png.color(), image::ColorType::L8, "8-bit grayscale");
    let gray = png.to_luma8();
    assert_eq!(gray.dimensions(), (280, 280));
    for (x, y) in [(40, 60), (140, 60), (239, 60), (180, 155), (120, 249)] {
        assert_eq!(
            gray.get_pixel(x, y).0[0],
            255,
            "white ink on the stroke at ({x}, {y})"
        );
    }
    for (x, y) in [
        (0, 0),
        (279, 279),
        (140, 20),
        (140, 100),
        (60, 200),
        (240, 240),
    ] {
        assert_eq!(
            gray.get_pixel(x, y).0[0],
            0,
            "black away from the stroke at ({x}, {y})"
        );
    }
    assert!(
        gray.pixels().any(|p| p.0[0] > 0 && p.0[0] < 255),
        "anti-aliased edges"
    );
    // The bytes on disk are the rasteriser's, so the same strokes always give the same file.
    let same = raster::encode_png(&raster::rasterize(&common::sketch(&[
        (40.0, 60.0),
        (240.0, 60.0),
        (120.0, 250.0),
    ])));
    assert_eq!(
        std::fs::read(data.paths.image(&receipt.filename)).unwrap(),
        same
    );

    // labels.csv, as a CSV reader sees it: the original four columns.
    let raw = std::fs::read_to_string(data.paths.csv()).unwrap();
    assert!(raw.starts_with("filename,label,timestamp,ip\n"), "{raw}");
    let (header, records) = csv_records(&data.paths);
    assert_eq!(header, ["filename", "label", "timestamp", "ip"]);
    assert_eq!(
        records,
        vec![vec![
            receipt.filename.clone(),
            "7".into(),
            stamp.clone(),
            "127.0.0.1".into()
        ]]
    );

    // The row, with rusqlite, while the kiosk is still running.
    let conn = common::open_db(&data.paths);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    type Row = (
        i64,
        String,
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        String,
    );
    let row: Row = conn
        .query_row(
            "SELECT id, filename, label, typeof(label), timestamp, ip, source, session, strokes, sha256,
                    strftime('%Y-%m-%dT%H:%M:%S', timestamp)
             FROM digit_samples",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            },
        )
        .unwrap();
    let (
        id,
        filename,
        label,
        label_type,
        timestamp,
        ip,
        source,
        session_col,
        strokes,
        sha,
        sqlite_date,
    ) = row;
    assert_eq!(
        (id, filename.as_str(), label, label_type.as_str()),
        (receipt.id, receipt.filename.as_str(), 7, "integer")
    );
    assert_eq!(
        timestamp,
        db_timestamp(&receipt.timestamp),
        "the file name's instant, in the original's form"
    );
    assert_eq!(timestamp.len(), "2025-12-04 12:34:56.789012".len());
    assert_eq!(
        sqlite_date,
        receipt.timestamp.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "SQLite's date functions read it"
    );
    assert_eq!((ip.as_str(), source.as_str()), ("127.0.0.1", "window"));
    assert_eq!(session_col.as_deref(), Some(session.as_str()));
    assert_eq!(sha, file_sha256(&data.paths.image(&receipt.filename)));
    let strokes = Sketch::from_json(&serde_json::from_str(&strokes).unwrap()).unwrap();
    assert_eq!(
        strokes,
        common::sketch(&[(40.0, 60.0), (240.0, 60.0), (120.0, 250.0)]),
        "strokes kept exactly"
    );

    // The seed's query through the real sqlite3 CLI, beside the running kiosk and after it stops.
    let expected_line = format!(
        "{}|{}|7|{}|127.0.0.1",
        receipt.id, receipt.filename, timestamp
    );
    assert_eq!(
        sqlite3(&data.paths.db(), common::SEED_QUERY).trim_end(),
        expected_line
    );
    collector.shutdown();
    assert_eq!(
        sqlite3(&data.paths.db(), common::SEED_QUERY).trim_end(),
        expected_line
    );
    assert_eq!(
        sqlite3(&data.paths.db(), "PRAGMA integrity_check;").trim_end(),
        "ok"
    );
}

#[test]
fn a_pixels_sample_is_normalised_to_the_same_form() {
    let data = TempData::new();
    let collector = data.collector();
    // What a browser canvas exports: RGBA, another size, dark ink on a white background.
    let mut img = RgbaImage::from_pixel(400, 200, Rgba([255, 255, 255, 255]));
    for x in 150..250 {
        for y in 90..110 {
            img.put_pixel(x, y, Rgba([10, 10, 10, 255]));
        }
    }
    let pixels = normalize_png(&png_from_data_url(&data_url(&png_rgba(&img))).unwrap()).unwrap();
    let receipt = collector
        .submit(Submission {
            label: Digit::try_from("1").unwrap(),
            drawing: Drawing::Pixels(pixels),
            source: Source::Web,
            client: "192.0.2.10".into(),
            session: None,
        })
        .unwrap();
    collector.shutdown();

    let gray = image::open(data.paths.image(&receipt.filename)).unwrap();
    assert_eq!(gray.color(), image::ColorType::L8);
    let gray = gray.to_luma8();
    assert_eq!(gray.dimensions(), (280, 280));
    assert!(
        gray.get_pixel(140, 140).0[0] > 200,
        "ink (inverted to white) in the middle"
    );
    assert_eq!(
        gray.get_pixel(140, 40).0[0],
        0,
        "letterboxed: above the fitted image stays black"
    );
    assert_eq!(
        gray.get_pixel(20, 140).0[0],
        0,
        "background inverted to black"
    );
    let (_, records) = csv_records(&data.paths);
    assert_eq!(
        records,
        vec![vec![
            receipt.filename.clone(),
            "1".into(),
            compact_stamp(&receipt.timestamp),
            "192.0.2.10".into()
        ]]
    );
    let out = sqlite3(
        &data.paths.db(),
        "SELECT label, ip, source, strokes IS NULL FROM digit_samples;",
    );
    assert_eq!(out.trim_end(), "1|192.0.2.10|web|1");
}

#[test]
fn eight_threads_of_500_submissions_lose_and_duplicate_nothing() {
    const THREADS: usize = 8;
    const EACH: usize = 500;
    let data = TempData::new();
    let collector = data.collector();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (collector, barrier) = (collector.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..EACH)
                    .map(|i| {
                        let label = ((t + i) % 10) as u8;
                        // A different stroke per sample, so each PNG is its own.
                        let y = 20.0 + (i % 240) as f32;
                        let x = 20.0 + (t * 30) as f32;
                        let receipt = collector
                            .submit(Submission {
                                client: format!("10.0.0.{t}"),
                                ..common::strokes_submission(label, &[(x, y), (x + 20.0, y + 15.0)])
                            })
                            .unwrap();
                        (t, receipt)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let receipts: Vec<(usize, Receipt)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let counted = collector.counts();
    collector.shutdown();

    let total = THREADS * EACH;
    assert_eq!(receipts.len(), total);
    let ids: HashSet<i64> = receipts.iter().map(|(_, r)| r.id).collect();
    let names: HashSet<&str> = receipts.iter().map(|(_, r)| r.filename.as_str()).collect();
    assert_eq!(
        (ids.len(), names.len()),
        (total, total),
        "no id or name given twice"
    );
    for t in 0..THREADS {
        let mine: Vec<i64> = receipts
            .iter()
            .filter(|(o, _)| *o == t)
            .map(|(_, r)| r.id)
            .collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "one submitter's samples are stored in its order"
        );
    }

    // The database: exactly the acknowledged samples.
    let rows = db_rows(&data.paths);
    assert_eq!(rows.len(), total);
    let by_id: std::collections::HashMap<i64, &Receipt> =
        receipts.iter().map(|(_, r)| (r.id, r)).collect();
    for row in &rows {
        let r = by_id
            .get(&row.id)
            .unwrap_or_else(|| panic!("row {} was never acknowledged", row.id));
        assert_eq!(
            (row.filename.as_str(), row.label.as_str()),
            (r.filename.as_str(), r.label.to_string().as_str())
        );
        assert_eq!(row.timestamp, db_timestamp(&r.timestamp));
    }
    let mut per_label = [0u64; 10];
    for (_, r) in &receipts {
        per_label[r.label.index()] += 1;
    }
    assert_eq!(
        counted, per_label,
        "the collector's counts follow the commits"
    );

    // The files: one per row, nothing else, each matching its checksum.
    let files = image_names(&data.paths);
    assert_eq!(files.len(), total);
    assert_eq!(
        common::count_files(&data.paths.images()),
        total,
        "no pending files left"
    );
    assert_eq!(
        files.iter().map(String::as_str).collect::<HashSet<_>>(),
        names
    );
    let conn = common::open_db(&data.paths);
    let mut stmt = conn
        .prepare("SELECT filename, sha256 FROM digit_samples")
        .unwrap();
    let sums: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (name, sum) in sums {
        assert_eq!(file_sha256(&data.paths.image(&name)), sum, "{name}");
    }

    // labels.csv: the same rows in the same order.
    let (_, records) = csv_records(&data.paths);
    let expected: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let at = digit_kiosk::store::files::parse_db_timestamp(&r.timestamp).unwrap();
            vec![
                r.filename.clone(),
                r.label.clone(),
                compact_stamp(&at),
                r.ip.clone(),
            ]
        })
        .collect();
    assert_eq!(records.len(), total);
    assert!(
        records == expected,
        "CSV rows equal database rows, in order"
    );
}

fn fixed_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 4, 12, 34, 56).unwrap() + chrono::Duration::microseconds(789_012)
}

fn sample_at(label: u8, at: DateTime<Utc>, y: f32) -> NewSample {
    let png = raster::encode_png(&raster::rasterize(&common::sketch(&[
        (50.0, y),
        (230.0, y),
    ])));
    NewSample {
        label: Digit::try_from(label).unwrap(),
        sha256: sha256_hex(&png),
        png,
        strokes: None,
        source: Source::Window,
        ip: "127.0.0.1".into(),
        session: None,
        station: None,
        preferred_name: None,
        at: Some(at),
    }
}

#[test]
fn samples_in_the_same_microsecond_get_distinct_names() {
    let data = TempData::new();
    let at = fixed_instant();
    let collector = data.collector();
    // One after the other (separate batches) ...
    let first = collector.store(sample_at(5, at, 40.0)).unwrap();
    let second = collector.store(sample_at(5, at, 80.0)).unwrap();
    // ... and eight at once (most likely one batch).
    let barrier = Arc::new(Barrier::new(8));
    let together: Vec<Receipt> = (0..8)
        .map(|i| {
            let (collector, barrier) = (collector.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                collector
                    .store(sample_at(5, at, 100.0 + 10.0 * i as f32))
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    // Another label in the same microsecond has its own name anyway.
    let other = collector.store(sample_at(3, at, 40.0)).unwrap();
    collector.shutdown();
    // A new writer (a restart) knows the names already taken.
    let collector = data.collector();
    let after_restart = collector.store(sample_at(5, at, 250.0)).unwrap();
    collector.shutdown();

    assert_eq!(first.filename, "digit_5_20251204T123456789012Z.png");
    assert_eq!(second.filename, "digit_5_20251204T123456789012Z_1.png");
    assert_eq!(other.filename, "digit_3_20251204T123456789012Z.png");
    assert_eq!(
        after_restart.filename,
        "digit_5_20251204T123456789012Z_10.png"
    );
    let mut all: Vec<Receipt> = vec![first, second, other, after_restart];
    all.extend(together);
    let names: HashSet<&str> = all.iter().map(|r| r.filename.as_str()).collect();
    assert_eq!(names.len(), 12, "twelve distinct names");
    for r in &all {
        assert_eq!(r.timestamp, at, "the instant itself is kept");
        let (_, stamp, _) = parse_name(&r.filename).unwrap();
        assert_eq!(stamp, "20251204T123456789012Z");
    }
    // Nothing overwrote anything: every file is still the one its row describes.
    let conn = common::open_db(&data.paths);
    let mut stmt = conn
        .prepare("SELECT filename, sha256, timestamp FROM digit_samples")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 12);
    let sums: HashSet<&str> = rows.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(
        sums.len(),
        11,
        "eleven different drawings (label 3 and the first 5 share one)"
    );
    for (name, sum, ts) in &rows {
        assert_eq!(&file_sha256(&data.paths.image(name)), sum, "{name}");
        assert_eq!(ts, "2025-12-04 12:34:56.789012");
    }
    let (_, records) = csv_records(&data.paths);
    assert_eq!(records.len(), 12);
    assert!(records.iter().all(|r| r[2] == "20251204T123456789012Z"));
}

#[test]
fn a_second_writer_on_the_same_folder_is_refused_by_name() {
    let data = TempData::new();
    let collector = data.collector();
    let receipt = submit_strokes(&collector, 4, &[(100.0, 40.0), (100.0, 240.0)]);
    let folder = data.root().display().to_string();
    let me = format!("process {}", std::process::id());

    // In this process: a second collector.
    let err = Collector::open(data.paths.clone())
        .err()
        .expect("a second writer must be refused");
    assert!(matches!(err, Error::FolderInUse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&folder) && message.contains(&me),
        "names the folder and the other process: {message}"
    );

    // In another process: the real binary's `check` (a writer) is refused the same way ...
    let run = common::run_on(&data.paths, "check", &[]);
    run.expect_code(1).expect_one_plain_error_line();
    assert!(
        run.stderr.contains(&folder) && run.stderr.contains(&me),
        "{run}"
    );
    assert!(run.stderr.contains("in use"), "{run}");
    // ... while `stats` reads beside the running kiosk.
    let run = common::run_on(&data.paths, "stats", &["--json"]);
    run.expect_code(0);
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(stats["total"], 1, "{run}");

    // Nothing was disturbed, and once the kiosk stops the folder is free.
    submit_strokes(&collector, 4, &[(60.0, 40.0), (60.0, 240.0)]);
    collector.shutdown();
    assert_eq!(
        counts(&data.paths),
        Counts {
            files: 2,
            rows: 2,
            csv_lines: 2
        }
    );
    let again = data.collector();
    assert_eq!(again.counts()[4], 2);
    again.shutdown();
    assert!(data.paths.image(&receipt.filename).exists());
}

/// A PNG of `width`×`height` 8-bit gray, every pixel 0, built chunk by chunk
/// (the image crate would refuse to make one this large): a decompression
/// bomb of a few hundred KiB that inflates to `width × height` bytes.
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit, grayscale, deflate, no filter, no interlace
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; width as usize + 1]; // filter byte + pixels
    for _ in 0..height {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The parts a front end receives, each parsed at the edge as the web layer
/// and the window do, then submitted. Any refusal comes back as the error.
struct Raw {
    label: serde_json::Value,
    strokes: Option<serde_json::Value>,
    image: Option<String>,
    session: Option<&'static str>,
}

impl Raw {
    fn ok() -> Self {
        Raw {
            label: json!(3),
            strokes: Some(json!([[[60, 60, 0], [200, 220, 40]]])),
            image: None,
            session: Some("s-1"),
        }
    }

    fn submit(self, collector: &Collector) -> digit_kiosk::Result<Receipt> {
        let label = match &self.label {
            serde_json::Value::String(s) => Digit::try_from(s.as_str())?,
            v => Digit::try_from(v.as_i64().ok_or_else(|| Error::BadLabel(v.to_string()))?)?,
        };
        let session = self.session.map(Session::new).transpose()?;
        let drawing = match (&self.strokes, &self.image) {
            (Some(strokes), _) => Drawing::Strokes(Sketch::from_json(strokes)?),
            (None, Some(url)) => Drawing::Pixels(normalize_png(&png_from_data_url(url)?)?),
            (None, None) => return Err(Error::NothingDrawn),
        };
        collector.submit(Submission {
            label,
            drawing,
            source: Source::Web,
            client: "192.0.2.1".into(),
            session,
        })
    }
}

#[test]
fn every_rejection_is_plain_words_and_writes_nothing() {
    let data = TempData::new();
    let collector = data.collector();
    Raw::ok().submit(&collector).unwrap(); // the folder is not empty: appends would show
    let blank = png_rgba(&RgbaImage::from_pixel(280, 280, Rgba([0, 0, 0, 255])));
    let transparent = png_rgba(&RgbaImage::new(100, 100));
    let oversized = png_rgba(&RgbaImage::from_pixel(2049, 8, Rgba([255, 255, 255, 255])));
    let too_many: Vec<serde_json::Value> = (0..=MAX_POINTS).map(|i| json!([100, 100, i])).collect();
    let with = |f: &dyn Fn(&mut Raw)| {
        let mut raw = Raw::ok();
        f(&mut raw);
        raw
    };
    let image = |png: &[u8]| {
        let url = data_url(png);
        let mut raw = Raw::ok();
        raw.strokes = None;
        raw.image = Some(url);
        raw
    };
    let cases: Vec<(&str, Raw, &str)> = vec![
        (
            "label 10",
            with(&|r| r.label = json!(10)),
            "label must be a digit from 0 to 9",
        ),
        (
            "label -1",
            with(&|r| r.label = json!(-1)),
            "label must be a digit from 0 to 9",
        ),
        (
            "label \"55\"",
            with(&|r| r.label = json!("55")),
            "label must be a digit from 0 to 9",
        ),
        (
            "label 2.5",
            with(&|r| r.label = json!(2.5)),
            "label must be a digit from 0 to 9",
        ),
        (
            "no strokes at all",
            with(&|r| r.strokes = Some(json!([]))),
            "empty",
        ),
        (
            "strokes without points",
            with(&|r| r.strokes = Some(json!([[], []]))),
            "empty",
        ),
        (
            "strokes not a list",
            with(&|r| r.strokes = Some(json!({"x": 1}))),
            "list of strokes",
        ),
        (
            "a point with two numbers",
            with(&|r| r.strokes = Some(json!([[[1, 2]]]))),
            "[x, y, t]",
        ),
        (
            "a point with text",
            with(&|r| r.strokes = Some(json!([[[1, "a", 3]]]))),
            "[x, y, t]",
        ),
        (
            "an infinite coordinate",
            with(&|r| r.strokes = Some(json!([[[1e39, 2, 3]]]))),
            "finite",
        ),
        (
            "far outside the canvas",
            with(&|r| r.strokes = Some(json!([[[10, 10, 0], [5000, 2, 3]]]))),
            "far outside",
        ),
        (
            "negative time",
            with(&|r| r.strokes = Some(json!([[[10, 10, -5]]]))),
            "time",
        ),
        (
            "too many points",
            with(&|r| r.strokes = Some(json!([too_many.clone()]))),
            "10000",
        ),
        (
            "empty session",
            with(&|r| r.session = Some("")),
            "session must be",
        ),
        (
            "session with a path",
            with(&|r| r.session = Some("../etc")),
            "session must be",
        ),
        (
            "session with spaces",
            with(&|r| r.session = Some("a b")),
            "session must be",
        ),
        (
            "nothing drawn",
            with(&|r| r.strokes = None),
            "nothing drawn",
        ),
        ("a blank image", image(&blank), "blank"),
        ("a transparent image", image(&transparent), "blank"),
        ("an image over 2048 px", image(&oversized), "2048"),
        (
            "not a PNG",
            image(b"GIF89a\x01\x00\x01\x00"),
            "not a readable PNG",
        ),
        (
            "a truncated PNG",
            image(&blank[..blank.len() / 2]),
            "not a readable PNG",
        ),
        (
            "a JPEG data URL",
            with(&|r| {
                r.strokes = None;
                r.image = Some("data:image/jpeg;base64,/9j/4AAQ".into());
            }),
            "data:image/png;base64",
        ),
        (
            "bad base64",
            with(&|r| {
                r.strokes = None;
                r.image = Some("data:image/png;base64,@@not base64@@".into());
            }),
            "base64",
        ),
    ];
    let before = counts(&data.paths);
    assert_eq!(
        before,
        Counts {
            files: 1,
            rows: 1,
            csv_lines: 1
        }
    );
    let csv_before = std::fs::read(data.paths.csv()).unwrap();
    for (what, raw, words) in cases {
        let err = raw
            .submit(&collector)
            .err()
            .unwrap_or_else(|| panic!("{what}: must be refused"));
        let message = err.to_string();
        assert!(
            message.contains(words),
            "{what}: `{message}` should say `{words}`"
        );
        assert!(
            err.is_bad_input(),
            "{what}: a client's mistake, not a station failure: {err:?}"
        );
        assert!(
            !message.contains('{') && !message.contains("Error"),
            "{what}: plain words, not debug output: {message}"
        );
        assert_eq!(counts(&data.paths), before, "{what}: nothing written");
    }

    // A decompression bomb: 12,000 × 12,000 pixels (144 MB) in a small PNG, refused from its header.
    let bomb = bomb_png(12_000, 12_000);
    assert!(
        bomb.len() < 1 << 20,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let start = Instant::now();
    let err = image(&bomb)
        .submit(&collector)
        .expect_err("a bomb is refused");
    let took = start.elapsed();
    assert!(err.to_string().contains("larger than 2048×2048"), "{err}");
    assert!(
        took < Duration::from_millis(500),
        "refused fast, not decoded: {took:?}"
    );

    collector.shutdown();
    assert_eq!(
        counts(&data.paths),
        before,
        "nothing written after shutdown either"
    );
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), csv_before);
    // And a valid submission still goes through the same path.
    let collector = data.collector();
    Raw::ok().submit(&collector).unwrap();
    collector.shutdown();
    assert_eq!(
        counts(&data.paths),
        Counts {
            files: 2,
            rows: 2,
            csv_lines: 2
        }
    );
}

// ---------------------------------------------------------------------------
// A folder made by the original Flask app.

/// The original app's table, exactly as `flask_seed/app.py` creates it.
const FLASK_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS digit_samples (
    id INTEGER NOT NULL,
    filename VARCHAR NOT NULL,
    label VARCHAR(1) NOT NULL,
    timestamp DATETIME NOT NULL,
    ip VARCHAR,
    PRIMARY KEY (id)
)
";

/// One sample as the Flask app stored it.
struct FlaskSample {
    id: i64,
    filename: String,
    label: String,
    timestamp: String,
    ip: Option<String>,
}

/// Builds a data folder the way `flask_seed/app.py` does: browser PNGs
/// (RGBA, as a canvas exports them) written as sent, a CSV line
/// `filename,label,stamp,ip` per sample after the header, and a row per
/// sample with a text label and `YYYY-MM-DD HH:MM:SS.ffffff` timestamps.
/// Ids have a gap (a row deleted by hand) and one `ip` is NULL.
fn make_flask_folder(data: &TempData) -> Vec<FlaskSample> {
    let paths = &data.paths;
    std::fs::create_dir_all(paths.images()).unwrap();
    let mut csv = String::from("filename,label,timestamp,ip\n");
    let conn = rusqlite::Connection::open(paths.db()).unwrap();
    conn.execute_batch(FLASK_SCHEMA).unwrap();
    let start = Utc.with_ymd_and_hms(2025, 12, 4, 12, 34, 56).unwrap()
        + chrono::Duration::microseconds(789_012);
    let mut samples = Vec::new();
    for i in 0..13i64 {
        if i == 6 {
            continue; // id 7 was deleted by hand
        }
        let id = i + 1;
        let now = start + chrono::Duration::milliseconds(1_517 * i);
        let label = (i % 10).to_string();
        let stamp = now.format("%Y%m%dT%H%M%S%6fZ").to_string();
        let filename = format!("digit_{label}_{stamp}.png");
        let mut img = RgbaImage::from_pixel(280, 280, Rgba([0, 0, 0, 255]));
        for d in 0..120 {
            img.put_pixel(80 + d, 60 + d + (i as u32), Rgba([255, 255, 255, 255]));
        }
        std::fs::write(paths.image(&filename), png_rgba(&img)).unwrap();
        let ip = match i {
            3 => None,
            5 => Some(String::new()),
            _ => Some(format!("192.168.1.{}", 10 + i)),
        };
        csv += &format!(
            "{filename},{label},{stamp},{}\n",
            ip.as_deref().unwrap_or("")
        );
        let timestamp = now.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        conn.execute(
            "INSERT INTO digit_samples (id, filename, label, timestamp, ip) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, filename, label, timestamp, ip],
        )
        .unwrap();
        samples.push(FlaskSample {
            id,
            filename,
            label,
            timestamp,
            ip,
        });
    }
    std::fs::write(paths.csv(), csv).unwrap();
    let label_type: String = conn
        .query_row("SELECT typeof(label) FROM digit_samples LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        label_type, "text",
        "the fixture stores labels as the original did"
    );
    samples
}

fn hashes(data: &TempData) -> Vec<(String, String)> {
    image_names(&data.paths)
        .into_iter()
        .map(|n| (file_sha256(&data.paths.image(&n)), n))
        .collect()
}

#[test]
fn a_flask_made_folder_opens_in_place_without_loss() {
    let data = TempData::new();
    let flask = make_flask_folder(&data);
    let seed_before = sqlite3(&data.paths.db(), common::SEED_QUERY);
    assert_eq!(seed_before.lines().count(), 10);
    let files_before = hashes(&data);
    let csv_before = std::fs::read(data.paths.csv()).unwrap();

    // The first command run on it migrates it in place.
    let run = common::run_on(&data.paths, "stats", &["--json"]);
    run.expect_code(0);
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut per_label = [0u64; 10];
    for s in &flask {
        per_label[s.label.parse::<usize>().unwrap()] += 1;
    }
    assert_eq!(stats["total"], 12, "{run}");
    assert_eq!(stats["per_label"], json!(per_label), "{run}");
    assert_eq!(stats["first"], "2025-12-04 12:34:56.789012", "{run}");

    let conn = common::open_db(&data.paths);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let types: String = conn
        .query_row(
            "SELECT group_concat(DISTINCT typeof(label)) || '/' || group_concat(DISTINCT source) FROM digit_samples",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        types, "integer/flask",
        "labels became numbers; rows marked as the original app's"
    );
    drop(conn);

    // Every row keeps its id and values; NULL addresses read as empty, as before.
    let rows = db_rows(&data.paths);
    assert_eq!(rows.len(), flask.len());
    for (row, old) in rows.iter().zip(&flask) {
        assert_eq!(
            (row.id, &row.filename, &row.label, &row.timestamp),
            (old.id, &old.filename, &old.label, &old.timestamp)
        );
        assert_eq!(row.ip, old.ip.clone().unwrap_or_default());
    }
    // Files and CSV untouched; the seed's query prints exactly what it printed before.
    assert_eq!(hashes(&data), files_before);
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), csv_before);
    assert_eq!(sqlite3(&data.paths.db(), common::SEED_QUERY), seed_before);
    assert_eq!(
        sqlite3(&data.paths.db(), "PRAGMA integrity_check;").trim_end(),
        "ok"
    );

    // `check` finds the three parts in agreement.
    let run = common::run_on(&data.paths, "check", &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("ok: 12 samples"), "{run}");

    // New samples continue after the old ones, in all three parts.
    let collector = data.collector();
    assert_eq!(collector.counts(), per_label);
    let receipt = submit_strokes(&collector, 9, &[(140.0, 40.0), (140.0, 240.0)]);
    collector.shutdown();
    assert_eq!(receipt.id, 14, "after the highest old id");
    let (header, records) = csv_records(&data.paths);
    assert_eq!(header, ["filename", "label", "timestamp", "ip"]);
    assert_eq!(records.len(), 13);
    assert_eq!(records.last().unwrap()[0], receipt.filename);
    let run = common::run_on(&data.paths, "check", &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("ok: 13 samples"), "{run}");
    let seed_after = common::seed_query_cli(&data.paths);
    assert_eq!(seed_after.len(), 10);
    assert_eq!(
        seed_after[0],
        [
            "1",
            &flask[0].filename,
            "0",
            "2025-12-04 12:34:56.789012",
            "192.168.1.10"
        ]
    );
    let out = sqlite3(
        &data.paths.db(),
        "SELECT id, label, ip FROM digit_samples WHERE id IN (4, 14) ORDER BY id;",
    );
    assert_eq!(out, "4|3|\n14|9|127.0.0.1\n");
}

#[test]
fn a_flask_folder_with_a_name_written_twice_opens_and_check_names_it() {
    // The original's workers could write the same name twice in one microsecond.
    let data = TempData::new();
    let flask = make_flask_folder(&data);
    let twice = &flask[2];
    let conn = rusqlite::Connection::open(data.paths.db()).unwrap();
    conn.execute(
        "INSERT INTO digit_samples (filename, label, timestamp, ip) VALUES (?1, ?2, ?3, '192.168.1.99')",
        rusqlite::params![twice.filename, twice.label, twice.timestamp],
    )
    .unwrap();
    drop(conn);
    let stamp = twice
        .timestamp
        .replace(['-', ':'], "")
        .replace(' ', "T")
        .replace('.', "")
        + "Z";
    let mut csv = std::fs::OpenOptions::new()
        .append(true)
        .open(data.paths.csv())
        .unwrap();
    writeln!(
        csv,
        "{},{},{stamp},192.168.1.99",
        twice.filename, twice.label
    )
    .unwrap();
    drop(csv);

    let run = common::run_on(&data.paths, "check", &[]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains(&format!("duplicate rows: {}", twice.filename)),
        "{run}"
    );
    assert_eq!(
        common::count_rows(&data.paths),
        13,
        "opened, nothing dropped"
    );
    // New samples can still be stored beside it.
    let collector = data.collector();
    submit_strokes(&collector, 1, &[(140.0, 40.0), (140.0, 240.0)]);
    collector.shutdown();
    assert_eq!(common::count_rows(&data.paths), 14);
}

// ---------------------------------------------------------------------------
// Deleting a sample: its PNG to trash/, its row and CSV line gone, never half.

/// What `check` finds (opening the folder runs recovery first), and what
/// that opening recovered.
fn check_folder(data: &TempData) -> (Vec<String>, Vec<String>) {
    let report = digit_kiosk::check::run(&data.paths, false).unwrap();
    (
        report.problems.iter().map(ToString::to_string).collect(),
        report.recovered,
    )
}

/// The files in `trash/`, sorted (none if it does not exist).
fn trash_names(data: &TempData) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.paths.trash())
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn csv_names(data: &TempData) -> Vec<String> {
    csv_records(&data.paths)
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[test]
fn deleting_a_sample_moves_its_png_to_trash_and_leaves_no_other_trace() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let data = TempData::new();
    let collector = data.collector();
    let changes = Arc::new(AtomicUsize::new(0));
    let seen = changes.clone();
    collector.on_change(move || {
        seen.fetch_add(1, SeqCst);
    });
    let seven = [(40.0, 60.0), (240.0, 60.0), (120.0, 250.0)];
    let kept1 = submit_strokes(&collector, 1, &[(140.0, 40.0), (140.0, 240.0)]);
    let gone = submit_strokes(&collector, 7, &seven);
    let kept2 = submit_strokes(&collector, 3, &[(60.0, 60.0), (200.0, 220.0)]);
    let sha = file_sha256(&data.paths.image(&gone.filename));
    let before = changes.load(SeqCst);

    let deleted = collector.delete(gone.id).unwrap();
    assert_eq!((deleted.sample.id, deleted.sample.label), (gone.id, 7));
    assert_eq!(deleted.sample.filename, gone.filename);
    assert_eq!(
        deleted.trashed.as_deref(),
        Some(gone.filename.as_str()),
        "its own name in trash/"
    );
    let strokes: serde_json::Value =
        serde_json::from_str(deleted.sample.strokes.as_deref().unwrap()).unwrap();
    assert_eq!(
        Sketch::from_json(&strokes).unwrap(),
        common::sketch(&seven),
        "the drawing comes back with it"
    );
    assert_eq!(changes.load(SeqCst), before + 1, "listeners are told");
    let mut per_label = [0; 10];
    per_label[1] = 1;
    per_label[3] = 1;
    assert_eq!(collector.counts(), per_label);

    // images/, trash/, labels.csv and the database, read the plain way.
    assert_eq!(image_names(&data.paths), {
        let mut kept = vec![kept1.filename.clone(), kept2.filename.clone()];
        kept.sort();
        kept
    });
    assert_eq!(trash_names(&data), vec![gone.filename.clone()]);
    assert_eq!(
        file_sha256(&data.paths.trash().join(&gone.filename)),
        sha,
        "the very PNG, unchanged"
    );
    assert_eq!(
        csv_names(&data),
        vec![kept1.filename.clone(), kept2.filename.clone()],
        "the other lines, in order"
    );
    assert_eq!(
        db_rows(&data.paths)
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![kept1.id, kept2.id]
    );
    assert!(
        !data.paths.csv().with_extension("tmp-rewrite").exists(),
        "no temporary file left"
    );

    // Asking again is refused in plain words and changes nothing.
    let err = collector.delete(gone.id).unwrap_err();
    assert!(
        matches!(err, Error::NoSuchSample(id) if id == gone.id),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "there is no sample {} (it may have been removed already)",
            gone.id
        )
    );
    assert_eq!(
        counts(&data.paths),
        Counts {
            files: 2,
            rows: 2,
            csv_lines: 2
        }
    );

    // Storing goes on after it, appending to the rewritten CSV.
    let next = submit_strokes(&collector, 7, &[(50.0, 50.0), (230.0, 230.0)]);
    assert!(next.id > kept2.id, "ids are never given again");
    collector.shutdown();
    assert_eq!(
        counts(&data.paths),
        Counts {
            files: 3,
            rows: 3,
            csv_lines: 3
        }
    );
    assert_eq!(csv_names(&data).last(), Some(&next.filename));
    assert_eq!(
        check_folder(&data),
        (Vec::new(), Vec::new()),
        "check finds nothing, nothing to recover"
    );
    common::run_on(&data.paths, "check", &[]).expect_code(0);
    let run = common::run_on(&data.paths, "stats", &["--json"]);
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(stats["total"], 3, "{run}");
}

#[test]
fn a_name_already_in_trash_gets_a_number_and_each_delete_keeps_its_own_png() {
    let data = TempData::new();
    let collector = data.collector();
    let at = fixed_instant();
    let first = collector.store(sample_at(5, at, 40.0)).unwrap();
    collector.delete(first.id).unwrap();
    // The name is free again; a merge keeps another station's names.
    let again = collector
        .store(NewSample {
            preferred_name: Some(first.filename.clone()),
            ..sample_at(5, at, 120.0)
        })
        .unwrap();
    assert_eq!(again.filename, first.filename);
    let again_sha = file_sha256(&data.paths.image(&again.filename));
    let deleted = collector.delete(again.id).unwrap();
    collector.shutdown();
    let numbered = "digit_5_20251204T123456789012Z~1.png";
    assert_eq!(deleted.trashed.as_deref(), Some(numbered));
    assert_eq!(
        trash_names(&data),
        vec![first.filename.clone(), numbered.to_string()]
    );
    assert_eq!(file_sha256(&data.paths.trash().join(numbered)), again_sha);
    assert_ne!(
        file_sha256(&data.paths.trash().join(&first.filename)),
        again_sha,
        "the first one is not overwritten"
    );
    assert_eq!(
        counts(&data.paths),
        Counts {
            files: 0,
            rows: 0,
            csv_lines: 0
        }
    );
    assert_eq!(check_folder(&data), (Vec::new(), Vec::new()));
}

#[test]
fn a_delete_cut_short_at_any_step_is_rolled_back_or_finished_at_the_next_open() {
    use digit_kiosk::store::Store;
    let data = TempData::new();
    let collector = data.collector();
    let receipts: Vec<Receipt> = (0..5u8)
        .map(|i| {
            submit_strokes(
                &collector,
                i,
                &[(40.0 + 30.0 * f32::from(i), 40.0), (60.0, 240.0)],
            )
        })
        .collect();
    collector.shutdown();
    let (paths, trash) = (&data.paths, data.paths.trash());
    let recorded_sha = |name: &str| -> Option<String> {
        common::open_db(paths)
            .query_row(
                "SELECT sha256 FROM digit_samples WHERE filename = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    };

    // Step 1 done, step 2 not: the PNG is in trash/, its row still in the database. An
    // earlier deletion left another PNG of the same name there, so this one has a number.
    let cut = &receipts[1];
    std::fs::create_dir_all(&trash).unwrap();
    std::fs::write(trash.join(&cut.filename), b"an older sample's PNG").unwrap();
    std::fs::rename(
        paths.image(&cut.filename),
        trash.join(cut.filename.replace(".png", "~1.png")),
    )
    .unwrap();
    let (problems, recovered) = check_folder(&data);
    assert_eq!(problems, Vec::<String>::new(), "{recovered:?}");
    assert!(
        recovered
            .iter()
            .any(|r| r.contains("moved 1 image(s) back from trash/")),
        "{recovered:?}"
    );
    assert_eq!(
        file_sha256(&paths.image(&cut.filename)),
        recorded_sha(&cut.filename).unwrap(),
        "its own PNG came back"
    );
    assert_eq!(
        trash_names(&data),
        vec![cut.filename.clone()],
        "the older one stays in trash/"
    );
    assert_eq!(
        counts(paths),
        Counts {
            files: 5,
            rows: 5,
            csv_lines: 5
        }
    );

    // The same for a row of the original app, which has no checksum: the PNG of its name comes back.
    let flask = &receipts[2];
    common::sqlite3(
        &paths.db(),
        &format!(
            "UPDATE digit_samples SET sha256 = NULL WHERE id = {};",
            flask.id
        ),
    );
    std::fs::rename(paths.image(&flask.filename), trash.join(&flask.filename)).unwrap();
    let (problems, recovered) = check_folder(&data);
    assert_eq!(problems, Vec::<String>::new(), "{recovered:?}");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert!(paths.image(&flask.filename).is_file());

    // Step 2 done, step 3 not: the row is gone, labels.csv still lists it (its
    // rewrite never renamed into place; only a cut-short temporary file exists).
    let gone = &receipts[3];
    let csv_before = std::fs::read(paths.csv()).unwrap();
    let mut store = Store::open(paths.clone()).unwrap();
    let deleted = store.delete(gone.id).unwrap();
    drop(store);
    assert_eq!(deleted.trashed.as_deref(), Some(gone.filename.as_str()));
    std::fs::write(paths.csv(), &csv_before).unwrap();
    std::fs::write(
        paths.csv().with_extension("tmp-rewrite"),
        b"filename,label,timestamp,ip\ndigit_0_2025",
    )
    .unwrap();
    let (problems, recovered) = check_folder(&data);
    assert_eq!(problems, Vec::<String>::new(), "{recovered:?}");
    assert!(
        recovered
            .iter()
            .any(|r| r.contains("still listed 1 deleted sample(s)")),
        "{recovered:?}"
    );
    assert!(!csv_names(&data).contains(&gone.filename));
    assert!(
        !paths.csv().with_extension("tmp-rewrite").exists(),
        "the cut-short temporary file is gone"
    );
    assert_eq!(
        counts(paths),
        Counts {
            files: 4,
            rows: 4,
            csv_lines: 4
        }
    );
    assert!(
        trash.join(&gone.filename).is_file(),
        "and its PNG stays in trash/"
    );

    // A trashed sample's line and a missing tail at once (an append lost before the delete).
    let last = &receipts[4];
    let mut store = Store::open(paths.clone()).unwrap();
    let csv_before = std::fs::read(paths.csv()).unwrap();
    store.delete(receipts[0].id).unwrap();
    drop(store);
    let without_last: Vec<u8> = String::from_utf8(csv_before)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(&last.filename))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    std::fs::write(paths.csv(), without_last).unwrap();
    let (problems, recovered) = check_folder(&data);
    assert_eq!(problems, Vec::<String>::new(), "{recovered:?}");
    assert_eq!(
        counts(paths),
        Counts {
            files: 3,
            rows: 3,
            csv_lines: 3
        }
    );
    assert_eq!(csv_names(&data).last(), Some(&last.filename));

    // Every step done: nothing to recover, and the real binary agrees.
    assert_eq!(check_folder(&data), (Vec::new(), Vec::new()));
    common::run_on(paths, "check", &[]).expect_code(0);
}

#[test]
fn a_delete_the_database_refuses_leaves_the_sample_whole() {
    use digit_kiosk::store::Store;
    let data = TempData::new();
    let collector = data.collector();
    let receipt = submit_strokes(&collector, 6, &[(140.0, 40.0), (80.0, 200.0)]);
    collector.shutdown();
    let csv_before = std::fs::read(data.paths.csv()).unwrap();
    let mut store = Store::open(data.paths.clone()).unwrap();
    // Another connection holds the write lock past the store's busy timeout.
    let blocker = rusqlite::Connection::open(data.paths.db()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store.delete(receipt.id).unwrap_err();
    assert!(err.to_string().contains("database is locked"), "{err}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(
        data.paths.image(&receipt.filename).is_file(),
        "the PNG is moved back"
    );
    assert_eq!(trash_names(&data), Vec::<String>::new());
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), csv_before);
    drop(store);
    assert_eq!(
        counts(&data.paths),
        Counts {
            files: 1,
            rows: 1,
            csv_lines: 1
        }
    );
    assert_eq!(check_folder(&data), (Vec::new(), Vec::new()));
}

#[test]
fn deletes_between_concurrent_submits_keep_the_three_parts_in_agreement() {
    const THREADS: usize = 4;
    const EACH: usize = 60;
    let data = TempData::new();
    let collector = data.collector();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (collector, barrier) = (collector.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let (mut kept, mut gone) = (Vec::new(), Vec::new());
                for i in 0..EACH {
                    let (x, y) = (20.0 + (t * 60) as f32, 20.0 + (i * 4) as f32);
                    let receipt = submit_strokes(
                        &collector,
                        ((t + i) % 10) as u8,
                        &[(x, y), (x + 30.0, y + 10.0)],
                    );
                    if i % 3 == 1 {
                        let deleted = collector.delete(receipt.id).unwrap();
                        assert_eq!(deleted.trashed.as_deref(), Some(receipt.filename.as_str()));
                        gone.push(receipt);
                    } else {
                        kept.push(receipt);
                    }
                }
                (kept, gone)
            })
        })
        .collect();
    let (mut kept, mut gone) = (Vec::new(), Vec::new());
    for h in handles {
        let (k, g) = h.join().unwrap();
        kept.extend(k);
        gone.extend(g);
    }
    let counted = collector.counts();
    collector.shutdown();
    let mut per_label = [0u64; 10];
    for r in &kept {
        per_label[r.label.index()] += 1;
    }
    assert_eq!(
        counted, per_label,
        "the counts follow deletes as well as commits"
    );
    kept.sort_by_key(|r| r.id);
    let kept_names: Vec<String> = kept.iter().map(|r| r.filename.clone()).collect();
    assert_eq!(
        db_rows(&data.paths)
            .iter()
            .map(|r| r.filename.clone())
            .collect::<Vec<_>>(),
        kept_names
    );
    assert_eq!(
        csv_names(&data),
        kept_names,
        "the CSV lines are the rows, in order"
    );
    let mut sorted = kept_names.clone();
    sorted.sort();
    assert_eq!(image_names(&data.paths), sorted);
    let mut gone_names: Vec<String> = gone.iter().map(|r| r.filename.clone()).collect();
    gone_names.sort();
    assert_eq!(trash_names(&data), gone_names);
    assert_eq!(check_folder(&data), (Vec::new(), Vec::new()));
}
