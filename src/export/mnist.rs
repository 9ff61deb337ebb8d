//! `mnist`: the four IDX files of MNIST's distribution. An IDX file is a
//! big-endian header (magic `0x00000803` for images, `0x00000801` for labels,
//! then each dimension's size as a u32) followed by the bytes, row by row.
//! With `--gzip` each file is written gzip-compressed as `<name>.gz`, as
//! MNIST is distributed. Images come from [`super::preprocess`].

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::{ExportOptions, Progress, create, for_each_mnist, preprocess, split::Split, write_err};
use crate::error::Result;
use crate::store::{DataPaths, SampleRow};

/// Magic number of an IDX file of unsigned bytes in 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes in 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The files, in the order written (without `.gz`).
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A file's name on disk.
pub fn file_name(base: &str, gzip: bool) -> String {
    if gzip {
        format!("{base}.gz")
    } else {
        base.to_string()
    }
}

/// Writes the four files and returns their names.
pub fn write(
    paths: &DataPaths,
    parts: &Split,
    options: &ExportOptions,
    progress: &mut Progress,
) -> Result<Vec<String>> {
    let [train_images, train_labels, test_images, test_labels] = FILES;
    let mut written = Vec::new();
    for (rows, images, labels) in [
        (&parts.train, train_images, train_labels),
        (&parts.test, test_images, test_labels),
    ] {
        let labels_name = file_name(labels, options.gzip);
        let path = options.out.join(&labels_name);
        let mut out = Output::open(&path, options.gzip)?;
        out.write_all(&header(LABELS_MAGIC, &[rows.len()]))
            .map_err(write_err(&path))?;
        out.write_all(&rows.iter().map(|r| r.label).collect::<Vec<u8>>())
            .map_err(write_err(&path))?;
        out.finish().map_err(write_err(&path))?;

        let images_name = file_name(images, options.gzip);
        let path = options.out.join(&images_name);
        let mut out = Output::open(&path, options.gzip)?;
        let side = preprocess::FIELD as usize;
        out.write_all(&header(IMAGES_MAGIC, &[rows.len(), side, side]))
            .map_err(write_err(&path))?;
        for_each_mnist(paths, rows, progress, |_: &SampleRow, pixels| {
            out.write_all(pixels).map_err(write_err(&path))
        })?;
        out.finish().map_err(write_err(&path))?;
        written.extend([images_name, labels_name]);
    }
    Ok(written)
}

/// The IDX header: magic, then each dimension, all big-endian u32.
fn header(magic: u32, dims: &[usize]) -> Vec<u8> {
    std::iter::once(magic)
        .chain(dims.iter().map(|&d| u32::try_from(d).unwrap_or(u32::MAX)))
        .flat_map(u32::to_be_bytes)
        .collect()
}

/// A plain or gzip-compressed file (the gzip header carries no time or
/// name, so the bytes depend only on the data).
enum Output {
    Plain(std::io::BufWriter<std::fs::File>),
    Gzip(GzEncoder<std::io::BufWriter<std::fs::File>>),
}

impl Output {
    fn open(path: &std::path::Path, gzip: bool) -> Result<Self> {
        let file = create(path)?;
        Ok(if gzip {
            Output::Gzip(GzEncoder::new(file, Compression::default()))
        } else {
            Output::Plain(file)
        })
    }

    fn finish(self) -> std::io::Result<()> {
        let mut file = match self {
            Output::Plain(file) => file,
            Output::Gzip(gz) => gz.finish()?,
        };
        file.flush()
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Plain(f) => f.write(buf),
            Output::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Plain(f) => f.flush(),
            Output::Gzip(g) => g.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_big_endian() {
        assert_eq!(
            header(IMAGES_MAGIC, &[2, 28, 28]),
            [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]
        );
        assert_eq!(header(LABELS_MAGIC, &[258]), [0, 0, 8, 1, 0, 0, 1, 2]);
    }
}
