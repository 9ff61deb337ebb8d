//! The dataset card: `README.md` in every export folder, saying what is in
//! it and how it was made (counts per digit and split, sessions, dates,
//! canvas, brush, preprocessing, program version, the exact command), so a
//! dataset found on a disk a year later still explains itself. Nothing in it
//! depends on the clock: the same export gives the same card.

use std::fmt::Write as _;
use std::fs;

use super::{
    ExportOptions, ExportSummary, Format, SplitBy, imagefolder, mnist, ndjson, preprocess,
};
use crate::error::{Error, Result};
use crate::raster::{BRUSH_WIDTH, CANVAS_SIZE};

/// The card's file name.
pub const FILE: &str = "README.md";

/// Writes the card into the export folder.
pub fn write(options: &ExportOptions, s: &ExportSummary) -> Result<()> {
    let path = options.out.join(FILE);
    fs::write(&path, text(options, s)).map_err(|e| Error::io("write", &path, e))
}

fn text(o: &ExportOptions, s: &ExportSummary) -> String {
    let mut t = String::new();
    let (train, test) = (s.train.iter().sum::<u64>(), s.test.iter().sum::<u64>());
    let _ = writeln!(t, "# Handwritten digits ({} format)\n", o.format.name());
    let _ = writeln!(
        t,
        "{} samples of handwritten digits 0–9 collected with Digit Kiosk, split into {train} for training \
         and {test} for testing.\n",
        s.total()
    );
    let _ = writeln!(
        t,
        "Made by digit-kiosk {} with:\n",
        env!("CARGO_PKG_VERSION")
    );
    let command = if o.command.is_empty() {
        "(called from a program, not the command line)"
    } else {
        &o.command
    };
    let _ = writeln!(t, "```sh\n{command}\n```\n");

    let _ = writeln!(
        t,
        "## Counts\n\n| digit | train | test | total |\n| ---: | ---: | ---: | ---: |"
    );
    for d in 0..10 {
        let (a, b) = (s.train[d], s.test[d]);
        let _ = writeln!(t, "| {d} | {a} | {b} | {} |", a + b);
    }
    let _ = writeln!(t, "| all | {train} | {test} | {} |\n", train + test);

    let _ = writeln!(t, "## How it was made\n");
    let _ = writeln!(
        t,
        "- **Split**: {:.0} % of each digit's samples held out for testing (stratified), {}, seed {}. \
         The same seed and data give the same files, byte for byte.",
        o.test_fraction * 100.0,
        match o.split_by {
            SplitBy::Sample => "sample by sample",
            SplitBy::Session => "whole sessions at a time (no writer is on both sides)",
        },
        o.seed
    );
    let _ = writeln!(
        t,
        "- **Sessions** (one participant's run): {} in train, {} in test, {} on both sides; \
         {} samples have no session.",
        s.train_sessions, s.test_sessions, s.shared_sessions, s.without_session
    );
    if !s.stations.is_empty() {
        let list: Vec<String> = s
            .stations
            .iter()
            .map(|(name, n)| format!("{name} ({n})"))
            .collect();
        let _ = writeln!(t, "- **Stations** (merged from): {}.", list.join(", "));
    }
    if let Some((first, last)) = &s.date_range {
        let _ = writeln!(t, "- **Collected** from {first} to {last} UTC.");
    }
    let _ = writeln!(
        t,
        "- **Drawn** on a {CANVAS_SIZE}×{CANVAS_SIZE} px canvas with a round brush {BRUSH_WIDTH} px wide, \
         white ink on black. Pen strokes are rasterised by one deterministic rasteriser; the few samples \
         sent as pixels were normalised to the same form."
    );
    if o.format.is_28x28() {
        let _ = writeln!(
            t,
            "- **Preprocessing** (as MNIST): pixels under {th} count as background; cropped to the ink's \
             bounding box; scaled by area averaging so the longer side is {b} px, keeping the aspect ratio; \
             placed in a {f}×{f} field, shifted by whole pixels so the ink's centre of mass is within half a \
             pixel of ({c}, {c}) in pixel-index coordinates, the middle of the field. Ink 255 on 0.",
            th = preprocess::INK_THRESHOLD,
            b = preprocess::INK_BOX,
            f = preprocess::FIELD,
            c = preprocess::CENTRE
        );
    }
    if s.skipped_no_strokes > 0 {
        let _ = writeln!(
            t,
            "- **Left out**: {} samples without strokes (pixels only, or from the original app).",
            s.skipped_no_strokes
        );
    }
    if s.skipped_missing_image > 0 {
        let _ = writeln!(
            t,
            "- **Left out**: {} samples whose PNG was missing.",
            s.skipped_missing_image
        );
    }
    let _ = writeln!(t);

    let _ = writeln!(t, "## Files\n");
    t += &files(o, s);
    t
}

