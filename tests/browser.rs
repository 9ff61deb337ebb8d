//! The drawing page in a real browser: Debian's chromium driven through
//! chromedriver (fantoccini), drawing with mouse, touch and pen actions,
//! choosing the digit and submitting, then finding the stored PNG with ink
//! along the drawn path and the pointer type in the stored strokes.
//!
//! Skips with a printed reason where chromedriver or chromium is missing,
//! unless `DIGIT_KIOSK_REQUIRE_BROWSER=1` (CI sets it), which turns the skip
//! into a failure. With `DIGIT_KIOSK_SCREENSHOTS=<dir>` it also saves the
//! page at phone and laptop sizes there.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TempData;
use digit_kiosk::web::{ServeConfig, Server};
use fantoccini::actions::{
    InputSource, MOUSE_BUTTON_LEFT, MouseActions, PenActions, PointerAction, TouchActions,
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A "7" in canvas space: across the top, then down to the left.
const SEVEN: [(f64, f64); 3] = [(60.0, 60.0), (220.0, 60.0), (120.0, 235.0)];

/// A chromedriver we started, in its own process group, shut down on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("chromedriver stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("chromedriver said nothing")
                .expect("read chromedriver output");
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest
                    .trim_end_matches('.')
                    .trim()
                    .parse()
                    .expect("a port number");
            }
        };
        // Keep reading its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // As FIELD-NOTES says: ask it to shut down, then end its process
        // group, or Chromium processes outlive the test.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port)).and_then(|mut s| {
            use std::io::Write;
            s.write_all(b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        });
        std::thread::sleep(Duration::from_millis(300));
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// `true` when the browser is there; otherwise says why and, when CI
/// requires the browser, fails.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} not installed (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("DIGIT_KIOSK_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "browser test required: {why}"
    );
    eprintln!("skipping the browser test: {why}");
    false
}

async fn connect(driver: &Driver, profile: &Path) -> Client {
    let args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ]
    .into_iter()
    .map(str::to_string)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("open a chromium session")
}

/// The canvas's box in the viewport: left, top, side.
async fn canvas_box(client: &Client) -> (f64, f64, f64) {
    let v = client
        .execute(
            "const c = document.getElementById('canvas'); const r = c.getBoundingClientRect();
             return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth];",
            vec![],
        )
        .await
        .expect("measure the canvas");
    let n = |i: usize| v[i].as_f64().expect("a number");
    (n(0), n(1), n(2))
}

/// The pointer moves of a drag along `path` (canvas space), one every ~20
/// viewport pixels (a move with a duration gives a single pointermove).
fn drag<S: InputSource<Action = PointerAction>>(
    source: S,
    path: &[(f64, f64)],
    canvas: (f64, f64, f64),
) -> S {
    let (left, top, side) = canvas;
    let to_view = |(x, y): (f64, f64)| (left + x * side / 280.0, top + y * side / 280.0);
    let (x0, y0) = to_view(path[0]);
    let mut s = source
        .then(PointerAction::MoveTo {
            duration: None,
            x: x0.round(),
            y: y0.round(),
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        });
    for pair in path.windows(2) {
        let (a, b) = (to_view(pair[0]), to_view(pair[1]));
        let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 20.0).ceil().max(1.0) as usize;
        for i in 1..=steps {
            let f = i as f64 / steps as f64;
            let (x, y) = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
            s = s.then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(5)),
                x: x.round(),
                y: y.round(),
            });
        }
    }
    s.then(PointerAction::Up {
        button: MOUSE_BUTTON_LEFT,
    })
}

async fn status_text(client: &Client) -> String {
    let el = client
        .find(Locator::Id("status"))
        .await
        .expect("the status line");
    el.text().await.expect("status text")
}

