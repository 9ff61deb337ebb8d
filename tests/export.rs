//! Exports and merge, read back by independent readers: IDX parsed by hand
//! and by Python's numpy, the Kaggle CSV by the csv crate, ImageFolder walked
//! as torchvision walks it, ndjson line by line with serde_json. Plus the
//! MNIST preprocessing on varied drawings, determinism, stratification,
//! session-disjointness, and a merge of overlapping stations.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{TempData, run_bin, run_on};
use digit_kiosk::collector::{Collector, Drawing, Session, Submission, sha256_hex};
use digit_kiosk::digit::Digit;
use digit_kiosk::export::preprocess::{self, mnist_28};
use digit_kiosk::export::{self, ExportOptions, Format, SplitBy};
use digit_kiosk::raster;
use digit_kiosk::sketch::{Point, Sketch, Stroke};
use digit_kiosk::store::{DataPaths, NewSample, Source, db};

// ---------------------------------------------------------------------------
// Test data: strokes through the collector, as the window submits them.

/// Samples per digit in the standard folder.
const PER_DIGIT: u32 = 12;

/// Strokes as lists of canvas points.
type Strokes = Vec<Vec<(f32, f32)>>;

/// A recognisable-enough drawing of `label`, varied in size and place by `variant`.
fn drawing(label: u8, variant: u32) -> Vec<Vec<(f32, f32)>> {
    let size = 110.0 + (variant * 37 % 90) as f32;
    let (cx, cy) = (
        110.0 + (variant * 53 % 60) as f32,
        120.0 + (variant * 29 % 50) as f32,
    );
    let at = |x: f32, y: f32| (cx + x * size, cy + y * size);
    let curve = |n: usize, f: &dyn Fn(f32) -> (f32, f32)| -> Vec<(f32, f32)> {
        (0..=n)
            .map(|i| f(i as f32 / n as f32))
            .map(|(x, y)| at(x, y))
            .collect()
    };
    let tau = std::f32::consts::TAU;
    match label {
        0 => vec![curve(32, &|t| {
            (0.3 * (tau * t).cos(), 0.5 * (tau * t).sin())
        })],
        1 => vec![vec![at(-0.15, -0.35), at(0.0, -0.5), at(0.02, 0.5)]],
        7 => vec![vec![at(-0.4, -0.5), at(0.4, -0.5), at(0.0, 0.5)]],
        d => {
            let k = f32::from(d);
            vec![
                curve(24, &|t| (0.4 * (tau * t * (k / 4.0)).sin(), t - 0.5)),
                vec![at(-0.2, 0.1 * k - 0.4)],
            ]
        }
    }
}

fn sketch_of(strokes: &[Vec<(f32, f32)>]) -> Sketch {
    let strokes = strokes
        .iter()
        .map(|points| Stroke {
            pointer: None,
            points: points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| Point {
                    x,
                    y,
                    t: i as f64 * 8.0,
                    pressure: None,
                })
                .collect(),
        })
        .collect();
    Sketch::new(strokes).expect("a valid sketch")
}

/// A data folder with `PER_DIGIT` samples of each digit from 9 writers
/// (every 11th sample without a session) and two pixel-only samples.
fn folder() -> TempData {
    let data = TempData::new();
    let collector = data.collector();
    let jobs: Vec<(u8, u32)> = (0..10u8)
        .flat_map(|d| (0..PER_DIGIT).map(move |v| (d, v)))
        .collect();
    std::thread::scope(|s| {
        for part in jobs.chunks(jobs.len().div_ceil(8)) {
            let collector = collector.clone();
            s.spawn(move || {
                for &(label, variant) in part {
                    let i = u32::from(label) * PER_DIGIT + variant;
                    let session = (!i.is_multiple_of(11)).then(|| {
                        Session::new(&format!("writer-{}", i % 9)).expect("a valid session")
                    });
                    collector
                        .submit(Submission {
                            label: Digit::try_from(label).expect("label 0-9"),
                            drawing: Drawing::Strokes(sketch_of(&drawing(label, variant))),
                            source: Source::Window,
                            client: "127.0.0.1".into(),
                            session,
                        })
                        .expect("sample stored");
                }
            });
        }
    });
    for label in [3u8, 8] {
        let pixels = raster::rasterize(&sketch_of(&drawing(label, 99)));
        collector
            .submit(Submission {
                label: Digit::try_from(label).expect("label 0-9"),
                drawing: Drawing::Pixels(pixels),
                source: Source::Web,
                client: "10.0.0.7".into(),
                session: None,
            })
            .expect("sample stored");
    }
    collector.shutdown();
    data
}

