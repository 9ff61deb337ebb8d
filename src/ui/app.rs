//! The station window: UI state and layout only. Widgets record an
//! [`Action`]; actions are applied after layout; submitting goes through
//! [`Collector::submit`], and undoing the window's own last submit through
//! [`Collector::delete`], on a worker thread so the window never freezes.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use eframe::egui::{self, Color32, Key, RichText, ViewportCommand};

use crate::collector::{Collector, Drawing, Session, Submission};
use crate::digit::Digit;
use crate::error::Result;
use crate::sketch::{Sketch, Stroke};
use crate::store::{Deleted, Receipt, Source};
use crate::ui::canvas::{self, CanvasState};
use crate::ui::picker::{self, ACCENT};

/// How long the exit control must be held in kiosk mode.
pub const EXIT_HOLD: Duration = Duration::from_secs(3);

/// Width of the controls column beside the canvas in a wide window.
const CONTROLS_WIDTH: f32 = 380.0;

/// How many of the window's own submits "Undo last submit" can take back,
/// newest first.
const UNDO_SUBMITS: usize = 20;

/// What the window was started with.
#[derive(Debug, Clone, Default)]
pub struct WindowOptions {
    /// Kiosk mode: fullscreen, no decorations, leaving takes a held control.
    pub kiosk: bool,
    /// Addresses where the page is served, shown as text and QR codes.
    pub served_urls: Vec<String>,
    /// When the process started; with it, the window reports on stderr the
    /// time to its first frame and from each Submit to its saved status
    /// (`DIGIT_KIOSK_TIMINGS=1`, used by `benches/window.sh`).
    pub timings_since: Option<Instant>,
}

/// A user intent, recorded by widgets and keys, applied after layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Choose(Digit),
    Undo,
    Clear,
    Submit,
    UndoSubmit,
    NewParticipant,
}

/// The status line.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Hint(String),
    Saving,
    Saved(Receipt),
    Removing,
    Removed(Deleted),
    Failed(String),
}

/// What the window remembers between runs (never samples).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Prefs {
    chosen: Option<u8>,
}

struct InFlight {
    strokes: Vec<Stroke>,
    answer: Receiver<Result<Receipt>>,
    since: Instant,
}

/// A sample this window stored in this session, with the strokes it was
/// drawn with, so undoing it can put the drawing back.
struct Submitted {
    receipt: Receipt,
    strokes: Vec<Stroke>,
}

/// An "Undo last submit" waiting for the writer.
struct Undoing {
    submitted: Submitted,
    answer: Receiver<Result<Deleted>>,
}

/// The eframe app of the station.
pub struct KioskApp {
    collector: Collector,
    options: WindowOptions,
    canvas: CanvasState,
    chosen: Option<Digit>,
    status: Status,
    session: Session,
    in_flight: Option<InFlight>,
    /// The window's own submits of this session, oldest first: the only
    /// samples it can undo (never a browser's).
    submitted: Vec<Submitted>,
    undoing: Option<Undoing>,
    exit_held_since: Option<Instant>,
    exit_unlocked: bool,
    first_frame_shown: bool,
}

