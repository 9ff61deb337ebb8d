//! The real window, driven through egui_kittest: pointer events, buttons and
//! keys go through the same code a person's do, and the sample lands in a
//! real data folder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

mod common;

use digit_kiosk::collector::{Collector, Submission};
use digit_kiosk::store::{DataPaths, Source};
use digit_kiosk::ui::{KioskApp, WindowOptions};
use eframe::egui::{self, Event, Key, Modifiers, Pos2, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

struct Station {
    _dir: tempfile::TempDir,
    paths: DataPaths,
    collector: Collector,
}

fn station() -> Station {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::new(dir.path().join("data"));
    let collector = Collector::open(paths.clone()).unwrap();
    Station {
        _dir: dir,
        paths,
        collector,
    }
}

fn harness(station: &Station) -> Harness<'static, KioskApp> {
    let collector = station.collector.clone();
    Harness::builder()
        .with_size(Vec2::new(1100.0, 760.0))
        .build_eframe(move |cc| KioskApp::new(cc, collector, WindowOptions::default()))
}

fn canvas_rect(h: &Harness<'_, KioskApp>) -> egui::Rect {
    h.get_by_label("Drawing canvas").rect()
}

/// Canvas space (0..280) to screen space of the harness.
fn screen(rect: egui::Rect, x: f32, y: f32) -> Pos2 {
    rect.min + Vec2::new(x, y) * (rect.width() / 280.0)
}

/// A stroke whose moves all arrive in ONE frame, as a fast pen's do.
fn draw_in_one_frame(h: &mut Harness<'_, KioskApp>, points: &[(f32, f32)]) {
    let rect = canvas_rect(h);
    let events = &mut h.input_mut().events;
    let (first, rest) = points.split_first().unwrap();
    let start = screen(rect, first.0, first.1);
    events.push(Event::PointerMoved(start));
    events.push(Event::PointerButton {
        pos: start,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Default::default(),
    });
    for &(x, y) in rest {
        events.push(Event::PointerMoved(screen(rect, x, y)));
    }
    let end = rest
        .last()
        .map(|&(x, y)| screen(rect, x, y))
        .unwrap_or(start);
    events.push(Event::PointerButton {
        pos: end,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Default::default(),
    });
    h.step();
    h.run();
}

