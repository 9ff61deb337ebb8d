//! MNIST's preprocessing, the one used by every 28×28 output (the `mnist`
//! and `csv` exports, the window's preview): crop to the ink, scale the
//! longer side to 20 px keeping the aspect ratio by area averaging, and place
//! the result in a 28×28 field with the ink's centre of mass at the centre.
//!
//! The centre is **13.5 in pixel-index coordinates** (pixel `i` counted at
//! `i`), the exact middle of the field: 14 px from either edge. The shift is a
//! whole number of pixels, as in MNIST, so the 20 px box stays sharp and the
//! centre of mass lands within half a pixel of 13.5 on each axis. For very
//! lopsided ink the shift is clamped so the box stays inside the field; no
//! ink is ever cut off.
//!
//! Pure integer arithmetic: the same image gives the same bytes everywhere.
//! Knows nothing of files or formats.

use image::GrayImage;

/// Side of the output field, in pixels.
pub const FIELD: u32 = 28;

/// Side of the box the ink's longer side is scaled to.
pub const INK_BOX: u32 = 20;

/// Where the ink's centre of mass goes, on both axes, in pixel-index
/// coordinates (pixel `i`'s centre is at `i`): the middle of the field.
pub const CENTRE: f64 = 13.5;

/// Pixels dimmer than this count as background: browser canvas noise and
/// the faintest anti-aliased fringe must not decide where the ink is.
pub const INK_THRESHOLD: u8 = 16;

/// Pixels in one output image.
pub const PIXELS: usize = (FIELD * FIELD) as usize;

/// MNIST-style 28×28 version of a white-on-black image of any size. A blank
/// image (no pixel reaching [`INK_THRESHOLD`]) gives a blank field.
pub fn mnist_28(image: &GrayImage) -> GrayImage {
    let pixels = mnist_pixels(
        image.as_raw(),
        image.width() as usize,
        image.height() as usize,
    );
    GrayImage::from_raw(FIELD, FIELD, pixels.to_vec())
        .unwrap_or_else(|| GrayImage::new(FIELD, FIELD))
}

/// [`mnist_28`] on a raw row-major 8-bit buffer of `width × height`, giving
/// the 784 pixels row by row. A buffer shorter than its size is read as far
/// as it goes (the rest is black).
pub fn mnist_pixels(raw: &[u8], width: usize, height: usize) -> [u8; PIXELS] {
    let mut out = [0u8; PIXELS];
    let Some(ink) = ink_box(raw, width, height) else {
        return out;
    };
    let (w, h) = (ink.x1 - ink.x0, ink.y1 - ink.y0);
    let longer = w.max(h);
    let side = INK_BOX as usize;
    // The longer side becomes exactly 20 px; the other keeps the ratio, at least 1 px.
    let scaled_len = |len: usize| ((len * side + longer / 2) / longer).clamp(1, side);
    let (nw, nh) = (scaled_len(w), scaled_len(h));
    let scaled = area_average(raw, width, &ink, nw, nh);

    // Centre of mass of the scaled ink, then the whole-pixel shift that puts
    // it nearest to CENTRE, clamped so the box stays inside the field.
    let (mut mass, mut mx, mut my) = (0u64, 0u64, 0u64);
    for (i, &v) in scaled.iter().enumerate() {
        let v = u64::from(v);
        mass += v;
        mx += v * (i % nw) as u64;
        my += v * (i / nw) as u64;
    }
    let field = FIELD as usize;
    let shift = |moment: u64, len: usize| -> usize {
        let com = if mass == 0 {
            (len as f64 - 1.0) / 2.0
        } else {
            moment as f64 / mass as f64
        };
        let wanted = (CENTRE - com).round();
        wanted.clamp(0.0, (field - len) as f64) as usize
    };
    let (dx, dy) = (shift(mx, nw), shift(my, nh));
    for (row, line) in scaled.chunks_exact(nw).enumerate() {
        let start = (row + dy) * field + dx;
        if let Some(dst) = out.get_mut(start..start + nw) {
            dst.copy_from_slice(line);
        }
    }
    out
}

/// The ink's bounding box, half-open: columns `x0..x1`, rows `y0..y1`.
struct InkBox {
    x0: usize,
    x1: usize,
    y0: usize,
    y1: usize,
}

fn ink_box(raw: &[u8], width: usize, height: usize) -> Option<InkBox> {
    if width == 0 {
        return None;
    }
    let mut found: Option<InkBox> = None;
    for (y, row) in raw.chunks(width).take(height).enumerate() {
        let Some(first) = first_ink(row) else {
            continue;
        };
        let last = last_ink(row).unwrap_or(first);
        let b = found.get_or_insert(InkBox {
            x0: first,
            x1: last + 1,
            y0: y,
            y1: y + 1,
        });
        b.x0 = b.x0.min(first);
        b.x1 = b.x1.max(last + 1);
        b.y1 = y + 1;
    }
    found
}