impl KioskApp {
    /// Builds the app; a web submission (another thread) repaints the window
    /// so the counts move while a class submits.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        collector: Collector,
        options: WindowOptions,
    ) -> Self {
        let ctx = cc.egui_ctx.clone();
        collector.on_change(move || ctx.request_repaint());
        cc.egui_ctx.set_visuals(egui::Visuals::dark());
        let prefs: Prefs = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        Self {
            collector,
            options,
            canvas: CanvasState::default(),
            chosen: prefs.chosen.and_then(|d| Digit::try_from(d).ok()),
            status: Status::Hint("Pick a digit, draw it, then Submit".into()),
            session: Session::fresh("window"),
            in_flight: None,
            submitted: Vec::new(),
            undoing: None,
            exit_held_since: None,
            exit_unlocked: false,
            first_frame_shown: false,
        }
    }

    /// The strokes on the canvas now (for tests and the preview).
    pub fn canvas_strokes(&self) -> &[Stroke] {
        &self.canvas.strokes
    }

    fn apply(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::Choose(digit) => self.chosen = Some(digit),
            Action::Undo => self.canvas.undo(),
            Action::Clear => self.canvas.clear(),
            Action::Submit => self.submit(ctx),
            Action::UndoSubmit => self.undo_submit(ctx),
            Action::NewParticipant => {
                self.session = Session::fresh("window");
                self.submitted.clear(); // the next person cannot take back the last one's samples
                self.canvas.clear();
                self.status = Status::Hint("New participant: welcome!".into());
            }
        }
    }

    /// Whether a submit or an undo is waiting for the writer.
    fn busy(&self) -> bool {
        self.in_flight.is_some() || self.undoing.is_some()
    }

    fn submit(&mut self, ctx: &egui::Context) {
        if self.busy() {
            return;
        }
        let Some(label) = self.chosen else {
            self.status = Status::Hint("Choose which digit you drew (0–9) first".into());
            return;
        };
        if self.canvas.is_empty() {
            self.status = Status::Hint("Draw a digit on the canvas first".into());
            return;
        }
        let strokes = self.canvas.take();
        let sketch = match Sketch::new(strokes.clone()) {
            Ok(sketch) => sketch,
            Err(e) => {
                self.canvas.restore(strokes);
                self.status = Status::Failed(e.to_string());
                return;
            }
        };
        let submission = Submission {
            label,
            drawing: Drawing::Strokes(sketch),
            source: Source::Window,
            client: "127.0.0.1".into(),
            session: Some(self.session.clone()),
        };
        let collector = self.collector.clone();
        match in_background("window-submit", ctx, move || collector.submit(submission)) {
            Ok(answer) => {
                self.in_flight = Some(InFlight {
                    strokes,
                    answer,
                    since: Instant::now(),
                });
                self.status = Status::Saving;
            }
            Err(e) => {
                self.canvas.restore(strokes);
                self.status = Status::Failed(format!("cannot start saving: {e}"));
            }
        }
    }

    /// Takes the answer of a submit in flight, if it has come.
    fn poll_submit(&mut self) {
        let Some(result) = self.in_flight.as_ref().and_then(|f| answered(&f.answer)) else {
            return;
        };
        let Some(flight) = self.in_flight.take() else {
            return;
        };
        if self.options.timings_since.is_some() {
            eprintln!(
                "timing: submit->saved {:.2} ms",
                flight.since.elapsed().as_secs_f64() * 1000.0
            );
        }
        self.status = match result {
            Ok(receipt) => {
                if self.submitted.len() == UNDO_SUBMITS {
                    self.submitted.remove(0);
                }
                self.submitted.push(Submitted {
                    receipt: receipt.clone(),
                    strokes: flight.strokes,
                });
                Status::Saved(receipt)
            }
            Err(e) => {
                // Nothing is lost: the drawing comes back to be submitted again.
                self.canvas.restore(flight.strokes);
                Status::Failed(format!(
                    "Not saved: {e}. Your drawing is kept; try Submit again."
                ))
            }
        };
    }

    /// Removes the window's last stored sample (off the UI thread) and puts
    /// its drawing back on the canvas, to fix the label or the drawing.
    fn undo_submit(&mut self, ctx: &egui::Context) {
        if self.busy() {
            return;
        }
        if self.submitted.is_empty() {
            self.status =
                Status::Hint("Nothing to undo: no sample submitted from this window yet".into());
            return;
        }
        if !self.canvas.is_empty() {
            self.status = Status::Hint(
                "Clear the canvas first (Esc): undoing the last submit puts its drawing back"
                    .into(),
            );
            return;
        }
        let Some(submitted) = self.submitted.pop() else {
            return;
        };
        let (collector, id) = (self.collector.clone(), submitted.receipt.id);
        match in_background("window-undo", ctx, move || collector.delete(id)) {
            Ok(answer) => {
                self.undoing = Some(Undoing { submitted, answer });
                self.status = Status::Removing;
            }
            Err(e) => {
                self.submitted.push(submitted);
                self.status = Status::Failed(format!("cannot start removing: {e}"));
            }
        }
    }

    /// Takes the answer of an undo in flight, if it has come.
    fn poll_undo(&mut self) {
        let Some(result) = self.undoing.as_ref().and_then(|u| answered(&u.answer)) else {
            return;
        };
        let Some(Undoing { submitted, .. }) = self.undoing.take() else {
            return;
        };
        self.status = match result {
            Ok(deleted) => {
                self.canvas.restore(submitted.strokes);
                Status::Removed(deleted)
            }
            Err(e) => {
                if !matches!(e, crate::Error::NoSuchSample(_)) {
                    self.submitted.push(submitted); // still stored: it can be undone again
                }
                Status::Failed(format!("Not removed: {e}"))
            }
        };
    }

    fn keyboard_actions(ctx: &egui::Context) -> Vec<Action> {
        ctx.input(|i| {
            let mut actions = Vec::new();
            for event in &i.events {
                let egui::Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } = event
                else {
                    continue;
                };
                let action = match key {
                    Key::Z if modifiers.command => Some(Action::UndoSubmit),
                    Key::Enter => Some(Action::Submit),
                    Key::Backspace => Some(Action::Undo),
                    Key::Escape => Some(Action::Clear),
                    other => digit_of_key(*other).map(Action::Choose),
                };
                actions.extend(action);
            }
            actions
        })
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let counts = self.collector.counts();
        let suggested = picker::least_collected(&counts);
        ui.heading(RichText::new("Which digit did you draw?").size(22.0));
        if let Some(next) = suggested {
            ui.label(
                RichText::new(format!("Fewest so far: {next}. Draw that one if you can."))
                    .color(picker::SUGGESTED),
            );
        }
        ui.add_space(6.0);
        if let Some(digit) = picker::picker_ui(ui, self.chosen, suggested) {
            actions.push(Action::Choose(digit));
        }
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            let size = egui::vec2(96.0, 52.0);
            if ui
                .add(egui::Button::new(RichText::new("Undo").size(20.0)).min_size(size))
                .clicked()
            {
                actions.push(Action::Undo);
            }
            if ui
                .add(egui::Button::new(RichText::new("Clear").size(20.0)).min_size(size))
                .clicked()
            {
                actions.push(Action::Clear);
            }
            let submit = egui::Button::new(
                RichText::new("Submit")
                    .size(22.0)
                    .strong()
                    .color(Color32::WHITE),
            )
            .fill(ACCENT)
            .min_size(egui::vec2(ui.available_width(), 52.0));
            if ui.add_enabled(!self.busy(), submit).clicked() {
                actions.push(Action::Submit);
            }
        });
        ui.add_space(8.0);
        self.status_ui(ui);
        self.undo_submit_ui(ui, actions);
        ui.add_space(12.0);
        ui.label(RichText::new(format!("Total: {}", counts.iter().sum::<u64>())).size(18.0));
        picker::counts_ui(ui, &counts);
        ui.add_space(8.0);
        if ui
            .button("New participant")
            .on_hover_text("Start a new session for the next person")
            .clicked()
        {
            actions.push(Action::NewParticipant);
        }
        ui.label(
            RichText::new(
                "Keys: 0–9 choose · Enter submit · Backspace undo · Esc clear · Ctrl+Z undo submit",
            )
            .weak(),
        );
    }

    /// "Undo last submit", shown while this window has a sample of this
    /// session to take back.
    fn undo_submit_ui(&self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let Some(last) = self.submitted.last() else {
            return;
        };
        ui.add_space(4.0);
        let button = egui::Button::new(RichText::new("Undo last submit").size(18.0))
            .min_size(egui::vec2(0.0, 44.0));
        let hover = format!(
            "Removes {} — {} (its image goes to trash/) and puts its drawing back on the canvas",
            last.receipt.label, last.receipt.filename
        );
        if ui
            .add_enabled(!self.busy(), button)
            .on_hover_text(hover)
            .clicked()
        {
            actions.push(Action::UndoSubmit);
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        let (text, color) = match &self.status {
            Status::Hint(text) => (text.clone(), ui.visuals().text_color()),
            Status::Saving => ("Saving…".to_string(), ui.visuals().weak_text_color()),
            Status::Saved(r) => (
                format!("Saved {} — {}", r.label, r.filename),
                Color32::from_rgb(110, 210, 130),
            ),
            Status::Removing => ("Removing…".to_string(), ui.visuals().weak_text_color()),
            Status::Removed(d) => (removed_text(d), Color32::from_rgb(255, 196, 80)),
            Status::Failed(text) => (text.clone(), Color32::from_rgb(255, 110, 100)),
        };
        ui.add(egui::Label::new(RichText::new(text).size(16.0).color(color)).wrap());
    }

    /// Kiosk mode: a small control in the top-right corner that closes the
    /// window only after being held for [`EXIT_HOLD`]; every other close
    /// request (Alt+F4, the window manager) is cancelled.
    fn kiosk_exit_ui(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && !self.exit_unlocked {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
        }
        let held = egui::Area::new(egui::Id::unique("kiosk-exit"))
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-8.0, 8.0))
            .show(ctx, |ui| {
                let label = match self.exit_held_since {
                    Some(t) => format!(
                        "Exit in {:.0} s",
                        (EXIT_HOLD.saturating_sub(t.elapsed())).as_secs_f32().ceil()
                    ),
                    None => "Hold to exit".into(),
                };
                // A fixed size, so the control does not move under a finger as its text counts down.
                let size = egui::vec2(120.0, 32.0);
                let rect = ui
                    .add(
                        egui::Button::new(RichText::new(label).small().weak())
                            .frame(false)
                            .min_size(size),
                    )
                    .rect;
                ui.input(|i| {
                    let on = |p: Option<egui::Pos2>| p.is_some_and(|p| rect.contains(p));
                    i.pointer.primary_down()
                        && on(i.pointer.press_origin())
                        && on(i.pointer.interact_pos())
                })
            })
            .inner;
        match (held, self.exit_held_since) {
            (true, None) => self.exit_held_since = Some(Instant::now()),
            (true, Some(since)) if since.elapsed() >= EXIT_HOLD => {
                self.exit_unlocked = true;
                ctx.send_viewport_cmd(ViewportCommand::Close);
            }
            (true, Some(_)) => ctx.request_repaint_after(Duration::from_millis(100)),
            (false, _) => self.exit_held_since = None,
        }
    }

    fn served_ui(&self, ui: &mut egui::Ui) {
        if self.options.served_urls.is_empty() {
            return;
        }
        ui.separator();
        ui.label(RichText::new("Draw on your phone:").strong());
        for url in &self.options.served_urls {
            ui.label(RichText::new(url).monospace().size(16.0));
        }
        if let Some(url) = self.options.served_urls.first() {
            super::qr::qr_ui(ui, url, 150.0);
        }
    }
}

