//! The real `digit-kiosk` binary: `stats`, `stats --json`, `check` and
//! `check --repair` on folders damaged the ways people damage them, and
//! user errors as one plain stderr line with exit code 1.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read as _;
use std::process::{Command, Stdio};

use common::{Run, TempData, run_bin, run_on, submit_strokes};
use digit_kiosk::store::DataPaths;

/// A folder with five samples: labels 1, 1, 3, 7, 7 from two sessions.
fn five_samples() -> TempData {
    let data = TempData::new();
    let collector = data.collector();
    for (label, session) in [(1, "a"), (1, "a"), (3, "b"), (7, "b"), (7, "b")] {
        collector
            .submit(digit_kiosk::collector::Submission {
                session: Some(digit_kiosk::collector::Session::new(session).unwrap()),
                ..common::strokes_submission(label, &[(60.0, 60.0), (220.0, 200.0)])
            })
            .unwrap();
    }
    collector.shutdown();
    data
}

fn csv_lines(paths: &DataPaths) -> Vec<String> {
    std::fs::read_to_string(paths.csv())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(paths: &DataPaths, lines: &[String]) {
    std::fs::write(paths.csv(), lines.join("\n") + "\n").unwrap();
}

fn assert_ok(run: &Run, samples: usize) {
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("ok: {samples} samples")),
        "{run}"
    );
    assert!(run.stderr.is_empty(), "{run}");
}

#[test]
fn help_lists_the_commands() {
    let run = run_bin(["--help"]);
    run.expect_code(0);
    for word in ["stats", "check", "--data"] {
        assert!(run.stdout.contains(word), "{run}");
    }
    run_bin(["check", "--help"]).expect_code(0);
    let run = run_bin(["--version"]);
    run.expect_code(0);
    assert!(run.stdout.contains(env!("CARGO_PKG_VERSION")), "{run}");
}

#[test]
fn stats_counts_per_digit_sessions_and_time_range() {
    let data = five_samples();
    let run = run_on(&data.paths, "stats", &[]);
    run.expect_code(0);
    let line = |d: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(d))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("1 ").split_whitespace().nth(1) == Some("2"), "{run}");
    assert!(line("3 ").split_whitespace().nth(1) == Some("1"), "{run}");
    assert!(line("0 ").split_whitespace().nth(1) == Some("0"), "{run}");
    assert!(line("total").ends_with(" 5"), "{run}");
    assert!(line("sessions").ends_with(" 2"), "{run}");

    let run = run_on(&data.paths, "stats", &["--json"]);
    run.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        v["per_label"],
        serde_json::json!([0, 2, 0, 1, 0, 0, 0, 5 - 3, 0, 0]),
        "{run}"
    );
    assert_eq!(
        (v["total"].as_u64(), v["sessions"].as_u64()),
        (Some(5), Some(2)),
        "{run}"
    );
    let rows = common::db_rows(&data.paths);
    assert_eq!(v["first"], rows[0].timestamp.as_str());
    assert_eq!(v["last"], rows[4].timestamp.as_str());
    // `stats` only reads: nothing changes.
    assert_eq!(
        common::counts(&data.paths),
        common::Counts {
            files: 5,
            rows: 5,
            csv_lines: 5
        }
    );
}

#[test]
fn stats_of_an_empty_folder_is_zeroes() {
    let data = TempData::new();
    data.collector().shutdown();
    let run = run_on(&data.paths, "stats", &["--json"]);
    run.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["total"], 0);
    assert!(v["first"].is_null(), "{run}");
}