fn export_to(
    data: &TempData,
    out: &Path,
    format: Format,
    configure: impl FnOnce(&mut ExportOptions),
) -> export::ExportSummary {
    let mut options = ExportOptions::new(format, out);
    configure(&mut options);
    export::run(&data.paths, &options).expect("export succeeds")
}

fn rows(paths: &DataPaths) -> Vec<db::SampleRow> {
    digit_kiosk::store::read(paths, db::read_samples).expect("read the samples")
}

fn per_digit(paths: &DataPaths, with_strokes_only: bool) -> [u64; 10] {
    let mut n = [0u64; 10];
    for r in rows(paths)
        .iter()
        .filter(|r| !with_strokes_only || r.strokes.is_some())
    {
        n[usize::from(r.label)] += 1;
    }
    n
}

fn expected_test(total: [u64; 10], fraction: f64) -> [u64; 10] {
    total.map(|n| (n as f64 * fraction).round() as u64)
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).expect("inside").to_path_buf(),
                    fs::read(&path).expect("read file"),
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// IDX, by hand and by numpy.

struct Idx {
    dims: Vec<usize>,
    data: Vec<u8>,
}

/// Parses an IDX file of unsigned bytes: magic 0x0000080N, N big-endian sizes.
fn parse_idx(bytes: &[u8], expected_magic: u32) -> Idx {
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("four bytes"));
    let magic = be(0);
    assert_eq!(magic, expected_magic, "magic {magic:#010x}");
    assert_eq!(bytes[0..2], [0, 0]);
    assert_eq!(bytes[2], 0x08, "unsigned byte data");
    let ndims = usize::from(bytes[3]);
    let dims: Vec<usize> = (0..ndims).map(|k| be(4 + 4 * k) as usize).collect();
    let data = bytes[4 + 4 * ndims..].to_vec();
    assert_eq!(
        data.len(),
        dims.iter().product::<usize>(),
        "data length matches the sizes"
    );
    Idx { dims, data }
}

/// Inclusive bounding box `(x0, y0, x1, y1)` and centre of mass `(x, y)` of the ink.
type BoxAndMass = ((usize, usize, usize, usize), (f64, f64));

fn bbox_and_com(pixels: &[u8]) -> Option<BoxAndMass> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let (mut m, mut mx, mut my) = (0f64, 0f64, 0f64);
    for (i, &v) in pixels.iter().enumerate() {
        if v > 0 {
            let (x, y) = (i % 28, i / 28);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            m += f64::from(v);
            mx += f64::from(v) * x as f64;
            my += f64::from(v) * y as f64;
        }
    }
    (m > 0.0).then(|| ((x0, y0, x1, y1), (mx / m, my / m)))
}

#[test]
fn mnist_idx_files_parse_by_hand() {
    let data = folder();
    let out = data.dir.path().join("mnist");
    let summary = export_to(&data, &out, Format::Mnist, |_| {});
    let total = per_digit(&data.paths, false);
    let want_test = expected_test(total, 0.2);
    assert_eq!(summary.test, want_test);
    assert_eq!(summary.total(), total.iter().sum::<u64>());

    for (images, labels, side) in [
        (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            summary.train,
        ),
        (
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            summary.test,
        ),
    ] {
        let x = parse_idx(&fs::read(out.join(images)).unwrap(), 2051);
        let y = parse_idx(&fs::read(out.join(labels)).unwrap(), 2049);
        let n = side.iter().sum::<u64>() as usize;
        assert_eq!(x.dims, [n, 28, 28]);
        assert_eq!(y.dims, [n]);
        let mut counts = [0u64; 10];
        for &l in &y.data {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, side, "{labels}");
        for image in x.data.chunks_exact(784) {
            let ((x0, y0, x1, y1), (cx, cy)) = bbox_and_com(image).expect("every image has ink");
            assert_eq!((x1 - x0 + 1).max(y1 - y0 + 1), 20, "longer side is 20 px");
            assert!(
                (cx - 13.5).abs() <= 0.5 && (cy - 13.5).abs() <= 0.5,
                "centre of mass ({cx}, {cy})"
            );
        }
    }
    let card = fs::read_to_string(out.join("README.md")).unwrap();
    for needle in [
        "| 7 |",
        "digit-kiosk 0.1.0",
        "280×280",
        "18 px",
        "(13.5, 13.5)",
        "seed 0",
        "train-images-idx3-ubyte",
    ] {
        assert!(card.contains(needle), "card lacks {needle:?}:\n{card}");
    }
}

#[test]
fn mnist_gzip_is_the_same_idx_compressed() {
    let data = folder();
    let (plain, gz) = (data.dir.path().join("plain"), data.dir.path().join("gz"));
    export_to(&data, &plain, Format::Mnist, |_| {});
    export_to(&data, &gz, Format::Mnist, |o| o.gzip = true);
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        assert!(!gz.join(name).exists());
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(fs::File::open(gz.join(format!("{name}.gz"))).unwrap())
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, fs::read(plain.join(name)).unwrap(), "{name}");
    }
}