fn files(o: &ExportOptions, s: &ExportSummary) -> String {
    let mut t = String::new();
    match o.format {
        Format::Mnist => {
            let names: Vec<String> = mnist::FILES
                .iter()
                .map(|f| mnist::file_name(f, o.gzip))
                .collect();
            let _ = writeln!(
                t,
                "IDX files as MNIST's: `{}`, `{}` (training), `{}`, `{}` (test){}. Images: magic 2051, count, \
                 28, 28 (big-endian u32), then 784 bytes per image row by row; labels: magic 2049, count, then \
                 one byte per label.\n",
                names[0],
                names[1],
                names[2],
                names[3],
                if o.gzip { ", gzip-compressed" } else { "" }
            );
            let open = if o.gzip { "gzip.open" } else { "open" };
            let _ = writeln!(
                t,
                "```python\nimport {}numpy as np\nwith {open}(\"{}\", \"rb\") as f:\n    x = np.frombuffer(f.read(), \
                 np.uint8, offset=16).reshape(-1, 28, 28)\nwith {open}(\"{}\", \"rb\") as f:\n    y = \
                 np.frombuffer(f.read(), np.uint8, offset=8)\n```",
                if o.gzip { "gzip, " } else { "" },
                names[0],
                names[1]
            );
        }
        Format::Csv => {
            let _ = writeln!(
                t,
                "`train.csv` and `test.csv` in Kaggle's Digit Recognizer layout: header \
                 `label,pixel0,...,pixel783`, one image per line, pixel `i` at row `i / 28`, column `i % 28`. \
                 Both files have the label column.\n\n```python\nimport pandas as pd\ntrain = \
                 pd.read_csv(\"train.csv\")\n```"
            );
        }
        Format::ImageFolder => {
            let _ = writeln!(
                t,
                "`train/<digit>/<file>.png` and `test/<digit>/<file>.png`: the original {CANVAS_SIZE}×{CANVAS_SIZE} \
                 8-bit grayscale PNGs, unchanged. Each split folder has a `{m}` (`file_name,label`, the name \
                 relative to that folder) for Hugging Face `datasets`.\n\n```python\nfrom torchvision.datasets \
                 import ImageFolder\ntrain = ImageFolder(\"train\")      # class index = digit\n\nfrom datasets \
                 import load_dataset\nds = load_dataset(\"imagefolder\", data_dir=\".\")\n```",
                m = imagefolder::METADATA
            );
            let missing: Vec<String> = [("train", &s.train), ("test", &s.test)]
                .iter()
                .flat_map(|(side, counts)| {
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| **n == 0)
                        .map(move |(d, _)| format!("{d} in {side}"))
                })
                .collect();
            if !missing.is_empty() {
                let _ = writeln!(
                    t,
                    "\n**Note**: no samples of {}. `ImageFolder` numbers the class folders it finds, so there \
                     its class index is not the digit; `metadata.csv`'s `label` always is.",
                    missing.join(", ")
                );
            }
        }
        Format::Ndjson => {
            let _ = writeln!(
                t,
                "`train.ndjson` and `test.ndjson` in Quick, Draw!'s {} format, one drawing per line: `key_id` \
                 (a number as a string, from the sample's SHA-256), `word` (the digit, `\"0\"`–`\"9\"`), \
                 `timestamp`, `drawing`.{}\n\n```python\nimport json\nfor line in open(\"train.ndjson\"):\n    \
                 d = json.loads(line)\n```",
                if o.simplified { "simplified" } else { "raw" },
                if o.simplified {
                    format!(
                        " Each stroke is `[[x...], [y...]]`: the drawing moved to (0, 0), scaled so its larger \
                         extent is 255, resampled at 1 px and simplified by Ramer–Douglas–Peucker with ε = {}, \
                         whole numbers.",
                        ndjson::RDP_EPSILON
                    )
                } else {
                    " Each stroke is `[[x...], [y...], [t...]]`: canvas pixels as drawn, `t` in milliseconds \
                     since the drawing's first point."
                        .to_string()
                }
            );
        }
    }
    t
}
