//! The native station window (eframe/egui). It only draws, reads input and
//! calls [`crate::collector::Collector::submit`]; files and SQL are the
//! store's. `run` also turns a machine that cannot show a window (no display,
//! a missing system library) into one plain error instead of a panic.

pub mod app;
pub mod canvas;
pub mod picker;
pub mod qr;

use std::panic::{self, AssertUnwindSafe};

use eframe::egui;

pub use app::{KioskApp, WindowOptions};

use crate::collector::Collector;
use crate::error::{Error, Result};

/// Refuses early, before the data folder is touched, when there is no
/// display to open a window on.
pub fn ensure_display() -> Result<()> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err(Error::Usage(format!(
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); {HEADLESS_HINT}"
        )));
    }
    Ok(())
}

const HEADLESS_HINT: &str = "for a headless station run `digit-kiosk serve`";

/// Opens the window and runs until it is closed.
pub fn run(collector: Collector, options: WindowOptions) -> Result<()> {
    ensure_display()?;
    let viewport = egui::ViewportBuilder::default()
        .with_title("Digit Kiosk")
        .with_app_id("digit-kiosk")
        .with_inner_size([1100.0, 760.0])
        .with_min_inner_size([480.0, 600.0])
        .with_fullscreen(options.kiosk)
        .with_decorations(!options.kiosk);
    let native = eframe::NativeOptions {
        viewport,
        persistence_path: directories::ProjectDirs::from("", "", "digit-kiosk")
            .map(|dirs| dirs.config_dir().join("window.ron")),
        ..Default::default()
    };
    // winit and glutin panic on some missing libraries (libxkbcommon-x11);
    // silence the default hook so the user sees one line, not a backtrace.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        eframe::run_native(
            "Digit Kiosk",
            native,
            Box::new(move |cc| Ok(Box::new(KioskApp::new(cc, collector, options)))),
        )
    }));
    panic::set_hook(previous_hook);
    let message = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown failure".into()),
    };
    Err(Error::Usage(explain_startup_failure(&message)))
}

/// Names the Debian package behind a failure to open the window, where known.
pub fn explain_startup_failure(message: &str) -> String {
    // The libraries winit and glutin load at run time, in the order they fail.
    const KNOWN: &[(&str, &str)] = &[
        ("xkbcommon-x11", "libxkbcommon-x11-0"),
        ("xkbcommon", "libxkbcommon0"),
        ("Xcursor", "libxcursor1"),
        ("libXi", "libxi6"),
        ("libX11-xcb", "libx11-xcb1"),
        ("libX11", "libx11-6"),
        ("libEGL", "libegl1"),
        ("libGL", "libgl1 libglx-mesa0 libgl1-mesa-dri"),
    ];
    let first_line = message.lines().next().unwrap_or(message).trim();
    // winit puts its source location before the reason; the reason is what a person needs.
    let reason = first_line.rsplit(": ").next().unwrap_or(first_line);
    if let Some((_, package)) = KNOWN.iter().find(|(needle, _)| message.contains(needle)) {
        format!(
            "cannot open the window: a system library is missing (install `{package}`): {reason}; {HEADLESS_HINT}"
        )
    } else if message.contains("X server")
        || message.contains("XOpenDisplay")
        || message.contains("display")
    {
        let display = std::env::var("DISPLAY").unwrap_or_default();
        format!(
            "cannot open the window: no display answers at DISPLAY={display} ({reason}); {HEADLESS_HINT}"
        )
    } else {
        format!("cannot open the window: {reason}; {HEADLESS_HINT}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_package() {
        let m = explain_startup_failure(
            "winit EventLoopError: os error: libXcursor.so.1: cannot open shared object file; XNotSupported",
        );
        assert!(
            m.contains("libxcursor1") && m.contains("digit-kiosk serve"),
            "{m}"
        );
        let m = explain_startup_failure("Library libxkbcommon-x11.so could not be loaded.");
        assert!(m.contains("libxkbcommon-x11-0"), "{m}");
        let m = explain_startup_failure(
            "os error at winit/src/x.rs:788: Failed to open connection to X server",
        );
        assert!(
            m.contains("no display answers") && !m.contains("winit/src"),
            "{m}"
        );
    }
}
