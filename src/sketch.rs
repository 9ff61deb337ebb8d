//! `Sketch`: what a person drew, as strokes of timed points in canvas space
//! (0..280 on both axes). Both front ends build one; it is checked once here,
//! so the rasteriser and the store never see empty, non-finite or oversized
//! input.
//!
//! Wire and storage form (the `strokes` column, the `strokes` field of
//! `POST /api/samples`): a JSON array of strokes. A stroke is either a bare
//! array of points or `{"pointer": "mouse"|"touch"|"pen", "points": [...]}`;
//! a point is `[x, y, t]` or `[x, y, t, pressure]`, `t` in milliseconds since
//! the sample's first point. The stored form is always the object form.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Error;
use crate::raster::CANVAS_SIZE;

/// Most points one sample may hold, all strokes together.
pub const MAX_POINTS: usize = 10_000;

/// How far outside the canvas a point may lie (a finger slides off the edge
/// while drawing); farther is refused as nonsense.
pub const CANVAS_MARGIN: f32 = CANVAS_SIZE as f32 / 4.0;

/// Longest time a sample may span, in milliseconds (one hour).
const MAX_T_MS: f64 = 3_600_000.0;

/// One sampled pointer position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Canvas x, 0 at the left edge, 280 at the right.
    pub x: f32,
    /// Canvas y, 0 at the top edge, 280 at the bottom.
    pub y: f32,
    /// Milliseconds since the first point of the sample.
    pub t: f64,
    /// Pen or finger pressure 0–1, where the device reports it.
    pub pressure: Option<f32>,
}

/// The kind of pointer that drew a stroke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PointerKind {
    /// A mouse or touchpad.
    Mouse,
    /// A finger on a touchscreen.
    Touch,
    /// A stylus.
    Pen,
}

impl PointerKind {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "mouse" => Some(Self::Mouse),
            "touch" => Some(Self::Touch),
            "pen" => Some(Self::Pen),
            _ => None,
        }
    }

    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mouse => "mouse",
            Self::Touch => "touch",
            Self::Pen => "pen",
        }
    }
}

/// One pen-down to pen-up path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stroke {
    /// What drew it, where known.
    pub pointer: Option<PointerKind>,
    /// The sampled positions in order.
    pub points: Vec<Point>,
}

/// A checked drawing: at least one point, every number finite, every point
/// near the canvas, at most [`MAX_POINTS`] points.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    strokes: Vec<Stroke>,
}

impl Sketch {
    /// Checks the strokes and makes a sketch of them; strokes without points
    /// are dropped (a click that never moved still has its one point).
    pub fn new(strokes: Vec<Stroke>) -> Result<Self, Error> {
        let strokes: Vec<Stroke> = strokes
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect();
        let total: usize = strokes.iter().map(|s| s.points.len()).sum();
        if total == 0 {
            return Err(Error::BadSketch(
                "the drawing is empty: no points in any stroke".into(),
            ));
        }
        if total > MAX_POINTS {
            return Err(Error::BadSketch(format!(
                "the drawing has {total} points, more than the {MAX_POINTS} allowed"
            )));
        }
        let (lo, hi) = (-CANVAS_MARGIN, CANVAS_SIZE as f32 + CANVAS_MARGIN);
        for (si, stroke) in strokes.iter().enumerate() {
            for (pi, p) in stroke.points.iter().enumerate() {
                let at = || format!("stroke {}, point {}", si + 1, pi + 1);
                if !(p.x.is_finite() && p.y.is_finite() && p.t.is_finite()) {
                    return Err(Error::BadSketch(format!(
                        "{}: coordinates must be finite numbers",
                        at()
                    )));
                }
                if !(lo..=hi).contains(&p.x) || !(lo..=hi).contains(&p.y) {
                    return Err(Error::BadSketch(format!(
                        "{}: ({}, {}) is far outside the {CANVAS_SIZE}×{CANVAS_SIZE} canvas",
                        at(),
                        p.x,
                        p.y
                    )));
                }
                if !(0.0..=MAX_T_MS).contains(&p.t) {
                    return Err(Error::BadSketch(format!(
                        "{}: time {} ms must be between 0 and one hour",
                        at(),
                        p.t
                    )));
                }
                if let Some(pr) = p.pressure
                    && !(0.0..=1.0).contains(&pr)
                {
                    return Err(Error::BadSketch(format!(
                        "{}: pressure must be between 0 and 1",
                        at()
                    )));
                }
            }
        }
        Ok(Self { strokes })
    }