// Ink is found eight pixels at a time: a byte reaches 16 exactly when its
// high nibble is set, so one mask tells whether any of eight pixels is ink.
const _: () = assert!(
    INK_THRESHOLD == 16,
    "the word masks below assume a threshold of 16"
);
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;

fn ink_mask(eight: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(eight);
    u64::from_le_bytes(word) & HIGH_NIBBLES
}

fn first_ink(row: &[u8]) -> Option<usize> {
    let mut words = row.chunks_exact(8);
    for (k, eight) in words.by_ref().enumerate() {
        let m = ink_mask(eight);
        if m != 0 {
            return Some(k * 8 + (m.trailing_zeros() / 8) as usize);
        }
    }
    let rest = words.remainder();
    rest.iter()
        .position(|&v| v >= INK_THRESHOLD)
        .map(|p| row.len() - rest.len() + p)
}

fn last_ink(row: &[u8]) -> Option<usize> {
    let body = row.len() - row.len() % 8;
    let (words, rest) = row.split_at(body);
    if let Some(p) = rest.iter().rposition(|&v| v >= INK_THRESHOLD) {
        return Some(body + p);
    }
    words
        .chunks_exact(8)
        .enumerate()
        .rev()
        .find_map(|(k, eight)| {
            let m = ink_mask(eight);
            (m != 0).then(|| k * 8 + 7 - (m.leading_zeros() / 8) as usize)
        })
}

/// Where each of `from` input pixels along an axis lands among `to` output
/// cells, in units where an input pixel is `to` long and a cell `from` long,
/// so every overlap is an exact integer: pixel `i` adds `weights[k]` of its
/// value to cell `first[i] + k`, for `k` in `start[i]..start[i + 1]`. Each
/// pixel's weights add up to `to`, each cell's to `from`.
struct Spread {
    first: Vec<usize>,
    start: Vec<usize>,
    weights: Vec<u32>,
}

impl Spread {
    fn new(from: usize, to: usize) -> Self {
        let mut spread = Spread {
            first: Vec::with_capacity(from),
            start: Vec::with_capacity(from + 1),
            weights: Vec::new(),
        };
        for i in 0..from {
            let (a, b) = (i * to, (i + 1) * to);
            let first = a / from;
            spread.first.push(first);
            spread.start.push(spread.weights.len());
            spread.weights.extend(
                (first..b.div_ceil(from)).map(|j| (b.min((j + 1) * from) - a.max(j * from)) as u32),
            );
        }
        spread.start.push(spread.weights.len());
        spread
    }

    /// The first cell pixel `i` reaches and its weights there and after.
    fn of(&self, i: usize) -> (usize, &[u32]) {
        let first = self.first.get(i).copied().unwrap_or(0);
        let (a, b) = (
            self.start.get(i).copied().unwrap_or(0),
            self.start.get(i + 1).copied().unwrap_or(0),
        );
        (first, self.weights.get(a..b).unwrap_or_default())
    }
}