#[test]
fn stats_into_a_closed_pipe_is_not_an_error() {
    let data = five_samples();
    let mut child = Command::new(common::bin_path())
        .args(["stats", "--data"])
        .arg(&data.paths.root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head -0`
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success() && stderr.is_empty(), "{status:?} {stderr}");
}

#[test]
fn check_of_a_healthy_folder_reports_nothing() {
    let data = five_samples();
    assert_ok(&run_on(&data.paths, "check", &[]), 5);
    assert_ok(&run_on(&data.paths, "check", &["--repair"]), 5);
}

#[test]
fn a_csv_tail_cut_mid_line_is_finished_from_the_database() {
    let data = five_samples();
    let whole = std::fs::read(data.paths.csv()).unwrap();
    std::fs::write(data.paths.csv(), &whole[..whole.len() - 60]).unwrap(); // a crash mid-append
    let run = run_on(&data.paths, "check", &[]);
    assert_ok(&run, 5);
    assert!(
        run.stdout.starts_with(
            "recovered: labels.csv ended early in the middle of a line; added its last 1 line(s) from the database\n"
        ),
        "says what it finished: {run}"
    );
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), whole);
    assert_ok(&run_on(&data.paths, "check", &[]), 5);
    assert!(
        !run_on(&data.paths, "check", &[])
            .stdout
            .contains("recovered"),
        "only once"
    );

    // Whole lines missing at the end (a prefix of the rows) likewise.
    let lines = csv_lines(&data.paths);
    write_lines(&data.paths, &lines[..4]);
    let run = run_on(&data.paths, "check", &[]);
    assert_ok(&run, 5);
    assert!(
        run.stdout
            .contains("recovered: labels.csv ended early; added its last 2 line(s)"),
        "{run}"
    );
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), whole);

    // A deleted or emptied CSV is written again.
    std::fs::remove_file(data.paths.csv()).unwrap();
    let run = run_on(&data.paths, "check", &[]);
    assert_ok(&run, 5);
    assert!(
        run.stdout
            .contains("recovered: labels.csv was missing; written from the database"),
        "{run}"
    );
    std::fs::write(data.paths.csv(), b"").unwrap();
    let run = run_on(&data.paths, "check", &[]);
    assert_ok(&run, 5);
    assert!(
        run.stdout
            .contains("recovered: labels.csv was empty; written from the database"),
        "{run}"
    );
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), whole);
}

#[test]
fn a_deleted_or_edited_csv_line_is_reported_then_repaired() {
    let data = five_samples();
    let whole = std::fs::read(data.paths.csv()).unwrap();
    let mut lines = csv_lines(&data.paths);
    let gone = lines.remove(2);
    let gone_name = gone.split(',').next().unwrap().to_string();
    write_lines(&data.paths, &lines);

    let run = run_on(&data.paths, "check", &[]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains(&format!("labels.csv lacks the row of {gone_name}")),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("1 problem(s) in 5 samples; `check --repair` rebuilds labels.csv"),
        "{run}"
    );
    assert!(
        run.stderr.is_empty(),
        "a found problem is a report, not an error: {run}"
    );
    assert_eq!(
        csv_lines(&data.paths),
        lines,
        "plain `check` changes nothing"
    );

    let run = run_on(&data.paths, "check", &["--repair"]);
    assert_ok(&run, 5);
    assert!(
        run.stdout.contains("rebuilt labels.csv from the database"),
        "{run}"
    );
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), whole);

    // A line whose label was edited by hand, and a line for no sample.
    let mut lines = csv_lines(&data.paths);
    let edited = lines[1].replacen(",1,", ",9,", 1);
    lines[1] = edited.clone();
    lines.push("digit_4_20200101T000000000000Z.png,4,20200101T000000000000Z,127.0.0.1".into());
    write_lines(&data.paths, &lines);
    let run = run_on(&data.paths, "check", &[]);
    run.expect_code(1);
    let name = edited.split(',').next().unwrap();
    assert!(
        run.stdout
            .contains(&format!("labels.csv line for {name} differs from its row")),
        "{run}"
    );
    assert!(
        run.stdout.contains(
            "labels.csv has a line for digit_4_20200101T000000000000Z.png, which has no row"
        ),
        "{run}"
    );
    assert_ok(&run_on(&data.paths, "check", &["--repair"]), 5);
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), whole);
}

#[test]
fn an_orphan_image_is_listed_and_never_deleted() {
    let data = five_samples();
    let first = common::image_names(&data.paths)[0].clone();
    let orphan = "digit_2_20200101T000000000000Z.png";
    std::fs::copy(data.paths.image(&first), data.paths.image(orphan)).unwrap();
    let csv_before = std::fs::read(data.paths.csv()).unwrap();

    for args in [&[][..], &["--repair"][..]] {
        let run = run_on(&data.paths, "check", args);
        run.expect_code(1);
        assert!(
            run.stdout.contains(&format!(
                "orphan image: images/{orphan} has no row (left in place)"
            )),
            "{run}"
        );
        assert!(
            run.stdout.contains("1 problem(s) in 5 samples\n"),
            "no CSV repair offered for it: {run}"
        );
        assert!(!run.stdout.contains("rebuilt"), "{run}");
        assert!(data.paths.image(orphan).exists(), "never deleted");
    }
    assert_eq!(std::fs::read(data.paths.csv()).unwrap(), csv_before);
    assert_eq!(common::count_rows(&data.paths), 5, "not adopted either");
    std::fs::remove_file(data.paths.image(orphan)).unwrap();
    assert_ok(&run_on(&data.paths, "check", &[]), 5);
}

#[test]
fn a_deleted_or_changed_image_is_reported_and_not_repairable_by_csv() {
    let data = five_samples();
    let names = common::image_names(&data.paths);
    std::fs::remove_file(data.paths.image(&names[0])).unwrap();
    std::fs::write(data.paths.image(&names[1]), b"not the stored PNG").unwrap();

    for args in [&[][..], &["--repair"][..]] {
        let run = run_on(&data.paths, "check", args);
        run.expect_code(1);
        assert!(
            run.stdout.contains(&format!(
                "missing image: images/{} has a row but no file",
                names[0]
            )),
            "{run}"
        );
        assert!(
            run.stdout.contains(&format!(
                "changed image: images/{} does not match its recorded SHA-256",
                names[1]
            )),
            "{run}"
        );
        assert!(run.stdout.contains("2 problem(s) in 5 samples\n"), "{run}");
    }
    assert_eq!(
        common::count_rows(&data.paths),
        5,
        "rows are never dropped to make check pass"
    );
}

#[test]
fn pending_and_torn_leftovers_of_a_crash_are_finished_on_open() {
    let data = five_samples();
    // A PNG written under its pending name whose row never committed: never acknowledged.
    let pending = data
        .paths
        .pending_image("digit_6_20200101T000000000000Z.png");
    std::fs::write(&pending, b"half a png").unwrap();
    let run = run_on(&data.paths, "check", &[]);
    assert_ok(&run, 5);
    assert!(
        run.stdout
            .contains("recovered: removed 1 pending image(s) of samples never stored"),
        "{run}"
    );
    assert!(
        !pending.exists(),
        "an unacknowledged pending file is removed"
    );
    assert_eq!(common::count_files(&data.paths.images()), 5);

    // A committed sample whose PNG was not yet renamed into place (killed between the steps).
    let name = common::image_names(&data.paths)[3].clone();
    let sum = common::file_sha256(&data.paths.image(&name));
    std::fs::rename(data.paths.image(&name), data.paths.pending_image(&name)).unwrap();
    let run = run_on(&data.paths, "check", &[]);
    assert_ok(&run, 5);
    assert!(
        run.stdout.contains(
            "recovered: moved 1 stored sample image(s) from their pending names into place"
        ),
        "{run}"
    );
    assert_eq!(common::file_sha256(&data.paths.image(&name)), sum);
}

// ---------------------------------------------------------------------------
// User errors: one plain line on stderr, exit 1.

#[test]
fn bad_flags_are_one_plain_line_and_exit_1() {
    let data = five_samples();
    let root = data.paths.root.to_str().unwrap();
    for args in [
        vec!["stats", "--bogus"],
        vec!["frobnicate"],
        vec!["stats", "--data"],
        vec!["check", "--repair=yes"],
        vec!["--data", root, "stats", "extra"],
    ] {
        let run = run_bin(&args);
        run.expect_code(1).expect_one_plain_error_line();
        assert!(run.stderr.starts_with("digit-kiosk: "), "{args:?}\n{run}");
        assert!(run.stdout.is_empty(), "{args:?}\n{run}");
    }
}

#[test]
fn unreadable_folders_are_one_plain_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let a_file = dir.path().join("not-a-folder");
    std::fs::write(&a_file, b"x").unwrap();
    let missing = dir.path().join("missing");
    let garbage = dir.path().join("garbage");
    std::fs::create_dir_all(garbage.join("images")).unwrap();
    std::fs::write(garbage.join("digits.db"), vec![b'x'; 4096]).unwrap();
    let newer = TempData::new();
    newer.collector().shutdown();
    rusqlite::Connection::open(newer.paths.db())
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();

    let cases: [(&std::path::Path, &str); 4] = [
        (&a_file, "not-a-folder"),
        (&missing, "missing"),
        (&garbage, "digits.db"),
        (&newer.paths.root, "newer"),
    ];
    for (folder, words) in cases {
        for cmd in ["stats", "check"] {
            let run = run_on(&DataPaths::new(folder), cmd, &[]);
            run.expect_code(1).expect_one_plain_error_line();
            assert!(
                run.stderr.contains(words),
                "{cmd} {}: should say `{words}`\n{run}",
                folder.display()
            );
        }
    }
    assert!(
        !missing.exists(),
        "reading a missing folder does not create it"
    );
}

#[test]
fn the_binary_is_the_same_store_the_library_writes() {
    // `check` after a library write in the same folder, then a write after `check`.
    let data = five_samples();
    assert_ok(&run_on(&data.paths, "check", &[]), 5);
    let collector = data.collector();
    submit_strokes(&collector, 0, &[(140.0, 40.0), (140.0, 240.0)]);
    collector.shutdown();
    assert_ok(&run_on(&data.paths, "check", &[]), 6);
}