/// Runs `python3` with numpy on `script`; `None` (after saying why) when
/// numpy is not installed, unless DIGIT_KIOSK_REQUIRE_NUMPY=1 makes that a failure.
fn python_numpy(script: &str, args: &[&Path]) -> Option<String> {
    let required = std::env::var("DIGIT_KIOSK_REQUIRE_NUMPY").is_ok_and(|v| v == "1");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            !required,
            "DIGIT_KIOSK_REQUIRE_NUMPY=1 but python3 with numpy is not available: {probe:?}"
        );
        eprintln!("skipped: python3 with numpy is not installed (`python3 -m pip install numpy`)");
        return None;
    }
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("python prints UTF-8"))
}

#[test]
fn numpy_loads_the_idx_files() {
    let data = folder();
    let (plain, gz) = (data.dir.path().join("plain"), data.dir.path().join("gz"));
    let summary = export_to(&data, &plain, Format::Mnist, |_| {});
    export_to(&data, &gz, Format::Mnist, |o| o.gzip = true);
    // MNIST's usual loader: header as big-endian u32, then the bytes.
    let script = r#"
import gzip, json, sys
import numpy as np
def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndims = raw[3]
    header = np.frombuffer(raw, dtype=">u4", count=1 + ndims)
    return int(header[0]), np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + ndims)).reshape(tuple(int(d) for d in header[1:]))
out = {}
for folder, suffix in ((sys.argv[1], ""), (sys.argv[2], ".gz")):
    for split in ("train", "t10k"):
        mi, x = load(f"{folder}/{split}-images-idx3-ubyte{suffix}")
        ml, y = load(f"{folder}/{split}-labels-idx1-ubyte{suffix}")
        out[split + suffix] = {"magic": [mi, ml], "shape": list(x.shape), "labels": np.bincount(y, minlength=10).tolist(),
                               "ink": int(x.astype(np.int64).sum()), "max": int(x.max())}
print(json.dumps(out))
"#;
    let Some(stdout) = python_numpy(script, &[&plain, &gz]) else {
        return;
    };
    let got: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for (split, idx, counts) in [
        ("train", "train", summary.train),
        ("t10k", "t10k", summary.test),
    ] {
        let images = parse_idx(
            &fs::read(plain.join(format!("{idx}-images-idx3-ubyte"))).unwrap(),
            2051,
        );
        let ink: u64 = images.data.iter().map(|&v| u64::from(v)).sum();
        for key in [split.to_string(), format!("{split}.gz")] {
            let g = &got[&key];
            assert_eq!(g["magic"], serde_json::json!([2051, 2049]), "{key}");
            assert_eq!(
                g["shape"],
                serde_json::json!([counts.iter().sum::<u64>(), 28, 28]),
                "{key}"
            );
            assert_eq!(g["labels"], serde_json::json!(counts), "{key}");
            assert_eq!(g["ink"], serde_json::json!(ink), "{key}");
            assert_eq!(g["max"], serde_json::json!(255), "{key}");
        }
    }
}

// ---------------------------------------------------------------------------
// Kaggle CSV, ImageFolder, ndjson.

