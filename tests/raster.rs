//! Golden tests of the one rasteriser: each `tests/fixtures/<name>.json`
//! (strokes in the wire form of `POST /api/samples`) must rasterise and
//! encode to exactly the bytes of `tests/fixtures/<name>.png`.
//!
//! After a deliberate change to the brush or the encoder, regenerate the
//! PNGs with `DIGIT_KIOSK_BLESS=1 cargo test --test raster`, look at them,
//! and commit them with the change. On a mismatch the PNG actually made is
//! written next to the system temporary folder's `digit-kiosk-raster/` for
//! a look.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use digit_kiosk::raster::{self, BRUSH_WIDTH, CANVAS_SIZE};
use digit_kiosk::sketch::{Point, Sketch, Stroke};
use image::GrayImage;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn blessing() -> bool {
    std::env::var_os("DIGIT_KIOSK_BLESS").is_some_and(|v| v != "0")
}

fn load(name: &str) -> Sketch {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.json"))).unwrap();
    Sketch::from_json(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn png_of(sketch: &Sketch) -> Vec<u8> {
    raster::encode_png(&raster::rasterize(sketch))
}

fn decode(png: &[u8]) -> GrayImage {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap();
    assert_eq!(img.color(), image::ColorType::L8, "8-bit grayscale");
    img.to_luma8()
}

/// Every fixture, by name (sorted), so a new JSON file is picked up.
fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn fixtures_rasterise_to_their_golden_pngs() {
    let names = fixture_names();
    assert!(names.len() >= 7, "fixtures missing: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let actual = png_of(&load(name));
        let golden = fixtures().join(format!("{name}.png"));
        if blessing() {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with DIGIT_KIOSK_BLESS=1 to create it",
                golden.display()
            )
        });
        if actual != expected {
            let (a, e) = (decode(&actual), decode(&expected));
            let differing = a.pixels().zip(e.pixels()).filter(|(p, q)| p != q).count();
            let out = std::env::temp_dir().join("digit-kiosk-raster");
            std::fs::create_dir_all(&out).unwrap();
            std::fs::write(out.join(format!("{name}.png")), &actual).unwrap();
            failures.push(format!(
                "{name}: bytes differ ({differing} of {} pixels differ); made: {}",
                a.len(),
                out.join(format!("{name}.png")).display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch:\n{}",
        failures.join("\n")
    );
}

#[test]
fn golden_pngs_are_the_stored_form() {
    for name in fixture_names() {
        let bytes = std::fs::read(fixtures().join(format!("{name}.png"))).unwrap();
        let img = decode(&bytes);
        assert_eq!(img.dimensions(), (CANVAS_SIZE, CANVAS_SIZE), "{name}");
        let ink = img.pixels().filter(|p| p.0[0] > 127).count();
        assert!(ink > 200, "{name}: has ink ({ink} pixels)");
        assert!(
            img.pixels().any(|p| p.0[0] == 255),
            "{name}: full white ink"
        );
        assert!(
            img.pixels().filter(|p| p.0[0] == 0).count() > img.len() / 2,
            "{name}: on black"
        );
        assert!(
            img.pixels().any(|p| p.0[0] > 0 && p.0[0] < 255),
            "{name}: anti-aliased"
        );
    }
}

#[test]
fn the_same_strokes_give_the_same_bytes_every_time_and_on_every_thread() {
    let sketch = load("eight");
    let first = png_of(&sketch);
    for _ in 0..5 {
        assert_eq!(png_of(&sketch), first);
    }
    // Through the JSON round trip the store keeps in its `strokes` column.
    let again = Sketch::from_json(&sketch.to_json()).unwrap();
    assert_eq!(png_of(&again), first);
    let others: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            let s = sketch.clone();
            std::thread::spawn(move || png_of(&s))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(others.iter().all(|o| *o == first));
    // Pressure is recorded, but one brush draws every device alike.
    let seven = load("seven");
    let without: Vec<Stroke> = seven
        .strokes()
        .iter()
        .map(|s| Stroke {
            pointer: None,
            points: s
                .points
                .iter()
                .map(|p| Point {
                    pressure: None,
                    ..*p
                })
                .collect(),
        })
        .collect();
    assert_eq!(png_of(&Sketch::new(without).unwrap()), png_of(&seven));
}

fn tap(x: f32, y: f32) -> Sketch {
    Sketch::new(vec![Stroke {
        pointer: None,
        points: vec![Point {
            x,
            y,
            t: 0.0,
            pressure: None,
        }],
    }])
    .unwrap()
}

/// Ink-weighted centre and the bounding box of pixels over half ink.
fn centre_and_box(img: &GrayImage) -> ((f64, f64), (u32, u32, u32, u32)) {
    let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        let w = f64::from(p.0[0]);
        sx += w * (f64::from(x) + 0.5);
        sy += w * (f64::from(y) + 0.5);
        sw += w;
        if p.0[0] > 127 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    ((sx / sw, sy / sw), (x0, y0, x1, y1))
}

#[test]
fn a_single_tap_is_a_round_dot_of_the_brush_width() {
    for (x, y) in [(140.0, 140.0), (40.5, 200.25), (3.0, 3.0)] {
        let img = raster::rasterize(&tap(x, y));
        let ((cx, cy), (x0, y0, x1, y1)) = centre_and_box(&img);
        let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
        if x > 20.0 {
            assert!(
                (cx - f64::from(x)).abs() < 0.6 && (cy - f64::from(y)).abs() < 0.6,
                "centred on the tap: {cx},{cy}"
            );
            let d = BRUSH_WIDTH as u32;
            assert!(
                (d - 1..=d + 1).contains(&w) && (d - 1..=d + 1).contains(&h),
                "brush-wide: {w}×{h}"
            );
            let area = img.pixels().map(|p| f64::from(p.0[0]) / 255.0).sum::<f64>();
            let disc = std::f64::consts::PI * f64::from(BRUSH_WIDTH / 2.0).powi(2);
            assert!(
                (area / disc - 1.0).abs() < 0.05,
                "a disc's area, not a square's: {area} vs {disc}"
            );
        } else {
            assert!(
                img.get_pixel(3, 3).0[0] == 255,
                "a tap at the edge is clipped, not lost"
            );
        }
    }
    // The golden tap too.
    let img = raster::rasterize(&load("tap"));
    assert_eq!(img.get_pixel(140, 120).0[0], 255);
}

#[test]
fn a_tap_beside_strokes_is_a_dot_too() {
    // An "i": a stroke and a tap above it.
    let stem = Stroke {
        pointer: None,
        points: [(140.0, 120.0), (140.0, 240.0)]
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| Point {
                x,
                y,
                t: i as f64 * 50.0,
                pressure: None,
            })
            .collect(),
    };
    let dot = Stroke {
        pointer: None,
        points: vec![Point {
            x: 140.0,
            y: 70.0,
            t: 400.0,
            pressure: None,
        }],
    };
    let img = raster::rasterize(&Sketch::new(vec![stem, dot]).unwrap());
    assert_eq!(img.get_pixel(140, 70).0[0], 255, "the dot");
    assert_eq!(img.get_pixel(140, 95).0[0], 0, "a gap between dot and stem");
    assert_eq!(img.get_pixel(140, 180).0[0], 255, "the stem");
}
