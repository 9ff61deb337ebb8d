//! The drawing canvas: a square that fills the space it is given, strokes
//! kept in canvas space (0..280, the rasteriser's space) and converted to and
//! from screen space only here. Every pointer event of a frame is read, not
//! one position per frame, so a fast pen loses no samples.

use std::time::Instant;

use eframe::egui::{self, Color32, Event, Pos2, Rect, Sense, Shape, Stroke as Line, Vec2};

use crate::raster::{BRUSH_WIDTH, CANVAS_SIZE};
use crate::sketch::{Point, PointerKind, Stroke};

/// Background of the canvas: the black of the stored PNG, lifted a little so
/// the edge of the square shows against the window.
pub const CANVAS_BG: Color32 = Color32::from_rgb(8, 8, 10);

/// The strokes being drawn, in canvas space.
#[derive(Debug, Default)]
pub struct CanvasState {
    /// Finished strokes, then the one in progress (if `drawing`).
    pub strokes: Vec<Stroke>,
    /// Whether the last stroke is still being drawn (pointer down).
    drawing: bool,
    /// When the sample's first point was taken; `t` counts from here.
    started: Option<Instant>,
}

impl CanvasState {
    /// Whether nothing is drawn.
    pub fn is_empty(&self) -> bool {
        self.strokes.iter().all(|s| s.points.is_empty())
    }

    /// Removes the last stroke.
    pub fn undo(&mut self) {
        self.strokes.pop();
        self.drawing = false;
        if self.strokes.is_empty() {
            self.started = None;
        }
    }

    /// Removes everything; the next point starts a new sample's clock.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Takes the finished strokes out (for submitting), leaving it empty.
    pub fn take(&mut self) -> Vec<Stroke> {
        let strokes = std::mem::take(&mut self.strokes);
        self.clear();
        strokes
    }

    /// Puts strokes back after a failed submit, before anything drawn since.
    pub fn restore(&mut self, mut strokes: Vec<Stroke>) {
        strokes.append(&mut self.strokes);
        self.strokes = strokes;
    }

    fn push(&mut self, pos_in_canvas: Pos2, pressure: Option<f32>) {
        let started = *self.started.get_or_insert_with(Instant::now);
        let point = Point {
            x: pos_in_canvas.x,
            y: pos_in_canvas.y,
            t: started.elapsed().as_secs_f64() * 1000.0,
            pressure,
        };
        if let Some(stroke) = self.strokes.last_mut() {
            stroke.points.push(point);
        }
    }
}

/// Maps between the canvas's screen rectangle and canvas space.
#[derive(Debug, Clone, Copy)]
struct Spaces {
    rect: Rect,
}

impl Spaces {
    fn scale(self) -> f32 {
        self.rect.width() / CANVAS_SIZE as f32
    }
    fn canvas_from_screen(self, pos: Pos2) -> Pos2 {
        ((pos - self.rect.min) / self.scale()).to_pos2()
    }
    fn screen_from_canvas(self, x: f32, y: f32) -> Pos2 {
        self.rect.min + Vec2::new(x, y) * self.scale()
    }
}

/// The largest square that fits `available`.
pub fn square_side(available: Vec2) -> f32 {
    available.x.min(available.y).max(64.0)
}

/// Shows the canvas with side `side` and records every pointer event on it.
pub fn canvas_ui(ui: &mut egui::Ui, state: &mut CanvasState, side: f32) -> egui::Response {
    let (response, painter) = ui.allocate_painter(Vec2::splat(side), Sense::drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Drawing canvas"));
    let spaces = Spaces {
        rect: response.rect,
    };

    let (events, touch_force) = ui.input(|i| {
        let force = i.events.iter().rev().find_map(|e| match e {
            Event::Touch { force, .. } => Some(*force),
            _ => None,
        });
        (i.events.clone(), force)
    });
    let pointer = if touch_force.is_some() {
        PointerKind::Touch
    } else {
        PointerKind::Mouse
    };
    let pressure = touch_force.flatten().map(|f| f.clamp(0.0, 1.0));
    for event in events {
        match event {
            Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: true,
                ..
            } if response.rect.contains(pos)
                && ui.ctx().layer_id_at(pos) == Some(ui.layer_id()) =>
            {
                state.strokes.push(Stroke {
                    pointer: Some(pointer),
                    points: Vec::new(),
                });
                state.drawing = true;
                state.push(spaces.canvas_from_screen(pos), pressure);
            }
            Event::PointerMoved(pos) if state.drawing => {
                state.push(spaces.canvas_from_screen(pos), pressure)
            }
            Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: false,
                ..
            } if state.drawing => {
                let last = state
                    .strokes
                    .last()
                    .and_then(|s| s.points.last())
                    .map(|p| Pos2::new(p.x, p.y));
                let here = spaces.canvas_from_screen(pos);
                if last != Some(here) {
                    state.push(here, pressure);
                }
                state.drawing = false;
            }
            Event::PointerGone => state.drawing = false,
            _ => {}
        }
    }

    painter.rect_filled(response.rect, 6.0, CANVAS_BG);
    paint_strokes(&painter, spaces, &state.strokes);
    if state.is_empty() {
        painter.text(
            response.rect.center(),
            egui::Align2::CENTER_CENTER,
            "Draw a digit here",
            egui::FontId::proportional((side / 16.0).clamp(14.0, 28.0)),
            Color32::from_gray(90),
        );
    }
    response
}

/// Round caps and joins at the brush's width, as the stored PNG will have
/// them: a disc at every point and a segment between neighbours.
fn paint_strokes(painter: &egui::Painter, spaces: Spaces, strokes: &[Stroke]) {
    let width = BRUSH_WIDTH * spaces.scale();
    let mut shapes = Vec::new();
    for stroke in strokes {
        let points: Vec<Pos2> = stroke
            .points
            .iter()
            .map(|p| spaces.screen_from_canvas(p.x, p.y))
            .collect();
        for pair in points.windows(2) {
            if let [a, b] = pair {
                shapes.push(Shape::line_segment(
                    [*a, *b],
                    Line::new(width, Color32::WHITE),
                ));
            }
        }
        shapes.extend(
            points
                .iter()
                .map(|p| Shape::circle_filled(*p, width / 2.0, Color32::WHITE)),
        );
    }
    painter.with_clip_rect(spaces.rect).extend(shapes);
}