#[test]
fn kaggle_csv_reads_with_a_csv_parser_and_matches_the_idx() {
    let data = folder();
    let (csv_dir, idx_dir) = (data.dir.path().join("csv"), data.dir.path().join("idx"));
    let summary = export_to(&data, &csv_dir, Format::Csv, |o| o.seed = 5);
    export_to(&data, &idx_dir, Format::Mnist, |o| o.seed = 5);
    for (name, idx, counts) in [
        ("train.csv", "train", summary.train),
        ("test.csv", "t10k", summary.test),
    ] {
        let mut reader = csv::Reader::from_path(csv_dir.join(name)).unwrap();
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(header.len(), 785);
        assert_eq!(header[0], "label");
        assert_eq!(header[1], "pixel0");
        assert_eq!(header[784], "pixel783");
        let records: Vec<Vec<u8>> = reader
            .records()
            .map(|r| {
                r.unwrap()
                    .iter()
                    .map(|f| f.parse::<u8>().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(records.len() as u64, counts.iter().sum::<u64>());
        let images = parse_idx(
            &fs::read(idx_dir.join(format!("{idx}-images-idx3-ubyte"))).unwrap(),
            2051,
        );
        let labels = parse_idx(
            &fs::read(idx_dir.join(format!("{idx}-labels-idx1-ubyte"))).unwrap(),
            2049,
        );
        for ((record, image), label) in records
            .iter()
            .zip(images.data.chunks_exact(784))
            .zip(&labels.data)
        {
            assert_eq!(
                record[0], *label,
                "same order as the IDX export with the same seed"
            );
            assert_eq!(&record[1..], image, "the same 28×28 preprocessing");
        }
    }
}

#[test]
fn imagefolder_walks_as_torchvision_and_huggingface_read_it() {
    let data = folder();
    let out = data.dir.path().join("folder");
    let summary = export_to(&data, &out, Format::ImageFolder, |_| {});
    let originals: HashMap<String, db::SampleRow> = rows(&data.paths)
        .into_iter()
        .map(|r| (r.filename.clone(), r))
        .collect();
    let mut seen = BTreeSet::new();
    for (split, counts) in [("train", summary.train), ("test", summary.test)] {
        let root = out.join(split);
        // torchvision's find_classes: the sub-folders, sorted; class index = position.
        let mut classes: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_dir())
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        classes.sort();
        assert_eq!(
            classes,
            (0..10).map(|d| d.to_string()).collect::<Vec<_>>(),
            "{split}"
        );
        let mut walked = BTreeSet::new();
        for (index, class) in classes.iter().enumerate() {
            assert_eq!(
                class.parse::<usize>().unwrap(),
                index,
                "class index is the digit"
            );
            let mut files: Vec<PathBuf> = fs::read_dir(root.join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            assert_eq!(files.len() as u64, counts[index], "{split}/{class}");
            for file in files {
                assert_eq!(file.extension().unwrap(), "png");
                let name = file.file_name().unwrap().to_str().unwrap().to_string();
                let row = &originals[&name];
                assert_eq!(usize::from(row.label), index);
                assert_eq!(
                    fs::read(&file).unwrap(),
                    fs::read(data.paths.image(&name)).unwrap(),
                    "copied unchanged"
                );
                assert!(seen.insert(name.clone()), "{name} is in one split only");
                walked.insert(format!("{class}/{name}"));
            }
        }
        // Hugging Face's metadata.csv: file_name relative to the split folder, and the label.
        let mut reader = csv::Reader::from_path(root.join("metadata.csv")).unwrap();
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            ["file_name", "label"]
        );
        let listed: BTreeSet<String> = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                assert!(root.join(&r[0]).is_file(), "{}", &r[0]);
                assert_eq!(r[0].split('/').next().unwrap(), &r[1]);
                r[0].to_string()
            })
            .collect();
        assert_eq!(
            listed, walked,
            "{split}: metadata.csv lists exactly the images"
        );
    }
    assert_eq!(seen.len(), originals.len());
}

#[test]
fn ndjson_reads_line_by_line_and_skips_samples_without_strokes() {
    let data = folder();
    let (raw_dir, simple_dir) = (data.dir.path().join("raw"), data.dir.path().join("simple"));
    let summary = export_to(&data, &raw_dir, Format::Ndjson, |_| {});
    assert_eq!(summary.skipped_no_strokes, 2, "the two pixel-only samples");
    let with_strokes = per_digit(&data.paths, true);
    assert_eq!(summary.test, expected_test(with_strokes, 0.2));
    let by_hash: HashMap<u64, db::SampleRow> = rows(&data.paths)
        .into_iter()
        .filter(|r| r.strokes.is_some())
        .map(|r| {
            (
                u64::from_str_radix(&r.sha256.clone().unwrap()[..16], 16).unwrap() >> 11,
                r,
            )
        })
        .collect();
    let mut lines_seen = 0;
    for (name, counts) in [
        ("train.ndjson", summary.train),
        ("test.ndjson", summary.test),
    ] {
        let text = fs::read_to_string(raw_dir.join(name)).unwrap();
        let mut per = [0u64; 10];
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key: u64 = v["key_id"]
                .as_str()
                .expect("key_id is a string")
                .parse()
                .unwrap();
            let row = &by_hash[&key];
            let word = v["word"].as_str().unwrap();
            assert_eq!(word, row.label.to_string());
            per[usize::from(row.label)] += 1;
            assert_eq!(
                v["timestamp"].as_str().unwrap(),
                format!("{} UTC", row.timestamp)
            );
            let stored =
                Sketch::from_json(&serde_json::from_str(row.strokes.as_deref().unwrap()).unwrap())
                    .unwrap();
            let drawing = v["drawing"].as_array().unwrap();
            assert_eq!(drawing.len(), stored.strokes().len());
            for (stroke, original) in drawing.iter().zip(stored.strokes()) {
                let parts = stroke.as_array().unwrap();
                assert_eq!(parts.len(), 3, "[x...], [y...], [t...]");
                let xs: Vec<f64> = parts[0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_f64().unwrap())
                    .collect();
                assert_eq!(xs.len(), original.points.len());
                assert_eq!(parts[1].as_array().unwrap().len(), xs.len());
                assert_eq!(parts[2].as_array().unwrap().len(), xs.len());
                for (x, p) in xs.iter().zip(&original.points) {
                    assert_eq!(*x as f32, p.x, "raw coordinates as drawn");
                }
            }
            lines_seen += 1;
        }
        assert_eq!(per, counts, "{name}");
    }
    assert_eq!(lines_seen, by_hash.len());

    let simple = export_to(&data, &simple_dir, Format::Ndjson, |o| o.simplified = true);
    assert_eq!(simple.test, summary.test);
    for name in ["train.ndjson", "test.ndjson"] {
        for line in fs::read_to_string(simple_dir.join(name)).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (mut min, mut max) = ([u64::MAX; 2], [0u64; 2]);
            for stroke in v["drawing"].as_array().unwrap() {
                let parts = stroke.as_array().unwrap();
                assert_eq!(parts.len(), 2, "[x...], [y...] without t");
                for axis in 0..2 {
                    for n in parts[axis].as_array().unwrap() {
                        let n = n.as_u64().expect("whole numbers");
                        assert!(n <= 255);
                        min[axis] = min[axis].min(n);
                        max[axis] = max[axis].max(n);
                    }
                }
            }
            assert_eq!(min, [0, 0], "moved to the origin");
            assert_eq!(max[0].max(max[1]), 255, "scaled to 255");
        }
    }
}

