//! `ndjson`: Quick, Draw!'s format, one JSON object per line, in
//! `train.ndjson` and `test.ndjson`:
//!
//! ```text
//! {"key_id":"4412709265114637","word":"7","timestamp":"2025-12-04 12:34:56.789012 UTC",
//!  "drawing":[[[x0,x1,...],[y0,y1,...],[t0,t1,...]], ...]}
//! ```
//!
//! - `key_id`: a decimal number as a string, as Quick, Draw! writes it, from
//!   the first 53 bits of the sample's SHA-256 (so it is stable across
//!   exports and merges, and exact as a JavaScript number);
//! - `word`: the digit itself, `"0"` to `"9"` (the label every other format
//!   uses; Quick, Draw! has no digits among its words to follow);
//! - `countrycode` and `recognized` are left out: the kiosk knows neither.
//!
//! Raw (the default): `x`, `y` in canvas pixels (0–280, as drawn) and `t` in
//! milliseconds since the first point. `--simplified` gives Quick, Draw!'s
//! simplified form: drawing moved to (0, 0), scaled uniformly so its larger
//! extent is 255, every stroke resampled at 1 px spacing and simplified by
//! Ramer–Douglas–Peucker with ε = 2.0, whole numbers, no `t`.
//!
//! Only samples with strokes can be written; the rest (pixels only, rows of
//! the original app) are counted by the driver and named in the summary.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{Progress, create, split::Split, write_err};
use crate::collector::sha256_hex;
use crate::error::Result;
use crate::sketch::Sketch;
use crate::store::SampleRow;

/// The files, train first.
pub const FILES: [&str; 2] = ["train.ndjson", "test.ndjson"];

/// Quick, Draw!'s simplification tolerance, in simplified units (of 255).
pub const RDP_EPSILON: f64 = 2.0;

/// Whether the row has strokes this format can write.
pub fn has_strokes(row: &SampleRow) -> bool {
    sketch_of(row).is_some()
}

fn sketch_of(row: &SampleRow) -> Option<Sketch> {
    let value: serde_json::Value = serde_json::from_str(row.strokes.as_deref()?).ok()?;
    Sketch::from_json(&value).ok()
}

#[derive(Serialize)]
struct Line<'a, D: Serialize> {
    key_id: String,
    word: String,
    timestamp: String,
    drawing: &'a D,
}

/// Writes both files and returns their names.
pub fn write(
    parts: &Split,
    out_dir: &Path,
    simplified: bool,
    progress: &mut Progress,
) -> Result<Vec<String>> {
    let [train, test] = FILES;
    for (rows, name) in [(&parts.train, train), (&parts.test, test)] {
        let path = out_dir.join(name);
        let mut out = create(&path)?;
        for row in rows.iter() {
            let Some(sketch) = sketch_of(row) else {
                continue;
            };
            let line = if simplified {
                line_json(row, &simplify(&sketch))
            } else {
                line_json(row, &raw(&sketch))
            };
            let mut line = line.map_err(|e| write_err(&path)(e.into()))?;
            line.push(b'\n');
            out.write_all(&line).map_err(write_err(&path))?;
            progress.inc(1);
        }
        out.flush().map_err(write_err(&path))?;
    }
    Ok(FILES.iter().map(|f| f.to_string()).collect())
}

/// The first 53 bits of the sample's SHA-256 (of its PNG, or of its strokes
/// when an old row has none recorded), in decimal.
fn key_id(row: &SampleRow) -> String {
    let hex = match &row.sha256 {
        Some(h) if h.len() >= 16 => h.clone(),
        _ => sha256_hex(row.strokes.as_deref().unwrap_or_default().as_bytes()),
    };
    let bits = hex
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    (bits >> 11).to_string()
}

/// Each stroke as `[[x...], [y...], [t...]]`, as drawn.
/// One ndjson object for `row`, raw or simplified `drawing` alike.
fn line_json<D: Serialize>(row: &SampleRow, drawing: &D) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&Line {
        key_id: key_id(row),
        word: row.label.to_string(),
        timestamp: format!("{} UTC", row.timestamp),
        drawing,
    })
}

fn raw(sketch: &Sketch) -> Vec<(Vec<f32>, Vec<f32>, Vec<f64>)> {
    sketch
        .strokes()
        .iter()
        .map(|s| {
            (
                s.points.iter().map(|p| p.x).collect(),
                s.points.iter().map(|p| p.y).collect(),
                s.points.iter().map(|p| p.t).collect(),
            )
        })
        .collect()
}

