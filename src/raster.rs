//! The one rasteriser: a [`Sketch`] becomes the 280×280 8-bit grayscale image
//! every stored PNG is made of, white anti-aliased ink on black, round caps
//! and joins, one brush. Window and browser samples go through the same code,
//! so they look alike and browser canvas noise never reaches the data.
//!
//! Deterministic: tiny-skia is pure Rust and built without its SIMD paths, and
//! the PNG encoder's settings are fixed, so the same strokes give the same
//! bytes on every machine (the golden tests in `tests/raster.rs` hold it to
//! that). Pressure is recorded but does not change the line: one brush keeps
//! the stroke weight MNIST-like whatever device drew it.

use image::GrayImage;
use tiny_skia::{FillRule, LineCap, LineJoin, Mask, PathBuilder, Stroke as SkStroke, Transform};

use crate::sketch::Sketch;

/// Side of the square canvas and of every stored PNG, in pixels.
pub const CANVAS_SIZE: u32 = 280;

/// The brush: line width in canvas pixels. At 280 px this gives MNIST's
/// stroke weight once the sample is scaled to 28×28 (about 2 px).
pub const BRUSH_WIDTH: f32 = 18.0;

/// A single tap has no length; this tiny segment lets the round caps draw it
/// as a dot of the brush's width.
const DOT_LENGTH: f32 = 0.01;

/// Draws the sketch: white ink (255) on black (0), 280×280.
pub fn rasterize(sketch: &Sketch) -> GrayImage {
    let mut path = PathBuilder::new();
    for stroke in sketch.strokes() {
        let mut points = stroke.points.iter();
        let Some(first) = points.next() else { continue };
        path.move_to(first.x, first.y);
        let mut moved = false;
        for p in points {
            path.line_to(p.x, p.y);
            moved = true;
        }
        if !moved {
            path.line_to(first.x + DOT_LENGTH, first.y);
        }
    }
    // The ink coverage, drawn straight into an 8-bit mask: tiny-skia strokes
    // the path (resolution scale 1, as for an identity transform) and fills
    // the outline with the scan converter and pipeline stages (white, lerp
    // by coverage) that painting white on an opaque black RGBA pixmap uses,
    // so each byte is that pixmap's red channel, at half the cost.
    let Some(mut coverage) = Mask::new(CANVAS_SIZE, CANVAS_SIZE) else {
        return blank_image();
    };
    let stroke = SkStroke {
        width: BRUSH_WIDTH,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..SkStroke::default()
    };
    if let Some(outline) = path.finish().and_then(|path| path.stroke(&stroke, 1.0)) {
        coverage.fill_path(&outline, FillRule::Winding, true, Transform::identity());
    }
    GrayImage::from_raw(CANVAS_SIZE, CANVAS_SIZE, coverage.take()).unwrap_or_else(blank_image)
}

/// Encodes an image as an 8-bit grayscale PNG with fixed settings.
pub fn encode_png(image: &GrayImage) -> Vec<u8> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::with_capacity(4096);
    let encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub);
    // Writing into a Vec cannot fail, and the buffer matches its dimensions.
    if encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .is_err()
    {
        out.clear();
    }
    out
}

/// An all-black canvas.
pub fn blank_image() -> GrayImage {
    GrayImage::new(CANVAS_SIZE, CANVAS_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::{Point, Stroke};

    fn sketch(points: &[(f32, f32)]) -> Sketch {
        let points = points
            .iter()
            .map(|&(x, y)| Point {
                x,
                y,
                t: 0.0,
                pressure: None,
            })
            .collect();
        Sketch::new(vec![Stroke {
            pointer: None,
            points,
        }])
        .unwrap()
    }

    #[test]
    fn a_tap_is_a_round_dot_of_the_brush_width() {
        let img = rasterize(&sketch(&[(140.0, 140.0)]));
        assert_eq!(img.get_pixel(140, 140).0[0], 255);
        let half = (BRUSH_WIDTH / 2.0) as u32;
        assert_eq!(img.get_pixel(140 + half + 2, 140).0[0], 0);
        assert!(img.get_pixel(140 + half - 2, 140).0[0] > 200);
        assert_eq!(
            img.get_pixel(140 + half - 1, 140 + half - 1).0[0],
            0,
            "round, not square"
        );
    }

    #[test]
    fn the_mask_holds_what_painting_white_on_black_gives() {
        use tiny_skia::{Color, Paint, Pixmap};
        let mut seed = 7u32;
        let mut coord = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as f32 % 320.0 - 20.0 // some points off the canvas
        };
        let mut sketches = vec![
            sketch(&[(140.0, 140.0)]),
            sketch(&[(0.0, 0.0), (280.0, 280.0)]),
        ];
        for n in [2, 5, 40, 120] {
            let points: Vec<(f32, f32)> = (0..n).map(|_| (coord(), coord())).collect();
            sketches.push(sketch(&points));
        }
        for s in &sketches {
            let mut path = PathBuilder::new();
            for stroke in s.strokes() {
                let first = &stroke.points[0];
                path.move_to(first.x, first.y);
                if stroke.points.len() == 1 {
                    path.line_to(first.x + DOT_LENGTH, first.y);
                }
                for p in &stroke.points[1..] {
                    path.line_to(p.x, p.y);
                }
            }
            let mut pixmap = Pixmap::new(CANVAS_SIZE, CANVAS_SIZE).unwrap();
            pixmap.fill(Color::BLACK);
            let mut paint = Paint::default();
            paint.set_color_rgba8(255, 255, 255, 255);
            paint.anti_alias = true;
            let stroke = SkStroke {
                width: BRUSH_WIDTH,
                line_cap: LineCap::Round,
                line_join: LineJoin::Round,
                ..SkStroke::default()
            };
            pixmap.stroke_path(
                &path.finish().unwrap(),
                &paint,
                &stroke,
                Transform::identity(),
                None,
            );
            let painted: Vec<u8> = pixmap.pixels().iter().map(|px| px.red()).collect();
            assert_eq!(rasterize(s).into_raw(), painted);
        }
    }

    #[test]
    fn a_line_is_inked_along_its_path_only() {
        let img = rasterize(&sketch(&[(40.0, 40.0), (240.0, 40.0)]));
        assert_eq!(img.get_pixel(140, 40).0[0], 255);
        assert_eq!(img.get_pixel(140, 140).0[0], 0);
        assert!(
            img.pixels().any(|p| p.0[0] > 0 && p.0[0] < 255),
            "anti-aliased edges"
        );
    }
}