/// The status line after an undone submit: `Removed 7 — digit_7_….png (moved to trash/)`.
fn removed_text(deleted: &Deleted) -> String {
    let (label, name) = (deleted.sample.label, &deleted.sample.filename);
    match &deleted.trashed {
        Some(trashed) if trashed == name => format!("Removed {label} — {name} (moved to trash/)"),
        Some(trashed) => format!("Removed {label} — {name} (moved to trash/ as {trashed})"),
        None => format!("Removed {label} — {name} (its image was already missing)"),
    }
}

/// Runs a store operation on a named thread, so the window keeps drawing,
/// and wakes the window when its answer is ready.
fn in_background<T: Send + 'static>(
    name: &str,
    ctx: &egui::Context,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::io::Result<Receiver<Result<T>>> {
    let (reply, answer) = mpsc::channel();
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = reply.send(work()); // the window may have closed
            ctx.request_repaint();
        })?;
    Ok(answer)
}

/// The answer of a background operation, once it has come.
fn answered<T>(answer: &Receiver<Result<T>>) -> Option<Result<T>> {
    match answer.try_recv() {
        Ok(result) => Some(result),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => Some(Err(crate::Error::WriterStopped)),
    }
}

/// The digit a number key (top row or keypad) stands for.
fn digit_of_key(key: Key) -> Option<Digit> {
    let n: u8 = match key {
        Key::Num0 => 0,
        Key::Num1 => 1,
        Key::Num2 => 2,
        Key::Num3 => 3,
        Key::Num4 => 4,
        Key::Num5 => 5,
        Key::Num6 => 6,
        Key::Num7 => 7,
        Key::Num8 => 8,
        Key::Num9 => 9,
        _ => return None,
    };
    Digit::try_from(n).ok()
}