// ---------------------------------------------------------------------------
// The preprocessing itself, on varied drawings.

#[test]
fn preprocessing_boxes_to_20_px_and_centres_the_mass_for_varied_drawings() {
    let mut cases: Vec<(String, Strokes)> = vec![
        ("tall 1".into(), vec![vec![(140.0, 20.0), (143.0, 260.0)]]),
        (
            "wide 7".into(),
            vec![vec![(20.0, 100.0), (260.0, 100.0), (150.0, 170.0)]],
        ),
        (
            "small 2".into(),
            vec![vec![
                (130.0, 130.0),
                (150.0, 128.0),
                (131.0, 152.0),
                (152.0, 151.0),
            ]],
        ),
        (
            "off-centre 0".into(),
            drawing(0, 3)
                .iter()
                .map(|s| {
                    s.iter()
                        .map(|&(x, y)| (x * 0.3 + 5.0, y * 0.3 + 190.0))
                        .collect()
                })
                .collect(),
        ),
        ("tap".into(), vec![vec![(270.0, 10.0)]]),
    ];
    for d in 0..10u8 {
        for v in [0, 7] {
            cases.push((format!("digit {d} variant {v}"), drawing(d, v)));
        }
    }
    for (name, strokes) in &cases {
        let big = raster::rasterize(&sketch_of(strokes));
        let small = mnist_28(&big);
        assert_eq!(small.dimensions(), (28, 28));
        let ((x0, y0, x1, y1), (cx, cy)) = bbox_and_com(small.as_raw()).unwrap();
        let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
        assert_eq!(w.max(h), 20, "{name}: box {w}×{h}");
        assert!(
            (cx - preprocess::CENTRE).abs() <= 0.5 && (cy - preprocess::CENTRE).abs() <= 0.5,
            "{name}: centre of mass ({cx:.2}, {cy:.2})"
        );
        assert!(
            small.pixels().any(|p| p.0[0] > 0 && p.0[0] < 255),
            "{name}: anti-aliased, not nearest"
        );
    }
    // The aspect ratio is kept: the tall 1 stays narrow, the wide 7 stays flat.
    let tall = mnist_28(&raster::rasterize(&sketch_of(&cases[0].1)));
    let ((x0, _, x1, _), _) = bbox_and_com(tall.as_raw()).unwrap();
    assert!(x1 - x0 < 4, "tall 1 is {} px wide", x1 - x0 + 1);
    let wide = mnist_28(&raster::rasterize(&sketch_of(&cases[1].1)));
    let ((_, y0, _, y1), _) = bbox_and_com(wide.as_raw()).unwrap();
    assert!(
        (6..=9).contains(&(y1 - y0 + 1)),
        "wide 7 is {} px high",
        y1 - y0 + 1
    );

    // Ink so lopsided that centring its mass would push the box out of the
    // field: the shift stops at the edge, so no ink is ever cut off.
    let heavy_top = vec![vec![
        (40.0, 40.0),
        (240.0, 40.0),
        (240.0, 60.0),
        (40.0, 60.0),
        (40.0, 80.0),
        (240.0, 80.0),
        (120.0, 260.0),
    ]];
    let small = mnist_28(&raster::rasterize(&sketch_of(&heavy_top)));
    let ((_, y0, _, y1), (_, cy)) = bbox_and_com(small.as_raw()).unwrap();
    assert_eq!((y0, y1), (8, 27), "box at the bottom edge, whole");
    assert!(
        cy < preprocess::CENTRE - 0.5,
        "the mass stays a little high: {cy}"
    );
}

