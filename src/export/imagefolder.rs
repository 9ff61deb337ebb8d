//! `imagefolder`: `train/<label>/<file>.png` and `test/<label>/<file>.png`,
//! each sample's original 280×280 PNG copied byte for byte, and in each split
//! folder a `metadata.csv` (`file_name,label`, the name relative to that
//! folder) as Hugging Face `datasets` reads it. torchvision's `ImageFolder`
//! on `train/` sorts the class folders `0`..`9`, so its class index is the
//! digit whenever all ten are present (the dataset card says when not).

use std::fs;
use std::path::Path;

use super::{Progress, split::Split};
use crate::error::{Error, Result};
use crate::store::{DataPaths, SampleRow};

/// The split folders.
pub const ENTRIES: [&str; 2] = ["train", "test"];

/// The metadata file inside each split folder.
pub const METADATA: &str = "metadata.csv";

/// Copies every sample into its split and class folder; returns the folders.
pub fn write(
    paths: &DataPaths,
    parts: &Split,
    out_dir: &Path,
    progress: &mut Progress,
) -> Result<Vec<String>> {
    let [train, test] = ENTRIES;
    for (rows, name) in [(&parts.train, train), (&parts.test, test)] {
        let dir = out_dir.join(name);
        fs::create_dir_all(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
        let mut metadata = csv::Writer::from_writer(Vec::new());
        let csv_err =
            |e: csv::Error| Error::io("write", dir.join(METADATA), std::io::Error::other(e));
        metadata
            .write_record(["file_name", "label"])
            .map_err(csv_err)?;
        // Files in name order inside each class, as a directory walk lists them.
        let mut sorted: Vec<&SampleRow> = rows.to_vec();
        sorted.sort_by(|a, b| (a.label, &a.filename).cmp(&(b.label, &b.filename)));
        for row in sorted {
            let class_dir = dir.join(row.label.to_string());
            if !class_dir.exists() {
                fs::create_dir(&class_dir)
                    .map_err(|e| Error::io("create folder", &class_dir, e))?;
            }
            let to = class_dir.join(&row.filename);
            fs::copy(paths.image(&row.filename), &to)
                .map_err(|e| Error::io("copy", paths.image(&row.filename), e))?;
            metadata
                .write_record([
                    format!("{}/{}", row.label, row.filename),
                    row.label.to_string(),
                ])
                .map_err(csv_err)?;
            progress.inc(1);
        }
        let bytes = metadata
            .into_inner()
            .map_err(|e| csv_err(e.into_error().into()))?;
        let path = dir.join(METADATA);
        fs::write(&path, bytes).map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(ENTRIES.iter().map(|e| e.to_string()).collect())
}
