//! The subcommands that print a report: `stats`, `check`, `export` and
//! `merge`. Each returns
//! whether it succeeded; errors go up to `main`, which prints them once.

use std::io::Write;

use std::path::{Path, PathBuf};

use crate::check;
use crate::error::{Error, Result};
use crate::export::{self, ExportOptions};
use crate::merge;
use crate::store::{self, DataPaths, db};

/// `stats`: counts per digit, total, sessions, first and last sample.
pub fn stats(paths: &DataPaths, json: bool, out: &mut impl Write) -> Result<()> {
    let summary = store::read(paths, db::summary)?;
    let text = if json {
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n"
    } else {
        let most = summary.per_label.iter().copied().max().unwrap_or(0).max(1);
        let mut s = String::new();
        for (digit, n) in summary.per_label.iter().enumerate() {
            let bar = "█".repeat(usize::try_from(n * 40 / most).unwrap_or(0));
            s += &format!("{digit}  {n:>7}  {bar}\n");
        }
        s += &format!(
            "total     {}\nsessions  {}\n",
            summary.total, summary.sessions
        );
        s += &format!("first     {}\n", summary.first.as_deref().unwrap_or("-"));
        s += &format!("last      {}\n", summary.last.as_deref().unwrap_or("-"));
        s
    };
    write_out(out, &text)
}

/// `check [--repair]`: prints each problem; `Ok(false)` while any remain.
pub fn check(paths: &DataPaths, repair: bool, out: &mut impl Write) -> Result<bool> {
    let report = check::run(paths, repair)?;
    let mut text = String::new();
    for note in &report.recovered {
        text += &format!("recovered: {note}\n");
    }
    if report.repaired_csv {
        text += "rebuilt labels.csv from the database\n";
    }
    for problem in &report.problems {
        text += &format!("{problem}\n");
    }
    text += &match report.problems.len() {
        0 => format!(
            "ok: {} samples; database, labels.csv and images agree\n",
            report.samples
        ),
        n => format!(
            "{n} problem(s) in {} samples{}\n",
            report.samples,
            if report.problems.iter().any(check::Problem::is_csv) {
                "; `check --repair` rebuilds labels.csv"
            } else {
                ""
            }
        ),
    };
    write_out(out, &text)?;
    Ok(report.problems.is_empty())
}

/// `export`: writes the dataset and prints its summary.
pub fn export(paths: &DataPaths, options: &ExportOptions, out: &mut impl Write) -> Result<()> {
    let started = std::time::Instant::now();
    let summary = export::run(paths, options)?;
    write_out(
        out,
        &export::summary_text(&summary, options, started.elapsed()),
    )
}

/// `merge SRC... --into DIR`: merges and prints what happened; `Ok(false)`
/// when the merged folder does not pass `check`.
pub fn merge(sources: &[PathBuf], into: &Path, out: &mut impl Write) -> Result<bool> {
    let report = merge::run(sources, into)?;
    let mut text = String::new();
    for s in &report.sources {
        text += &format!(
            "{} (station `{}`): {} samples, {} merged, {} duplicates skipped",
            s.folder.display(),
            s.station,
            s.samples,
            s.merged,
            s.duplicates
        );
        if s.renamed > 0 {
            text += &format!(", {} renamed on a name clash", s.renamed);
        }
        if s.missing_images > 0 {
            text += &format!(", {} left out (PNG missing)", s.missing_images);
        }
        text += "\n";
    }
    let merged: u64 = report.sources.iter().map(|s| s.merged).sum();
    text += &format!(
        "merged {merged} samples into `{}`, which now holds {}\n",
        into.display(),
        report.check.samples
    );
    for problem in &report.check.problems {
        text += &format!("{problem}\n");
    }
    text += if report.check.problems.is_empty() {
        "check: ok\n"
    } else {
        "check: problems remain (see above)\n"
    };
    write_out(out, &text)?;
    Ok(report.check.problems.is_empty())
}

fn write_out(out: &mut impl Write, text: &str) -> Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("write", "standard output", e))
        }
        _ => Ok(()), // a closed pipe (`| head`) is not an error
    }
}