impl eframe::App for KioskApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if let (Some(launched), false) = (self.options.timings_since, self.first_frame_shown) {
            eprintln!(
                "timing: first frame {:.1} ms after launch",
                launched.elapsed().as_secs_f64() * 1000.0
            );
        }
        self.first_frame_shown = true;
        self.poll_submit();
        self.poll_undo();
        let mut actions = Self::keyboard_actions(&ctx);
        egui::CentralPanel::default().show(ui, |ui| {
            let available = ui.available_size();
            if available.x >= available.y {
                ui.horizontal_top(|ui| {
                    let side = canvas::square_side(egui::vec2(
                        available.x - CONTROLS_WIDTH - 16.0,
                        available.y,
                    ));
                    canvas::canvas_ui(ui, &mut self.canvas, side);
                    ui.vertical(|ui| {
                        ui.set_width(CONTROLS_WIDTH.min(ui.available_width()));
                        self.controls_ui(ui, &mut actions);
                        self.served_ui(ui);
                    });
                });
            } else {
                ui.vertical_centered(|ui| {
                    let side = canvas::square_side(egui::vec2(available.x, available.y - 430.0));
                    canvas::canvas_ui(ui, &mut self.canvas, side);
                });
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.controls_ui(ui, &mut actions);
                    self.served_ui(ui);
                });
            }
        });
        for action in actions {
            self.apply(action, &ctx);
        }
        if self.options.kiosk {
            self.kiosk_exit_ui(&ctx);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(
            storage,
            eframe::APP_KEY,
            &Prefs {
                chosen: self.chosen.map(Digit::value),
            },
        );
    }
}
