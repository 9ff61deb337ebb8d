//! `csv`: Kaggle's "Digit Recognizer" layout, `train.csv` and `test.csv`,
//! header `label,pixel0,...,pixel783`, one sample per line, the 28×28 image
//! of [`super::preprocess`] row by row. Unlike Kaggle's own `test.csv`, ours
//! keeps the label column: the test split's labels are known here.

use std::io::Write;
use std::path::Path;

use super::{Progress, create, for_each_mnist, preprocess, split::Split, write_err};
use crate::error::Result;
use crate::store::{DataPaths, SampleRow};

/// The files, train first.
pub const FILES: [&str; 2] = ["train.csv", "test.csv"];

/// Writes both files and returns their names.
pub fn write(
    paths: &DataPaths,
    parts: &Split,
    out_dir: &Path,
    progress: &mut Progress,
) -> Result<Vec<String>> {
    let header = std::iter::once("label".to_string())
        .chain((0..preprocess::PIXELS).map(|i| format!("pixel{i}")))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    let [train, test] = FILES;
    for (rows, name) in [(&parts.train, train), (&parts.test, test)] {
        let path = out_dir.join(name);
        let mut out = create(&path)?;
        out.write_all(header.as_bytes()).map_err(write_err(&path))?;
        let mut line = Vec::with_capacity(4 * preprocess::PIXELS + 4);
        for_each_mnist(paths, rows, progress, |row: &SampleRow, pixels| {
            line.clear();
            push_number(&mut line, row.label);
            for &v in pixels {
                line.push(b',');
                push_number(&mut line, v);
            }
            line.push(b'\n');
            out.write_all(&line).map_err(write_err(&path))
        })?;
        out.flush().map_err(write_err(&path))?;
    }
    Ok(FILES.iter().map(|f| f.to_string()).collect())
}

/// Appends `v` in decimal.
fn push_number(line: &mut Vec<u8>, v: u8) {
    if v >= 100 {
        line.push(b'0' + v / 100);
    }
    if v >= 10 {
        line.push(b'0' + (v / 10) % 10);
    }
    line.push(b'0' + v % 10);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimal() {
        let mut s = Vec::new();
        for v in [0u8, 7, 10, 99, 100, 255] {
            push_number(&mut s, v);
            s.push(b' ');
        }
        assert_eq!(String::from_utf8(s).unwrap(), "0 7 10 99 100 255 ");
    }
}