    /// Parses the wire form (see the module docs) and checks it.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let bad = |msg: String| Error::BadSketch(msg);
        let Value::Array(strokes) = value else {
            return Err(bad("strokes must be a list of strokes".into()));
        };
        let mut total = 0usize;
        let mut out = Vec::with_capacity(strokes.len());
        for (si, stroke) in strokes.iter().enumerate() {
            let (pointer, points) = match stroke {
                Value::Array(points) => (None, points),
                Value::Object(map) => {
                    let pointer = match map.get("pointer") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(name)) => PointerKind::parse(name),
                        Some(_) => {
                            return Err(bad(format!(
                                "stroke {}: pointer must be a string",
                                si + 1
                            )));
                        }
                    };
                    let Some(Value::Array(points)) = map.get("points") else {
                        return Err(bad(format!("stroke {}: points must be a list", si + 1)));
                    };
                    (pointer, points)
                }
                _ => return Err(bad(format!("stroke {} must be a list of points", si + 1))),
            };
            total += points.len();
            if total > MAX_POINTS {
                return Err(bad(format!(
                    "the drawing has more than the {MAX_POINTS} points allowed"
                )));
            }
            let points = points
                .iter()
                .enumerate()
                .map(|(pi, p)| {
                    parse_point(p).ok_or_else(|| {
                        bad(format!(
                            "stroke {}, point {}: a point must be [x, y, t] or [x, y, t, pressure] with numbers",
                            si + 1,
                            pi + 1
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Stroke { pointer, points });
        }
        Self::new(out)
    }

    /// The canonical stored form: an array of `{"pointer", "points"}` objects.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.strokes
                .iter()
                .map(|s| {
                    let points: Vec<Value> = s
                        .points
                        .iter()
                        .map(|p| match p.pressure {
                            Some(pr) => json!([p.x, p.y, p.t, pr]),
                            None => json!([p.x, p.y, p.t]),
                        })
                        .collect();
                    json!({ "pointer": s.pointer.map(PointerKind::name), "points": points })
                })
                .collect(),
        )
    }

    /// The strokes, each with at least one point.
    pub fn strokes(&self) -> &[Stroke] {
        &self.strokes
    }

    /// Number of points in all strokes.
    pub fn point_count(&self) -> usize {
        self.strokes.iter().map(|s| s.points.len()).sum()
    }
}

fn parse_point(value: &Value) -> Option<Point> {
    let Value::Array(nums) = value else {
        return None;
    };
    if !(3..=4).contains(&nums.len()) {
        return None;
    }
    let num = |i: usize| nums.get(i).and_then(Value::as_f64);
    Some(Point {
        x: num(0)? as f32,
        y: num(1)? as f32,
        t: num(2)?,
        pressure: match nums.get(3) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_f64()? as f32),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(v: Value) -> String {
        Sketch::from_json(&v).unwrap_err().to_string()
    }

    #[test]
    fn accepts_both_stroke_forms_and_round_trips() {
        let v =
            json!([[[10, 10, 0], [20, 20, 5]], {"pointer": "pen", "points": [[30, 30, 9, 0.5]]}]);
        let s = Sketch::from_json(&v).unwrap();
        assert_eq!(s.point_count(), 3);
        assert_eq!(s.strokes()[1].pointer, Some(PointerKind::Pen));
        assert_eq!(Sketch::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn refuses_bad_input_in_plain_words() {
        assert!(err(json!([])).contains("empty"));
        assert!(err(json!([[]])).contains("empty"));
        assert!(err(json!({"a": 1})).contains("list of strokes"));
        assert!(err(json!([[[1, 2]]])).contains("[x, y, t]"));
        assert!(err(json!([[[1, "a", 3]]])).contains("[x, y, t]"));
        assert!(err(json!([[[5000, 2, 3]]])).contains("far outside"));
        assert!(err(json!([[[5, 2, -3]]])).contains("time"));
        assert!(err(json!([[[5, 2, 3, 7]]])).contains("pressure"));
        let many: Vec<Value> = (0..=MAX_POINTS).map(|i| json!([1, 1, i])).collect();
        assert!(err(json!([many])).contains("10000"));
        let nan = Stroke {
            pointer: None,
            points: vec![Point {
                x: f32::NAN,
                y: 1.0,
                t: 0.0,
                pressure: None,
            }],
        };
        assert!(
            Sketch::new(vec![nan])
                .unwrap_err()
                .to_string()
                .contains("finite")
        );
    }
}