fn wait_for_status(h: &mut Harness<'_, KioskApp>, text: &str) {
    for _ in 0..200 {
        // One frame at a time: the background thread's repaint request may
        // land in any frame, which `run()` would count against its step limit.
        h.step();
        if h.query_by_label_contains(text).is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("status never showed {text:?}");
}

fn stored(paths: &DataPaths) -> Vec<(String, i64, String)> {
    let conn = rusqlite::Connection::open(paths.db()).unwrap();
    let mut stmt = conn
        .prepare("SELECT filename, label, strokes FROM digit_samples ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn file_count(paths: &DataPaths) -> usize {
    std::fs::read_dir(paths.images())
        .map(|d| d.count())
        .unwrap_or(0)
}

fn csv_lines(paths: &DataPaths) -> usize {
    std::fs::read_to_string(paths.csv())
        .unwrap()
        .lines()
        .count()
}

#[test]
fn a_fast_stroke_keeps_every_point_and_submits_with_ink_where_it_went() {
    let st = station();
    let mut h = harness(&st);
    // A diagonal of 40 points delivered in a single frame.
    let points: Vec<(f32, f32)> = (0..40)
        .map(|i| (40.0 + i as f32 * 5.0, 40.0 + i as f32 * 5.0))
        .collect();
    draw_in_one_frame(&mut h, &points);
    let strokes = &h.state().canvas_strokes();
    assert_eq!(strokes.len(), 1);
    assert_eq!(
        strokes[0].points.len(),
        40,
        "every pointer event of the frame is kept"
    );

    h.get_by_label("7").click();
    h.run();
    h.get_by_label("Submit").click();
    wait_for_status(&mut h, "Saved 7");

    let rows = stored(&st.paths);
    assert_eq!(rows.len(), 1);
    let (filename, label, strokes_json) = &rows[0];
    assert_eq!(*label, 7);
    let strokes: serde_json::Value = serde_json::from_str(strokes_json).unwrap();
    assert_eq!(strokes[0]["points"].as_array().unwrap().len(), 40);
    assert_eq!(strokes[0]["pointer"], "mouse");

    let png = image::open(st.paths.image(filename)).unwrap().to_luma8();
    assert_eq!(png.dimensions(), (280, 280));
    assert_eq!(png.get_pixel(140, 140).0[0], 255, "ink along the drag");
    assert_eq!(png.get_pixel(240, 40).0[0], 0, "no ink away from it");
    assert_eq!(csv_lines(&st.paths), 2, "header and one row");
    assert!(
        std::fs::read_to_string(st.paths.csv())
            .unwrap()
            .contains(filename.as_str())
    );

    h.run();
    assert!(h.query_by_label("Total: 1").is_some(), "the count shows 1");
    assert!(
        h.state().canvas_strokes().is_empty(),
        "canvas cleared after submit"
    );
}

#[test]
fn keyboard_picks_submits_undoes_and_clears() {
    let st = station();
    let mut h = harness(&st);
    draw_in_one_frame(&mut h, &[(100.0, 60.0), (100.0, 220.0)]);
    draw_in_one_frame(&mut h, &[(60.0, 60.0), (140.0, 60.0)]);
    assert_eq!(h.state().canvas_strokes().len(), 2);
    h.key_press(Key::Backspace);
    h.run();
    assert_eq!(
        h.state().canvas_strokes().len(),
        1,
        "Backspace undoes one stroke"
    );
    h.key_press(Key::Num4);
    h.run();
    h.key_press(Key::Enter);
    wait_for_status(&mut h, "Saved 4");
    assert_eq!(stored(&st.paths).len(), 1);
    assert_eq!(stored(&st.paths)[0].1, 4);

    draw_in_one_frame(&mut h, &[(100.0, 60.0), (100.0, 220.0)]);
    h.key_press(Key::Escape);
    h.run();
    assert!(h.state().canvas_strokes().is_empty(), "Escape clears");
}

#[test]
fn submit_without_drawing_or_without_a_digit_is_refused_and_writes_nothing() {
    let st = station();
    let mut h = harness(&st);
    h.get_by_label("3").click();
    h.run();
    h.get_by_label("Submit").click();
    h.run();
    assert!(
        h.query_by_label_contains("Draw a digit on the canvas first")
            .is_some()
    );

    let st2 = station();
    let mut h2 = harness(&st2);
    draw_in_one_frame(&mut h2, &[(100.0, 60.0), (100.0, 220.0)]);
    h2.get_by_label("Submit").click();
    h2.run();
    assert!(h2.query_by_label_contains("Choose which digit").is_some());
    assert_eq!(h2.state().canvas_strokes().len(), 1, "the drawing is kept");

    for s in [&st, &st2] {
        assert!(stored(&s.paths).is_empty());
        assert_eq!(file_count(&s.paths), 0);
        assert_eq!(csv_lines(&s.paths), 1, "header only");
    }
}

#[test]
fn undo_and_clear_buttons() {
    let st = station();
    let mut h = harness(&st);
    draw_in_one_frame(&mut h, &[(100.0, 60.0), (100.0, 220.0)]);
    draw_in_one_frame(&mut h, &[(60.0, 60.0), (140.0, 60.0)]);
    h.get_by_label("Undo").click();
    h.run();
    assert_eq!(h.state().canvas_strokes().len(), 1);
    h.get_by_label("Clear").click();
    h.run();
    assert!(h.state().canvas_strokes().is_empty());
}

#[test]
fn a_tap_is_a_dot_and_a_failed_save_keeps_the_drawing() {
    let st = station();
    let mut h = harness(&st);
    draw_in_one_frame(&mut h, &[(140.0, 140.0)]);
    assert_eq!(h.state().canvas_strokes()[0].points.len(), 1);
    // The writer stops (as when the station shuts down); the drawing must survive.
    st.collector.shutdown();
    h.key_press(Key::Num1);
    h.run();
    h.key_press(Key::Enter);
    wait_for_status(&mut h, "Not saved");
    assert_eq!(
        h.state().canvas_strokes().len(),
        1,
        "drawing kept after a failed save"
    );
    assert!(stored(&st.paths).is_empty());
}

#[test]
fn a_browser_submission_moves_the_window_counts_and_the_url_is_shown() {
    use std::io::{Read, Write};
    let st = station();
    let config = digit_kiosk::web::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        lan: false,
        rate_limit_per_min: 0,
        body_limit: digit_kiosk::web::DEFAULT_BODY_LIMIT,
    };
    let server = digit_kiosk::web::Server::start(st.collector.clone(), &config).unwrap();
    let urls = server.urls();
    let collector = st.collector.clone();
    let options = WindowOptions {
        served_urls: urls.clone(),
        ..WindowOptions::default()
    };
    let mut h = Harness::builder()
        .with_size(Vec2::new(1100.0, 900.0))
        .build_eframe(move |cc| KioskApp::new(cc, collector, options));
    h.run();
    assert!(h.query_by_label(&urls[0]).is_some(), "the URL as text");
    assert!(
        h.query_by_label(&format!("QR code for {}", urls[0]))
            .is_some(),
        "and as a QR code"
    );
    assert!(h.query_by_label("Total: 0").is_some());

    let body = r#"{"label": 3, "strokes": [[[100, 50, 0], [100, 230, 120]]]}"#;
    let mut tcp = std::net::TcpStream::connect(server.local_addr()).unwrap();
    write!(
        tcp,
        "POST /api/samples HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    h.run();
    assert!(
        h.query_by_label("Total: 1").is_some(),
        "the web sample shows in the window"
    );
    server.stop();
}

#[test]
fn kiosk_mode_cancels_close_requests_and_leaves_only_after_a_three_second_hold() {
    use egui::{ViewportCommand, ViewportEvent, ViewportId};
    use std::time::{Duration, Instant};
    let st = station();
    let collector = st.collector.clone();
    let options = WindowOptions {
        kiosk: true,
        ..WindowOptions::default()
    };
    let mut h = Harness::builder()
        .with_size(Vec2::new(1100.0, 760.0))
        .build_eframe(move |cc| KioskApp::new(cc, collector, options));
    h.run();
    let commands = |h: &Harness<'_, KioskApp>| {
        h.output()
            .viewport_output
            .get(&ViewportId::ROOT)
            .map(|v| v.commands.clone())
            .unwrap_or_default()
    };

    // Alt+F4 or the window manager's close: cancelled.
    h.input_mut()
        .viewports
        .entry(ViewportId::ROOT)
        .or_default()
        .events
        .push(ViewportEvent::Close);
    h.step();
    assert!(
        commands(&h).contains(&ViewportCommand::CancelClose),
        "{:?}",
        commands(&h)
    );

    // Holding the corner control: nothing before three seconds, Close after.
    let pos = h.get_by_label("Hold to exit").rect().center();
    eprintln!("hold control at {pos:?}");
    h.hover_at(pos);
    h.drag_at(pos);
    let held = Instant::now();
    let closed_after = loop {
        h.step();
        if commands(&h).contains(&ViewportCommand::Close) {
            break held.elapsed();
        }
        assert!(
            held.elapsed() < Duration::from_secs(6),
            "never closed; counting down: {}",
            h.query_by_label_contains("Exit in").is_some()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        closed_after >= Duration::from_secs(3),
        "closed after only {closed_after:?}"
    );
}

/// What `check` finds once the window's collector has stopped.
fn check_problems(st: &Station) -> Vec<String> {
    st.collector.shutdown();
    let report = digit_kiosk::check::run(&st.paths, false).unwrap();
    report.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn undo_last_submit_removes_the_sample_and_puts_the_drawing_back() {
    let st = station();
    let mut h = harness(&st);
    assert!(
        h.query_by_label("Undo last submit").is_none(),
        "nothing to undo before a submit"
    );
    draw_in_one_frame(&mut h, &[(100.0, 60.0), (100.0, 220.0)]);
    draw_in_one_frame(&mut h, &[(60.0, 60.0), (140.0, 60.0)]);
    let drawn = h.state().canvas_strokes().to_vec();
    h.get_by_label("7").click();
    h.run();
    h.get_by_label("Submit").click();
    wait_for_status(&mut h, "Saved 7");
    let filename = stored(&st.paths)[0].0.clone();
    assert!(h.state().canvas_strokes().is_empty());
    assert!(h.query_by_label("Total: 1").is_some());

    h.get_by_label("Undo last submit").click();
    wait_for_status(&mut h, "Removed 7");
    assert!(
        h.query_by_label(&format!("Removed 7 — {filename} (moved to trash/)"))
            .is_some(),
        "the status line names the file and where it went"
    );
    assert!(stored(&st.paths).is_empty(), "the row is gone");
    assert_eq!(file_count(&st.paths), 0, "images/ is empty");
    assert!(
        st.paths.trash().join(&filename).is_file(),
        "the PNG is in trash/"
    );
    assert_eq!(csv_lines(&st.paths), 1, "labels.csv is back to its header");
    assert!(
        !std::fs::read_to_string(st.paths.csv())
            .unwrap()
            .contains(filename.as_str())
    );
    assert!(
        h.query_by_label("Total: 0").is_some(),
        "the count is back to 0"
    );
    assert_eq!(st.collector.counts(), [0; 10]);
    assert_eq!(
        h.state().canvas_strokes(),
        drawn.as_slice(),
        "the drawing is back on the canvas"
    );
    assert!(
        h.query_by_label("Undo last submit").is_none(),
        "nothing left to undo"
    );

    // Fix the label and submit the same drawing again.
    h.get_by_label("1").click();
    h.run();
    h.get_by_label("Submit").click();
    wait_for_status(&mut h, "Saved 1");
    let rows = stored(&st.paths);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, 1);
    assert_eq!(csv_lines(&st.paths), 2, "header and the new row");
    assert_eq!(file_count(&st.paths), 1);
    h.run();
    assert!(h.query_by_label("Total: 1").is_some());
    assert_eq!(
        check_problems(&st),
        Vec::<String>::new(),
        "check finds nothing wrong"
    );
}

#[test]
fn ctrl_z_takes_back_only_this_windows_submits_of_this_session() {
    let st = station();
    let mut h = harness(&st);
    let ctrl_z = |h: &mut Harness<'_, KioskApp>| {
        h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
        h.run();
    };
    // A browser's sample is never the window's to undo.
    let web = Submission {
        source: Source::Web,
        client: "192.0.2.7".into(),
        ..common::strokes_submission(3, &[(90.0, 40.0), (90.0, 240.0)])
    };
    st.collector.submit(web).unwrap();
    ctrl_z(&mut h);
    assert!(h.query_by_label_contains("Nothing to undo").is_some());
    assert_eq!(stored(&st.paths).len(), 1);

    draw_in_one_frame(&mut h, &[(100.0, 60.0), (100.0, 220.0)]);
    h.key_press(Key::Num4);
    h.run();
    h.key_press(Key::Enter);
    wait_for_status(&mut h, "Saved 4");
    // A browser submits after the window: Ctrl+Z still takes back the window's own sample.
    let web = Submission {
        source: Source::Web,
        client: "192.0.2.7".into(),
        ..common::strokes_submission(5, &[(40.0, 40.0), (240.0, 240.0)])
    };
    st.collector.submit(web).unwrap();

    // With a new drawing on the canvas it asks for the canvas to be cleared first.
    draw_in_one_frame(&mut h, &[(60.0, 60.0), (140.0, 60.0)]);
    ctrl_z(&mut h);
    assert!(
        h.query_by_label_contains("Clear the canvas first")
            .is_some()
    );
    assert_eq!(stored(&st.paths).len(), 3, "nothing removed");
    h.key_press(Key::Escape);
    h.run();
    ctrl_z(&mut h);
    wait_for_status(&mut h, "Removed 4");
    let labels: Vec<i64> = stored(&st.paths).iter().map(|r| r.1).collect();
    assert_eq!(labels, [3, 5], "only the window's sample is gone");
    assert_eq!(h.state().canvas_strokes().len(), 1);

    // A new participant cannot take back the previous one's samples.
    h.key_press(Key::Enter);
    wait_for_status(&mut h, "Saved 4");
    h.get_by_label("New participant").click();
    h.run();
    assert!(h.query_by_label("Undo last submit").is_none());
    ctrl_z(&mut h);
    assert!(h.query_by_label_contains("Nothing to undo").is_some());
    assert_eq!(stored(&st.paths).len(), 3);
    assert_eq!(check_problems(&st), Vec::<String>::new());
}