// ---------------------------------------------------------------------------
// The split: determinism, stratification, sessions.

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_another_split() {
    let data = folder();
    for format in [
        Format::Mnist,
        Format::Csv,
        Format::ImageFolder,
        Format::Ndjson,
    ] {
        let a = data.dir.path().join(format!("{}-a", format.name()));
        let b = data.dir.path().join(format!("{}-b", format.name()));
        export_to(&data, &a, format, |o| o.seed = 42);
        export_to(&data, &b, format, |o| o.seed = 42);
        let (ta, tb) = (tree(&a), tree(&b));
        assert!(ta.len() >= 4, "{ta:?}");
        assert_eq!(ta, tb, "{}: same seed, same bytes", format.name());
    }
    let test_names = |seed: u64| -> BTreeSet<String> {
        let out = data.dir.path().join(format!("seed-{seed}"));
        export_to(&data, &out, Format::ImageFolder, |o| o.seed = seed);
        tree(&out.join("test"))
            .keys()
            .map(|p| p.display().to_string())
            .filter(|p| p.ends_with(".png"))
            .collect()
    };
    let (s1, s2) = (test_names(1), test_names(2));
    assert_eq!(s1.len(), s2.len());
    assert_ne!(s1, s2, "a different seed gives a different split");
}

#[test]
fn the_split_is_stratified_per_digit() {
    let data = folder();
    let total = per_digit(&data.paths, false);
    for fraction in [0.0, 0.2, 0.5, 0.75, 1.0] {
        let out = data.dir.path().join(format!("f{fraction}"));
        let s = export_to(&data, &out, Format::Mnist, |o| o.test_fraction = fraction);
        assert_eq!(
            s.test,
            expected_test(total, fraction),
            "fraction {fraction}"
        );
        let train: Vec<u64> = total.iter().zip(&s.test).map(|(n, t)| n - t).collect();
        assert_eq!(s.train.to_vec(), train);
    }
}

#[test]
fn split_by_session_keeps_each_writer_on_one_side() {
    let data = folder();
    let out = data.dir.path().join("sessions");
    let s = export_to(&data, &out, Format::ImageFolder, |o| {
        o.split_by = SplitBy::Session;
        o.test_fraction = 0.3;
    });
    assert_eq!(s.shared_sessions, 0);
    let session_of: HashMap<String, Option<String>> = rows(&data.paths)
        .into_iter()
        .map(|r| (r.filename, r.session))
        .collect();
    let sessions = |split: &str| -> BTreeSet<String> {
        tree(&out.join(split))
            .keys()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .filter(|n| n.ends_with(".png"))
            .filter_map(|n| session_of[&n].clone())
            .collect()
    };
    let (train, test) = (sessions("train"), sessions("test"));
    assert!(!train.is_empty() && !test.is_empty());
    assert!(train.is_disjoint(&test), "train {train:?} / test {test:?}");
    // As near the 30 % per digit as whole sessions allow.
    let test_total: u64 = s.test.iter().sum();
    let all = s.total() as f64;
    assert!(
        (test_total as f64 / all - 0.3).abs() < 0.15,
        "{test_total} of {all}"
    );
    let by_sample = export_to(
        &data,
        &data.dir.path().join("samples"),
        Format::ImageFolder,
        |o| o.test_fraction = 0.3,
    );
    assert!(
        by_sample.shared_sessions > 0,
        "by sample, writers do straddle the split"
    );
}

// ---------------------------------------------------------------------------
// The command line: flags, the output folder, the summary.