/// Draws a 7 with `pointer`, picks 7, submits, and waits for "Saved".
async fn draw_and_submit(client: &Client, base: &str, pointer: &str) -> String {
    client.goto(base).await.expect("open the page");
    client
        .wait()
        .for_element(Locator::Css("#canvas"))
        .await
        .expect("the canvas");
    let canvas = canvas_box(client).await;
    let result = match pointer {
        "mouse" => {
            client
                .perform_actions(drag(MouseActions::new("mouse".into()), &SEVEN, canvas))
                .await
        }
        "touch" => {
            client
                .perform_actions(drag(TouchActions::new("finger".into()), &SEVEN, canvas))
                .await
        }
        _ => {
            client
                .perform_actions(drag(PenActions::new("pen".into()), &SEVEN, canvas))
                .await
        }
    };
    result.expect("draw on the canvas");
    let points: Value = client
        .execute("return window.scrollY;", vec![])
        .await
        .expect("read the scroll position");
    assert_eq!(
        points.as_f64(),
        Some(0.0),
        "{pointer}: the page must not scroll while drawing"
    );
    client
        .find(Locator::Css(".digit[data-digit='7']"))
        .await
        .expect("the 7 button")
        .click()
        .await
        .expect("choose 7");
    client
        .find(Locator::Id("submit"))
        .await
        .expect("the Submit button")
        .click()
        .await
        .expect("submit");
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let status = status_text(client).await;
        if status.starts_with("Saved") {
            return status;
        }
        assert!(
            Instant::now() < give_up,
            "{pointer}: no 'Saved' in the status line: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draws_with_mouse_touch_and_pen_and_the_station_stores_it() {
    if !browser_available() {
        return;
    }
    let data = TempData::new();
    let collector = data.collector();
    let config = ServeConfig {
        addr: "127.0.0.1:0".parse().expect("an address"),
        ..ServeConfig::default()
    };
    let server = Server::start(collector.clone(), &config).expect("start the server");
    let base = format!("http://{}/", server.local_addr());
    let driver = Driver::start();
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let client = connect(&driver, profile.path()).await;
    client
        .set_window_size(1280, 800)
        .await
        .expect("size the window");

    for (n, pointer) in ["mouse", "touch", "pen"].into_iter().enumerate() {
        let status = draw_and_submit(&client, &base, pointer).await;
        let filename = status
            .split(" — ")
            .nth(1)
            .expect("the file name in the status")
            .trim()
            .to_string();
        assert!(filename.starts_with("digit_7_"), "{status}");

        // The PNG: ink along the drawn path, black away from it.
        let png = image::open(data.paths.image(&filename))
            .expect("the stored PNG")
            .into_luma8();
        assert_eq!(png.dimensions(), (280, 280));
        for (x, y) in [(60, 60), (140, 60), (220, 60), (170, 148), (125, 226)] {
            let ink = png.get_pixel(x, y).0[0];
            assert!(
                ink > 150,
                "{pointer}: no ink at ({x}, {y}) on the drawn path ({ink})"
            );
        }
        for (x, y) in [(30, 250), (250, 250), (40, 150)] {
            assert_eq!(
                png.get_pixel(x, y).0[0],
                0,
                "{pointer}: ink at ({x}, {y}), off the path"
            );
        }
        // The strokes, with the pointer type, many points (coalesced events) and a session.
        let (strokes, session): (String, String) = common::open_db(&data.paths)
            .query_row(
                "SELECT strokes, session FROM digit_samples WHERE filename = ?1",
                [&filename],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the row");
        let strokes: Value = serde_json::from_str(&strokes).expect("strokes JSON");
        assert_eq!(
            strokes.as_array().map(Vec::len),
            Some(1),
            "{pointer}: one stroke"
        );
        assert_eq!(strokes[0]["pointer"], pointer, "{strokes}");
        let points = strokes[0]["points"].as_array().expect("points");
        assert!(
            points.len() >= 15,
            "{pointer}: only {} points",
            points.len()
        );
        assert!(session.starts_with("web-"), "{session}");
        let csv = common::csv_records(&data.paths).1;
        assert_eq!(csv.len(), n + 1);
        assert_eq!(collector.counts()[7], n as u64 + 1);
    }

    // The counts on the page follow the station's.
    let total = client
        .find(Locator::Id("total"))
        .await
        .expect("the total")
        .text()
        .await
        .expect("its text");
    assert!(total.starts_with('3'), "{total:?}");

    // A failed submit keeps the drawing and says why: the station stops.
    client.goto(&base).await.expect("reload");
    let canvas = canvas_box(&client).await;
    client
        .perform_actions(drag(MouseActions::new("mouse".into()), &SEVEN, canvas))
        .await
        .expect("draw again");
    if let Ok(dir) = std::env::var("DIGIT_KIOSK_SCREENSHOTS") {
        screenshots(&client, &base, Path::new(&dir)).await;
    }
    server.stop();
    client
        .find(Locator::Css(".digit[data-digit='1']"))
        .await
        .expect("1")
        .click()
        .await
        .expect("choose 1");
    client
        .find(Locator::Id("submit"))
        .await
        .expect("Submit")
        .click()
        .await
        .expect("submit");
    let give_up = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = status_text(&client).await;
        if status.contains("kept") {
            break status;
        }
        assert!(Instant::now() < give_up, "no failure message: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let strokes_left: Value = client
        .execute(
            "return document.getElementById('placeholder').classList.contains('hidden');",
            vec![],
        )
        .await
        .expect("read the page");
    assert_eq!(
        strokes_left,
        json!(true),
        "the drawing stays after a failed submit: {status}"
    );
    assert_eq!(common::count_rows(&data.paths), 3);

    client.close().await.expect("close the session");
    drop(driver);
    collector.shutdown();
}

/// Saves the page with a drawing at phone and laptop sizes.
async fn screenshots(client: &Client, base: &str, dir: &Path) {
    std::fs::create_dir_all(dir).expect("the screenshot folder");
    for (name, w, h) in [("page-phone.png", 390, 844), ("page-laptop.png", 1280, 800)] {
        client.set_window_size(w, h).await.expect("size the window");
        // Make the viewport (not the window) the size asked for.
        let inner = client
            .execute("return [innerWidth, innerHeight];", vec![])
            .await
            .expect("viewport");
        let extra = |i: usize, want: u32| {
            want.saturating_sub(inner[i].as_u64().unwrap_or(u64::from(want)) as u32)
        };
        client
            .set_window_size(w + extra(0, w), h + extra(1, h))
            .await
            .expect("size the window");
        client.goto(base).await.expect("reload");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let canvas = canvas_box(client).await;
        let four = [(70.0, 40.0), (50.0, 170.0), (200.0, 170.0)];
        client
            .perform_actions(drag(PenActions::new("pen".into()), &four, canvas))
            .await
            .expect("draw");
        let bar = [(165.0, 70.0), (165.0, 245.0)];
        client
            .perform_actions(drag(PenActions::new("pen".into()), &bar, canvas))
            .await
            .expect("draw");
        client
            .find(Locator::Css(".digit[data-digit='4']"))
            .await
            .expect("4")
            .click()
            .await
            .expect("choose 4");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let png = client.screenshot().await.expect("a screenshot");
        std::fs::write(dir.join(name), png).expect("save the screenshot");
    }
    client
        .set_window_size(1280, 800)
        .await
        .expect("size the window");
    client.goto(base).await.expect("reload");
    let canvas = canvas_box(client).await;
    client
        .perform_actions(drag(MouseActions::new("mouse".into()), &SEVEN, canvas))
        .await
        .expect("draw again");
}