/// Quick, Draw!'s simplified drawing: `[[x...], [y...]]` per stroke, 0–255.
pub fn simplify(sketch: &Sketch) -> Vec<(Vec<u8>, Vec<u8>)> {
    let points = sketch.strokes().iter().flat_map(|s| &s.points);
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in points {
        let (x, y) = (f64::from(p.x), f64::from(p.y));
        (min_x, min_y, max_x, max_y) = (min_x.min(x), min_y.min(y), max_x.max(x), max_y.max(y));
    }
    let extent = (max_x - min_x).max(max_y - min_y);
    let scale = if extent > 0.0 { 255.0 / extent } else { 1.0 };
    sketch
        .strokes()
        .iter()
        .map(|s| {
            let moved: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| {
                    (
                        (f64::from(p.x) - min_x) * scale,
                        (f64::from(p.y) - min_y) * scale,
                    )
                })
                .collect();
            let kept = rdp(&resample(&moved, 1.0), RDP_EPSILON);
            let whole = |v: f64| v.round().clamp(0.0, 255.0) as u8;
            (
                kept.iter().map(|p| whole(p.0)).collect(),
                kept.iter().map(|p| whole(p.1)).collect(),
            )
        })
        .collect()
}

/// Points every `step` along the polyline, from its first point to its last.
fn resample(points: &[(f64, f64)], step: f64) -> Vec<(f64, f64)> {
    let Some(&first) = points.first() else {
        return Vec::new();
    };
    let mut out = vec![first];
    let mut since = 0.0; // distance walked since the last point placed
    for pair in points.windows(2) {
        let [(ax, ay), (bx, by)] = [pair[0], pair[1]];
        let len = (bx - ax).hypot(by - ay);
        let mut at = step - since; // distance along this segment of the next point
        while at <= len {
            let f = at / len;
            out.push((ax + (bx - ax) * f, ay + (by - ay) * f));
            at += step;
        }
        since = len - (at - step);
    }
    if let Some(&last) = points.last()
        && out.last() != Some(&last)
    {
        out.push(last);
    }
    out
}

/// Ramer–Douglas–Peucker: the fewest points that keep the polyline within
/// `epsilon` of the original. Iterative, so a long stroke cannot exhaust the stack.
fn rdp(points: &[(f64, f64)], epsilon: f64) -> Vec<(f64, f64)> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut spans = vec![(0, points.len() - 1)];
    while let Some((a, b)) = spans.pop() {
        let (pa, pb) = (points[a], points[b]);
        let far = (a + 1..b)
            .map(|i| (i, distance_to_segment(points[i], pa, pb)))
            .fold(
                (a, 0.0f64),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
        if far.1 > epsilon {
            keep[far.0] = true;
            spans.push((a, far.0));
            spans.push((far.0, b));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
}

fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return (p.0 - a.0).hypot(p.1 - a.1);
    }
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0);
    (p.0 - (a.0 + t * dx)).hypot(p.1 - (a.1 + t * dy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_places_points_one_unit_apart() {
        let r = resample(&[(0.0, 0.0), (2.5, 0.0), (2.5, 2.0)], 1.0);
        let xs: Vec<(f64, f64)> = r
            .iter()
            .map(|p| ((p.0 * 10.0).round() / 10.0, (p.1 * 10.0).round() / 10.0))
            .collect();
        assert_eq!(
            xs,
            [
                (0.0, 0.0),
                (1.0, 0.0),
                (2.0, 0.0),
                (2.5, 0.5),
                (2.5, 1.5),
                (2.5, 2.0)
            ]
        );
    }

    #[test]
    fn rdp_drops_points_near_the_line_and_keeps_corners() {
        let line: Vec<(f64, f64)> = (0..=100)
            .map(|i| (f64::from(i), if i == 50 { 1.0 } else { 0.0 }))
            .collect();
        assert_eq!(rdp(&line, 2.0), [(0.0, 0.0), (100.0, 0.0)]);
        let corner = [(0.0, 0.0), (50.0, 0.0), (50.0, 50.0)];
        assert_eq!(rdp(&corner, 2.0).len(), 3);
    }

    #[test]
    fn simplified_fits_0_to_255_from_the_origin() {
        let v = serde_json::json!([
            [[40, 60, 0], [240, 60, 10], [100, 250, 20]],
            [[50, 150, 30]]
        ]);
        let s = simplify(&Sketch::from_json(&v).unwrap());
        let xs: Vec<u8> = s.iter().flat_map(|st| st.0.clone()).collect();
        let ys: Vec<u8> = s.iter().flat_map(|st| st.1.clone()).collect();
        assert_eq!(xs.iter().min(), Some(&0));
        assert_eq!(ys.iter().min(), Some(&0));
        assert_eq!(xs.iter().max(), Some(&255));
        assert_eq!(s[1].0.len(), 1, "a tap stays one point");
    }
}