#[test]
fn the_command_refuses_bad_flags_and_foreign_folders_in_one_plain_line() {
    let data = folder();
    let out = data.dir.path().join("out");
    let out_s = out.to_str().unwrap();
    for extra in [
        vec![
            "--format",
            "mnist",
            "--out",
            out_s,
            "--test-fraction",
            "1.5",
        ],
        vec![
            "--format",
            "mnist",
            "--out",
            out_s,
            "--test-fraction",
            "NaN",
        ],
        vec![
            "--format",
            "mnist",
            "--out",
            out_s,
            "--test-fraction",
            "abc",
        ],
        vec!["--format", "bogus", "--out", out_s],
        vec!["--format", "mnist", "--out", out_s, "--split-by", "writer"],
        vec!["--format", "mnist"],
        vec!["--format", "csv", "--out", out_s, "--gzip"],
        vec!["--format", "mnist", "--out", out_s, "--simplified"],
        vec!["--format", "mnist", "--out", data.root().to_str().unwrap()],
    ] {
        let run = run_on(&data.paths, "export", &extra);
        run.expect_code(1).expect_one_plain_error_line();
        assert!(run.stderr.starts_with("digit-kiosk: "), "{extra:?}\n{run}");
    }
    assert!(
        !out.join("README.md").exists(),
        "nothing written after a refusal"
    );
    assert!(
        data.root().join("digits.db").exists(),
        "the data folder is untouched"
    );

    // A foreign file in --out: refused.
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    let run = run_on(
        &data.paths,
        "export",
        &["--format", "mnist", "--out", out_s],
    );
    run.expect_code(1).expect_one_plain_error_line();
    assert!(run.stderr.contains("not empty"), "{run}");
    fs::remove_file(out.join("notes.txt")).unwrap();

    // A previous export is replaced, the old format's files too.
    let run = run_on(
        &data.paths,
        "export",
        &["--format", "mnist", "--out", out_s, "--seed", "3"],
    );
    run.expect_code(0);
    assert!(
        run.stdout.contains("exported 122 samples as mnist"),
        "{run}"
    );
    assert!(out.join("t10k-images-idx3-ubyte").exists());
    let card = fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains(&format!(
            "digit-kiosk export --data {} --format mnist --out {out_s} --seed 3",
            data.root().display()
        )),
        "{card}"
    );
    let run = run_on(&data.paths, "export", &["--format", "csv", "--out", out_s]);
    run.expect_code(0);
    assert!(
        !out.join("t10k-images-idx3-ubyte").exists(),
        "the earlier export's files are gone"
    );
    assert!(out.join("train.csv").exists() && out.join("test.csv").exists());
    // Not a terminal: progress comes as plain lines on stderr, no escape codes.
    assert!(
        run.stderr.lines().all(|l| l.starts_with("export: ")),
        "{run}"
    );
    assert!(!run.stderr.contains('\x1b'), "{run}");
}

// ---------------------------------------------------------------------------
// Merge.

fn store_as(
    collector: &Collector,
    label: u8,
    strokes: &[Vec<(f32, f32)>],
    name: Option<&str>,
    session: &str,
) -> String {
    let sketch = sketch_of(strokes);
    let png = raster::encode_png(&raster::rasterize(&sketch));
    collector
        .store(NewSample {
            label: Digit::try_from(label).expect("label 0-9"),
            sha256: sha256_hex(&png),
            png,
            strokes: Some(sketch.to_json().to_string()),
            source: Source::Window,
            ip: "127.0.0.1".into(),
            session: Some(session.into()),
            station: None,
            preferred_name: name.map(str::to_string),
            at: None,
        })
        .expect("sample stored")
        .filename
}

/// A folder as the original Flask app left it: its table, labels as text,
/// no sha256, no strokes.
fn flask_folder(root: &Path, samples: &[(&str, u8, Vec<u8>)]) {
    fs::create_dir_all(root.join("images")).expect("create images/");
    let conn = rusqlite::Connection::open(root.join("digits.db")).expect("create digits.db");
    conn.execute_batch(
        "CREATE TABLE digit_samples (id INTEGER NOT NULL PRIMARY KEY, filename VARCHAR NOT NULL,
         label VARCHAR(1) NOT NULL, timestamp DATETIME NOT NULL, ip VARCHAR);",
    )
    .expect("create the old table");
    let mut csv = String::from("filename,label,timestamp,ip\n");
    for (i, (name, label, png)) in samples.iter().enumerate() {
        fs::write(root.join("images").join(name), png).expect("write PNG");
        let ts = format!("2024-05-0{} 10:00:00.000000", i + 1);
        conn.execute(
            "INSERT INTO digit_samples (filename, label, timestamp, ip) VALUES (?1, ?2, ?3, '192.168.1.9')",
            rusqlite::params![name, label.to_string(), ts],
        )
        .expect("insert an old row");
        csv += &format!(
            "{name},{label},2024050{}T100000000000Z,192.168.1.9\n",
            i + 1
        );
    }
    fs::write(root.join("labels.csv"), csv).expect("write labels.csv");
}

