//! Pixels in: a PNG from a client that has no strokes (the original page, a
//! script) becomes the same 280×280 white-on-black grayscale form the
//! rasteriser makes. Decoding has hard limits so a decompression bomb is
//! refused before it costs memory.

use std::io::Cursor;

use base64::Engine as _;
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};

use crate::error::Error;
use crate::raster::{CANVAS_SIZE, blank_image};

/// Largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 2048;

/// Most memory the decoder may allocate (a 2048×2048 RGBA image with 16-bit
/// channels fits; a bomb claiming more is refused without decoding).
const MAX_DECODER_ALLOC: u64 = 2048 * 2048 * 8 + (1 << 20);

/// The brightest pixel of a blank image: below this nothing counts as ink.
const INK_THRESHOLD: u8 = 16;

const DATA_URL_PREFIX: &str = "data:image/png;base64,";

/// Decodes a `data:image/png;base64,...` URL into PNG bytes.
pub fn png_from_data_url(url: &str) -> Result<Vec<u8>, Error> {
    let Some(b64) = url.strip_prefix(DATA_URL_PREFIX) else {
        return Err(Error::BadImage(
            "image must be a data:image/png;base64,... URL".into(),
        ));
    };
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| Error::BadImage("image data is not valid base64".into()))
}

/// Decodes PNG bytes and normalises them: alpha composited on black,
/// converted to gray, light backgrounds inverted, fitted into 280×280 keeping
/// the aspect ratio and centred. A blank image is refused.
pub fn normalize_png(bytes: &[u8]) -> Result<GrayImage, Error> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            Error::BadImage(format!("image is larger than {MAX_SIDE}×{MAX_SIDE} pixels"))
        }
        _ => Error::BadImage("image is not a readable PNG".into()),
    })?;
    let mut gray = gray_on_black(decoded);
    let mean = gray.pixels().map(|p| u64::from(p.0[0])).sum::<u64>()
        / u64::from(gray.width() * gray.height()).max(1);
    if mean > 127 {
        // Dark ink on a light background: turn it into light ink on black.
        imageops::invert(&mut gray);
    }
    if gray.pixels().all(|p| p.0[0] < INK_THRESHOLD) {
        return Err(Error::BadImage(
            "image is blank: nothing is drawn on it".into(),
        ));
    }
    Ok(fit_to_canvas(gray))
}

/// Rec. 601 luma of an 8-bit RGBA pixel, composited on black by its alpha.
fn luma_on_black(r: u8, g: u8, b: u8, a: u8) -> u8 {
    let luma = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000;
    (luma * u32::from(a) / 255) as u8
}

/// The decoded image as gray composited on black ([`luma_on_black`] of its
/// RGBA form). The 8-bit layouts are read as they are, which gives the same
/// values as converting to RGBA first at a fraction of the cost (a gray
/// canvas is already the answer); others go through RGBA.
fn gray_on_black(decoded: DynamicImage) -> GrayImage {
    let (w, h) = (decoded.width(), decoded.height());
    let from = |raw: &[u8], step: usize, pixel: fn(&[u8]) -> u8| {
        GrayImage::from_raw(w, h, raw.chunks_exact(step).map(pixel).collect())
            .unwrap_or_else(|| GrayImage::new(w, h))
    };
    match decoded {
        // Gray is its own luma, and opaque.
        DynamicImage::ImageLuma8(gray) => gray,
        DynamicImage::ImageLumaA8(la) => {
            from(la.as_raw(), 2, |p| luma_on_black(p[0], p[0], p[0], p[1]))
        }
        DynamicImage::ImageRgb8(rgb) => {
            from(rgb.as_raw(), 3, |p| luma_on_black(p[0], p[1], p[2], 255))
        }
        DynamicImage::ImageRgba8(rgba) => {
            from(rgba.as_raw(), 4, |p| luma_on_black(p[0], p[1], p[2], p[3]))
        }
        other => from(other.to_rgba8().as_raw(), 4, |p| {
            luma_on_black(p[0], p[1], p[2], p[3])
        }),
    }
}

fn fit_to_canvas(gray: GrayImage) -> GrayImage {
    let (w, h) = gray.dimensions();
    if (w, h) == (CANVAS_SIZE, CANVAS_SIZE) {
        return gray;
    }
    let scale = f64::from(CANVAS_SIZE) / f64::from(w.max(h));
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, CANVAS_SIZE);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, CANVAS_SIZE);
    let scaled = imageops::resize(&gray, nw, nh, FilterType::Triangle);
    let mut canvas = blank_image();
    imageops::replace(
        &mut canvas,
        &scaled,
        i64::from((CANVAS_SIZE - nw) / 2),
        i64::from((CANVAS_SIZE - nh) / 2),
    );
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    fn png_rgba(img: &RgbaImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        out
    }

    #[test]
    fn rgba_is_composited_gray_and_fitted_keeping_aspect() {
        let mut img = RgbaImage::from_pixel(100, 50, Rgba([0, 0, 0, 0]));
        for x in 40..60 {
            img.put_pixel(x, 25, Rgba([255, 255, 255, 255]));
        }
        let g = normalize_png(&png_rgba(&img)).unwrap();
        assert_eq!(g.dimensions(), (280, 280));
        assert_eq!(g.get_pixel(0, 0).0[0], 0);
        assert_eq!(
            g.get_pixel(0, 139).0[0],
            0,
            "letterboxed: top band stays black"
        );
        assert!(g.get_pixel(140, 140).0[0] > 100);
    }

    #[test]
    fn every_8_bit_layout_gives_what_converting_to_rgba_gives() {
        // The reference: every layout through RGBA, pixel by pixel.
        fn reference(img: &DynamicImage) -> GrayImage {
            let rgba = img.to_rgba8();
            GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
                let [r, g, b, a] = rgba.get_pixel(x, y).0;
                image::Luma([luma_on_black(r, g, b, a)])
            })
        }
        let mut seed = 0x2545_f491_u32;
        let mut byte = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 24) as u8
        };
        let rgba = RgbaImage::from_fn(37, 23, |_, _| Rgba([byte(), byte(), byte(), byte()]));
        let rgba16 = DynamicImage::ImageRgba8(rgba.clone()).to_rgba16();
        for img in [
            DynamicImage::ImageRgba8(rgba.clone()),
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba.clone()).to_rgb8()),
            DynamicImage::ImageLumaA8(DynamicImage::ImageRgba8(rgba.clone()).to_luma_alpha8()),
            DynamicImage::ImageLuma8(DynamicImage::ImageRgba8(rgba.clone()).to_luma8()),
            DynamicImage::ImageRgba16(rgba16),
        ] {
            assert_eq!(
                gray_on_black(img.clone()),
                reference(&img),
                "{:?}",
                img.color()
            );
        }
    }

    #[test]
    fn refuses_blank_oversized_and_non_png() {
        let blank = RgbaImage::from_pixel(280, 280, Rgba([0, 0, 0, 255]));
        assert!(
            normalize_png(&png_rgba(&blank))
                .unwrap_err()
                .to_string()
                .contains("blank")
        );
        assert!(
            normalize_png(b"GIF89a....")
                .unwrap_err()
                .to_string()
                .contains("PNG")
        );
        let huge = RgbaImage::new(2049, 4);
        assert!(
            normalize_png(&png_rgba(&huge))
                .unwrap_err()
                .to_string()
                .contains("2048")
        );
        assert!(png_from_data_url("data:image/jpeg;base64,AAAA").is_err());
        assert!(png_from_data_url("data:image/png;base64,@@@").is_err());
    }
}