/// Area averaging of the box's pixels onto `nw × nh`: each output pixel is
/// the mean of the input area it covers. Pixels under [`INK_THRESHOLD`] count
/// as black, and an output pixel that any ink reaches is at least 1, so the
/// ink's box maps exactly onto the output.
///
/// Rows first: each inked row is added, whole and weighted, into the one or
/// two output rows ("bands") it overlaps, which is contiguous work the
/// compiler turns into vector instructions; then each band's `w` sums are
/// spread over the `nw` columns.
fn area_average(raw: &[u8], width: usize, ink: &InkBox, nw: usize, nh: usize) -> Vec<u8> {
    let (w, h) = (ink.x1 - ink.x0, ink.y1 - ink.y0);
    let (cols, rows) = (Spread::new(w, nw), Spread::new(h, nh));
    let mut bands = vec![0u32; nh * w]; // each ≤ 255·h
    for y in 0..h {
        let start = (ink.y0 + y) * width + ink.x0;
        let Some(line) = raw.get(start..start + w) else {
            continue;
        };
        if first_ink(line).is_none() {
            continue;
        }
        let (first, weights) = rows.of(y);
        for (k, &wt) in weights.iter().enumerate() {
            let Some(band) = bands.get_mut((first + k) * w..(first + k + 1) * w) else {
                continue;
            };
            for (sum, &v) in band.iter_mut().zip(line) {
                *sum += wt * u32::from(if v >= INK_THRESHOLD { v } else { 0 });
            }
        }
    }
    let area = (w * h) as u64;
    let mut out = vec![0u8; nw * nh];
    let mut totals = vec![0u64; nw];
    for (band, line) in bands.chunks_exact(w.max(1)).zip(out.chunks_exact_mut(nw)) {
        totals.fill(0);
        for (x, &sum) in band.iter().enumerate() {
            if sum == 0 {
                continue;
            }
            let (first, weights) = cols.of(x);
            for (total, &wt) in totals.iter_mut().skip(first).zip(weights) {
                *total += u64::from(sum) * u64::from(wt);
            }
        }
        for (px, &total) in line.iter_mut().zip(&totals) {
            // Divide by a cell's area, w·h in these units.
            *px = if total == 0 {
                0
            } else {
                (((total + area / 2) / area).min(255) as u8).max(1)
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_covers_each_pixel_and_cell_exactly() {
        for (from, to) in [(280, 20), (187, 20), (3, 20), (20, 20), (7, 3), (18, 20)] {
            let s = Spread::new(from, to);
            let mut cells = vec![0u32; to];
            for i in 0..from {
                let (first, weights) = s.of(i);
                assert_eq!(
                    weights.iter().sum::<u32>() as usize,
                    to,
                    "{from}->{to}: pixel {i}"
                );
                for (k, &w) in weights.iter().enumerate() {
                    cells[first + k] += w;
                }
            }
            assert!(
                cells.iter().all(|&c| c as usize == from),
                "{from}->{to}: {cells:?}"
            );
        }
    }

    #[test]
    fn a_full_square_fills_the_box_evenly() {
        let img = GrayImage::from_pixel(100, 100, image::Luma([200]));
        let out = mnist_28(&img);
        let inked: Vec<_> = out.enumerate_pixels().filter(|p| p.2.0[0] > 0).collect();
        assert_eq!(inked.len(), 400);
        assert!(inked.iter().all(|p| p.2.0[0] == 200));
        assert_eq!(out.get_pixel(4, 4).0[0], 200);
        assert_eq!(out.get_pixel(3, 3).0[0], 0);
    }

    #[test]
    fn ink_is_found_eight_pixels_at_a_time_and_one_by_one() {
        for len in [0usize, 5, 8, 13, 16, 280] {
            for at in 0..len {
                for v in [16u8, 200] {
                    let mut row = vec![15u8; len];
                    row[at] = v;
                    assert_eq!(first_ink(&row), Some(at), "len {len} at {at}");
                    assert_eq!(last_ink(&row), Some(at), "len {len} at {at}");
                }
            }
            assert_eq!(first_ink(&vec![15u8; len]), None);
            assert_eq!(last_ink(&vec![0u8; len]), None);
        }
    }

    /// The definition, pixel by pixel: each output pixel is the overlap-weighted
    /// mean of the (thresholded) input pixels under it.
    fn naive_area_average(raw: &[u8], width: usize, ink: &InkBox, nw: usize, nh: usize) -> Vec<u8> {
        let (w, h) = (ink.x1 - ink.x0, ink.y1 - ink.y0);
        let overlap = |i: usize, j: usize, from: usize, to: usize| {
            let (a, b) = (i * to, (i + 1) * to);
            let (c, d) = (j * from, (j + 1) * from);
            b.min(d).saturating_sub(a.max(c)) as u64
        };
        let mut out = Vec::new();
        for oy in 0..nh {
            for ox in 0..nw {
                let mut total = 0u64;
                for y in 0..h {
                    for x in 0..w {
                        let v = raw[(ink.y0 + y) * width + ink.x0 + x];
                        let v = if v >= INK_THRESHOLD { u64::from(v) } else { 0 };
                        total += v * overlap(x, ox, w, nw) * overlap(y, oy, h, nh);
                    }
                }
                let area = (w * h) as u64;
                out.push(if total == 0 {
                    0
                } else {
                    (((total + area / 2) / area).min(255) as u8).max(1)
                });
            }
        }
        out
    }

    #[test]
    fn area_average_matches_its_definition() {
        let mut state = 12345u32;
        let mut next = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        };
        for (w, h, nw, nh) in [
            (61, 43, 20, 14),
            (9, 17, 11, 20),
            (40, 3, 20, 2),
            (5, 5, 20, 20),
        ] {
            let raw: Vec<u8> = (0..w * h)
                .map(|_| if next() % 3 == 0 { next() } else { 0 })
                .collect();
            let ink = InkBox {
                x0: 0,
                x1: w,
                y0: 0,
                y1: h,
            };
            assert_eq!(
                area_average(&raw, w, &ink, nw, nh),
                naive_area_average(&raw, w, &ink, nw, nh),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn blank_stays_blank() {
        assert!(
            mnist_28(&GrayImage::new(280, 280))
                .pixels()
                .all(|p| p.0[0] == 0)
        );
        assert!(mnist_pixels(&[], 0, 0).iter().all(|&v| v == 0));
    }
}
