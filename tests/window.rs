//! The real binary in a real X server: Xvfb, the window drawn on with
//! xdotool, `4` and `Enter` pressed, and the sample found in the data folder.
//! Skips where Xvfb or xdotool is missing, unless DIGIT_KIOSK_REQUIRE_XVFB=1
//! (CI sets it), which turns the skip into a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_xvfb() -> (Killed, String) {
    let n = 100 + std::process::id() % 800;
    let display = format!(":{n}");
    let child = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x900x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let socket = format!("/tmp/.X11-unix/X{n}");
    wait_until("Xvfb", Duration::from_secs(10), || {
        Path::new(&socket).exists()
    });
    (Killed(child), display)
}

#[test]
fn draw_a_four_in_the_real_window_under_xvfb() {
    if !(have("Xvfb") && have("xdotool")) {
        assert!(
            std::env::var_os("DIGIT_KIOSK_REQUIRE_XVFB").is_none(),
            "DIGIT_KIOSK_REQUIRE_XVFB is set but Xvfb or xdotool is missing (apt-get install xvfb xdotool)"
        );
        eprintln!("skipped: Xvfb or xdotool not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (_xvfb, display) = start_xvfb();
    let _kiosk = Killed(
        Command::new(env!("CARGO_BIN_EXE_digit-kiosk"))
            .arg("--data")
            .arg(&data)
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut window = String::new();
    wait_until("the window", Duration::from_secs(30), || {
        window = xdotool(&display, &["search", "--name", "Digit Kiosk"])
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        !window.is_empty()
    });
    // No window manager: focus it ourselves, once it is mapped.
    wait_until("keyboard focus", Duration::from_secs(10), || {
        Command::new("xdotool")
            .args(["windowfocus", "--sync", &window])
            .env("DISPLAY", &display)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    // A "4": down-left stroke, across, then the long vertical. The canvas
    // fills the window's left part from (8, 8).
    for stroke in [
        [(200, 100), (120, 380), (420, 380)],
        [(340, 160), (340, 600), (340, 600)],
    ] {
        let (x, y) = stroke[0];
        xdotool(
            &display,
            &[
                "mousemove",
                &x.to_string(),
                &y.to_string(),
                "mousedown",
                "1",
            ],
        );
        for pair in stroke.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            for i in 1..=10 {
                let (x, y) = (x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10);
                xdotool(&display, &["mousemove", &x.to_string(), &y.to_string()]);
            }
        }
        xdotool(&display, &["mouseup", "1"]);
    }
    xdotool(&display, &["key", "4"]);
    xdotool(&display, &["key", "Return"]);

    let db = data.join("digits.db");
    let mut row: Option<(String, i64)> = None;
    wait_until("the stored sample", Duration::from_secs(20), || {
        let Ok(conn) = rusqlite::Connection::open(&db) else {
            return false;
        };
        row = conn
            .query_row("SELECT filename, label FROM digit_samples", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        row.is_some()
    });
    let (filename, label) = row.unwrap();
    assert_eq!(label, 4);
    let png = image::open(data.join("images").join(&filename))
        .unwrap()
        .to_luma8();
    let ink = png.pixels().filter(|p| p.0[0] > 128).count();
    assert!(ink > 2000, "the drawn 4 is in the PNG ({ink} inked pixels)");
}

#[test]
fn without_a_display_it_says_so_in_one_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for display in [None, Some(":4242")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_digit-kiosk"));
        cmd.arg("--data")
            .arg(&data)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_CONFIG_HOME", tmp.path());
        match display {
            Some(d) => cmd.env("DISPLAY", d),
            None => cmd.env_remove("DISPLAY"),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one plain line: {stderr}");
        assert!(
            stderr.contains("digit-kiosk serve") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
    assert!(
        !data.join("images").exists()
            || std::fs::read_dir(data.join("images"))
                .unwrap()
                .next()
                .is_none()
    );
}