#[test]
fn merge_combines_stations_skipping_duplicates_and_renaming_only_real_clashes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, flask, into) = (
        tmp.path().join("kiosk-a"),
        tmp.path().join("kiosk-b"),
        tmp.path().join("old-app"),
        tmp.path().join("class"),
    );
    let clash = "digit_4_20250101T000000000000Z.png";

    let ca = Collector::open(DataPaths::new(&a)).unwrap();
    let mut a_names = Vec::new();
    for v in 0..6 {
        a_names.push(store_as(
            &ca,
            (v % 10) as u8,
            &drawing((v % 10) as u8, v),
            None,
            "a-1",
        ));
    }
    a_names.push(store_as(&ca, 4, &drawing(4, 50), Some(clash), "a-2"));
    ca.shutdown();

    // Station B saw three of A's drawings too (same strokes, same PNG bytes),
    // has its own, and a different drawing under the clashing name.
    let cb = Collector::open(DataPaths::new(&b)).unwrap();
    for v in 0..3 {
        store_as(
            &cb,
            (v % 10) as u8,
            &drawing((v % 10) as u8, v),
            None,
            "b-1",
        );
    }
    for v in 20..24 {
        store_as(
            &cb,
            (v % 10) as u8,
            &drawing((v % 10) as u8, v),
            None,
            "b-1",
        );
    }
    assert_eq!(store_as(&cb, 4, &drawing(4, 51), Some(clash), "b-2"), clash);
    cb.shutdown();

    // The original app's folder: one new drawing, one that station A also has.
    let png =
        |label: u8, v: u32| raster::encode_png(&raster::rasterize(&sketch_of(&drawing(label, v))));
    flask_folder(
        &flask,
        &[
            ("digit_9_old.png", 9, png(9, 77)),
            ("digit_1_old.png", 1, png(1, 1)),
        ],
    );

    let run = run_bin([
        "merge".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        flask.as_os_str(),
        "--into".as_ref(),
        into.as_os_str(),
    ]);
    run.expect_code(0);
    assert!(run.stdout.contains("check: ok"), "{run}");
    assert!(run.stdout.contains("3 duplicates skipped"), "{run}");
    assert!(run.stdout.contains("1 renamed"), "{run}");

    let merged = rows(&DataPaths::new(&into));
    assert_eq!(
        merged.len(),
        7 + 5 + 1,
        "A's 7, B's 8 less 3 duplicates, the old app's 2 less 1"
    );
    let hashes: BTreeSet<&str> = merged
        .iter()
        .map(|r| r.sha256.as_deref().unwrap())
        .collect();
    assert_eq!(hashes.len(), merged.len(), "no content twice");
    for r in &merged {
        assert_eq!(r.source, "merge");
        let file = DataPaths::new(&into).image(&r.filename);
        assert_eq!(common::file_sha256(&file), *r.sha256.as_ref().unwrap());
    }
    let station = |name: &str| {
        merged
            .iter()
            .find(|r| r.filename == name)
            .unwrap()
            .station
            .clone()
            .unwrap()
    };
    for name in &a_names {
        assert_eq!(
            station(name),
            "kiosk-a",
            "{name} keeps its name and records its station"
        );
    }
    assert_eq!(station(clash), "kiosk-a");
    assert_eq!(
        station("digit_4_20250101T000000000000Z_1.png"),
        "kiosk-b",
        "the clash is renamed"
    );
    assert_eq!(station("digit_9_old.png"), "old-app");
    let old = merged
        .iter()
        .find(|r| r.filename == "digit_9_old.png")
        .unwrap();
    assert_eq!(
        (old.label, old.timestamp.as_str(), old.ip.as_str()),
        (9, "2024-05-01 10:00:00.000000", "192.168.1.9")
    );
    assert!(
        merged.iter().all(|r| r.filename != "digit_1_old.png"),
        "the old app's copy of A's drawing is a duplicate"
    );
    let b_session = merged
        .iter()
        .filter(|r| r.session.as_deref() == Some("b-1"))
        .count();
    assert_eq!(b_session, 4, "sessions are kept");

    run_on(&DataPaths::new(&into), "check", &[]).expect_code(0);

    // An export of the merged folder names its stations on the card.
    let out = tmp.path().join("export");
    let options = ExportOptions::new(Format::Mnist, &out);
    let summary = export::run(&DataPaths::new(&into), &options).unwrap();
    assert_eq!(
        summary.stations,
        [
            ("kiosk-a".to_string(), 7),
            ("kiosk-b".to_string(), 5),
            ("old-app".to_string(), 1)
        ]
    );
    let card = fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains("kiosk-a (7), kiosk-b (5), old-app (1)"),
        "{card}"
    );

    // Merging again adds nothing.
    let report = digit_kiosk::merge::run(&[a.clone(), b.clone(), flask.clone()], &into).unwrap();
    assert!(report.sources.iter().all(|s| s.merged == 0), "{report:?}");
    assert!(report.check.problems.is_empty());
    assert_eq!(rows(&DataPaths::new(&into)).len(), merged.len());

    // A folder that is not a data folder: one plain line.
    let run = run_bin([
        "merge".as_ref(),
        tmp.path().join("nothing").as_os_str(),
        "--into".as_ref(),
        into.as_os_str(),
    ]);
    run.expect_code(1).expect_one_plain_error_line();
}
