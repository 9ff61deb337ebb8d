//! Export benchmark: 100,000 samples to `mnist`, the issue's target being
//! under 10 s on a 2-core machine.
//!
//! ```sh
//! cargo bench --bench export                                   # 100,000 samples
//! DIGIT_KIOSK_BENCH_SAMPLES=5000 cargo bench --bench export    # a quick run
//! ```
//!
//! The data folder is made once by submitting strokes through the
//! `Collector` from many threads (as a class of browsers would) and kept in
//! Cargo's target tmp folder for the next run. Each export then runs in a
//! fresh child process (this binary again), so the peak memory it reports
//! (`VmHWM` from /proc/self/status) is the export's alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use digit_kiosk::collector::{Collector, Drawing, Session, Submission};
use digit_kiosk::digit::Digit;
use digit_kiosk::export::{self, ExportOptions, Format};
use digit_kiosk::sketch::{Point, Sketch, Stroke};
use digit_kiosk::store::{self, DataPaths, Source, db};

const PHASE: &str = "DIGIT_KIOSK_BENCH_PHASE";
const RUNS: usize = 3;

fn main() {
    let samples: usize = std::env::var("DIGIT_KIOSK_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("export-bench-{samples}"));
    let paths = DataPaths::new(root.join("data"));
    let out = root.join("mnist");

    if std::env::var_os(PHASE).is_some() {
        export_once(&paths, &out);
        return;
    }

    if existing(&paths) != Some(samples) {
        let _ = std::fs::remove_dir_all(&root); // a partial folder from an interrupted run
        let started = Instant::now();
        fill(&paths, samples);
        println!(
            "made {samples} samples through the collector in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("reusing {samples} samples in {}", paths.root.display());
    }

    let exe = std::env::current_exe().expect("the bench's own path");
    for run in 1..=RUNS {
        let child = Command::new(&exe)
            .env(PHASE, "export")
            .output()
            .expect("run the export phase");
        print!(
            "run {run}/{RUNS}: {}",
            String::from_utf8_lossy(&child.stdout)
        );
        if !child.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&child.stderr));
            std::process::exit(1);
        }
    }
}

/// The export being measured, in a process of its own.
fn export_once(paths: &DataPaths, out: &Path) {
    let started = Instant::now();
    let summary = export::run(paths, &ExportOptions::new(Format::Mnist, out)).expect("export");
    let took = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: unknown")
        .trim()
        .to_string();
    println!(
        "export mnist of {} samples: {took:.2} s ({:.0} samples/s), peak memory {}",
        summary.total(),
        summary.total() as f64 / took,
        peak.trim_start_matches("VmHWM:").trim()
    );
}

fn existing(paths: &DataPaths) -> Option<usize> {
    if !paths.db().exists() {
        return None;
    }
    store::read(paths, db::summary)
        .ok()
        .map(|s| s.total as usize)
}

/// Submits `n` drawings from 64 threads; each thread is one "browser"
/// whose writer changes every 25 samples.
fn fill(paths: &DataPaths, n: usize) {
    let collector = Collector::open(paths.clone()).expect("open the bench folder");
    let threads = 64;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let collector = collector.clone();
            let work = move || {
                for i in (t..n).step_by(threads) {
                    let label = (i % 10) as u8;
                    let session =
                        Session::new(&format!("writer-{}", i / 25)).expect("a valid session");
                    collector
                        .submit(Submission {
                            label: Digit::try_from(label).expect("0-9"),
                            drawing: Drawing::Strokes(digit_like(label, i as u64)),
                            source: Source::Web,
                            client: format!("10.0.{}.{}", t / 250, t % 250),
                            session: Some(session),
                        })
                        .expect("stored");
                }
            };
            std::thread::Builder::new()
                .name(format!("fill-{t}"))
                .spawn_scoped(scope, work)
                .expect("a thread");
        }
    });
    collector.shutdown();
}

/// A pen path with a digit's rough shape, varied by `seed` in size, place,
/// slant and wobble; 40–80 points, 16 ms apart, as a mouse or finger gives.
fn digit_like(label: u8, seed: u64) -> Sketch {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let size = 120.0 + 110.0 * random();
    let (cx, cy) = (100.0 + 80.0 * random(), 100.0 + 80.0 * random());
    let slant = 0.3 * (random() - 0.5);
    let points = 40 + (random() * 40.0) as usize;
    let tau = std::f32::consts::TAU;
    let k = f32::from(label);
    let shape = |t: f32| -> (f32, f32) {
        match label {
            0 => (0.3 * (tau * t).cos(), 0.5 * (tau * t).sin()),
            1 => (0.0, t - 0.5),
            7 if t < 0.4 => (t * 2.0 - 0.4, -0.5),
            7 => (0.4 - (t - 0.4) * 0.9, (t - 0.4) * 1.65 - 0.5),
            _ => (0.35 * (tau * t * (0.5 + k / 5.0)).sin(), t - 0.5),
        }
    };
    let mut wobble = 0.0;
    let pts = (0..points)
        .map(|i| {
            let (x, y) = shape(i as f32 / (points - 1) as f32);
            wobble += (random() - 0.5) * 0.01;
            Point {
                x: (cx + (x + slant * y + wobble) * size).clamp(0.0, 280.0),
                y: (cy + y * size).clamp(0.0, 280.0),
                t: i as f64 * 16.0,
                pressure: None,
            }
        })
        .collect();
    Sketch::new(vec![Stroke {
        pointer: None,
        points: pts,
    }])
    .expect("a valid sketch")
}
