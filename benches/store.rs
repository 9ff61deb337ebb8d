//! Benchmarks of issue 2: `cargo bench --bench store`.
//!
//! A plain `main` that prints figures (no harness): rasterising one sample,
//! throughput with 1 and 32 concurrent submitters (acknowledged means
//! durable: every figure counts only samples whose receipt came back) and
//! latency percentiles, both through `Collector::submit` (rasterise + store)
//! and through `Collector::store` with the PNG already made (the store alone).
//!
//! The store runs on a fresh folder under the system temporary directory, or
//! under `DIGIT_KIOSK_BENCH_DIR` when set (it must be on the disk you want to
//! measure: a tmpfs makes fsync free). `DIGIT_KIOSK_BENCH_SAMPLES` changes the
//! number of samples per store run (default 4000); `DIGIT_KIOSK_BENCH_KEEP`
//! keeps the folders (for comparing runs without deleting thousands of files
//! between them, see `main`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use digit_kiosk::collector::{Collector, Drawing, Session, Submission, sha256_hex};
use digit_kiosk::digit::Digit;
use digit_kiosk::raster;
use digit_kiosk::sketch::{Point, PointerKind, Sketch, Stroke};
use digit_kiosk::store::{DataPaths, NewSample, Source};

fn main() {
    let sketch = eight();
    println!(
        "digit-kiosk store benchmarks ({} points per sample)",
        sketch.point_count()
    );
    println!();

    let raster_times = time_each(3000, || {
        std::hint::black_box(raster::rasterize(std::hint::black_box(&sketch)));
    });
    report("rasterise one sample", &raster_times, "target < 0.5 ms");
    let prepare_times = time_each(3000, || {
        let png = raster::encode_png(&raster::rasterize(&sketch));
        std::hint::black_box(sha256_hex(&png));
    });
    report(
        "rasterise + PNG + SHA-256",
        &prepare_times,
        "what each submitter does before the writer",
    );
    println!();

    let samples = std::env::var("DIGIT_KIOSK_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000usize);
    // Every run's folder is kept until the end: without a journal (as on the
    // development machine), ext4 will not reuse an inode deleted in the last
    // 30 s and scans past each one on every file it creates, so deleting one
    // run's thousands of files would slow the next run's creates.
    let mut folders = Vec::new();
    for (submitters, store_only) in [(1usize, false), (32, false), (1, true), (32, true)] {
        let n = if submitters == 1 {
            samples / 2
        } else {
            samples
        };
        let run = store_run(&sketch, submitters, n, store_only, &mut folders);
        let what = if store_only {
            "Collector::store (PNG made)"
        } else {
            "Collector::submit"
        };
        println!(
            "{what:<28} {submitters:>2} submitter(s): {:>5} samples in {:>5.2} s = {:>5.0} durable samples/s{}",
            run.count,
            run.elapsed.as_secs_f64(),
            run.count as f64 / run.elapsed.as_secs_f64(),
            if submitters == 32 {
                "  (target >= 3000/s)"
            } else {
                ""
            }
        );
        let mut latencies = run.latencies;
        latencies.sort();
        report(
            "  latency",
            &latencies,
            if submitters == 1 {
                "target p99 < 10 ms"
            } else {
                ""
            },
        );
    }
}

struct Run {
    count: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Submits `n` samples from `submitters` threads at once into a fresh folder.
fn store_run(
    sketch: &Sketch,
    submitters: usize,
    n: usize,
    store_only: bool,
    folders: &mut Vec<tempfile::TempDir>,
) -> Run {
    let base = std::env::var_os("DIGIT_KIOSK_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("digit-kiosk-bench-")
        .tempdir_in(base)
        .expect("temporary folder");
    let collector =
        Collector::open(DataPaths::new(dir.path().join("data"))).expect("open the data folder");
    let sample = Arc::new(new_sample(sketch));
    let submission = Arc::new(Submission {
        label: Digit::try_from(8u8).expect("a digit"),
        drawing: Drawing::Strokes(sketch.clone()),
        source: Source::Web,
        client: "192.0.2.7".into(),
        session: Some(Session::new("bench").expect("a session id")),
    });
    for _ in 0..20 {
        collector
            .submit((*submission).clone())
            .expect("warm-up sample stored");
    }
    let per_thread = n / submitters;
    let start = Instant::now();
    let threads: Vec<_> = (0..submitters)
        .map(|_| {
            let (collector, submission, sample) =
                (collector.clone(), submission.clone(), sample.clone());
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|_| {
                        let t = Instant::now();
                        if store_only {
                            collector.store((*sample).clone()).expect("sample stored");
                        } else {
                            collector
                                .submit((*submission).clone())
                                .expect("sample stored");
                        }
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("submitter thread"))
        .collect();
    let elapsed = start.elapsed();
    collector.shutdown();
    if std::env::var_os("DIGIT_KIOSK_BENCH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("kept {}", kept.display());
    } else {
        folders.push(dir);
    }
    Run {
        count: latencies.len(),
        elapsed,
        latencies,
    }
}

fn time_each(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..n / 10 {
        f();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// Prints median, p90, p99 and max of sorted durations.
fn report(what: &str, sorted: &[Duration], note: &str) {
    let at = |q: f64| {
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{what:<38} median {:>7.3} ms  p90 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms  {note}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// A hand-drawn-like "8": two loops traced with ~130 points, as a pen at
/// 60–120 Hz records them.
fn eight() -> Sketch {
    let mut points = Vec::new();
    let steps = 130;
    for i in 0..=steps {
        let a = std::f32::consts::TAU * i as f32 / steps as f32;
        // A lemniscate-like figure, upright, filling most of the canvas.
        let x = 140.0 + 60.0 * (a).sin() * (a).cos() * 1.6;
        let y = 140.0 - 95.0 * (a).cos();
        points.push(Point {
            x,
            y,
            t: f64::from(i) * 12.0,
            pressure: Some(0.5),
        });
    }
    Sketch::new(vec![Stroke {
        pointer: Some(PointerKind::Pen),
        points,
    }])
    .expect("a valid sketch")
}

/// The sample `Collector::submit` would make of `sketch`, made once: the
/// store-only runs measure the store without the rasteriser's CPU.
fn new_sample(sketch: &Sketch) -> NewSample {
    let png = raster::encode_png(&raster::rasterize(sketch));
    NewSample {
        label: Digit::try_from(8u8).expect("a digit"),
        sha256: sha256_hex(&png),
        png,
        strokes: Some(sketch.to_json().to_string()),
        source: Source::Web,
        ip: "192.0.2.7".into(),
        session: Some("bench".into()),
        station: None,
        preferred_name: None,
        at: None,
    }
}
