//! The subcommands that print a report: `stats` and `check`. Each returns
//! whether it succeeded; errors go up to `main`, which prints them once.

use std::io::Write;

use crate::check;
use crate::error::{Error, Result};
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
        s += &format!("total     {}\nsessions  {}\n", summary.total, summary.sessions);
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
    if report.repaired_csv {
        text += "rebuilt labels.csv from the database\n";
    }
    for problem in &report.problems {
        text += &format!("{problem}\n");
    }
    text += &match report.problems.len() {
        0 => format!("ok: {} samples; database, labels.csv and images agree\n", report.samples),
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

fn write_out(out: &mut impl Write, text: &str) -> Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("write", "standard output", e)),
        _ => Ok(()), // a closed pipe (`| head`) is not an error
    }
}
