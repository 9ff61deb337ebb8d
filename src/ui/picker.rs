//! The digit picker (ten big buttons, comfortable for a child's finger) and
//! the per-digit count bars. Both only draw and report what was clicked.

use eframe::egui::{self, Color32, RichText, Vec2};

use crate::digit::Digit;

/// Accent colour of the chosen digit and the Submit button.
pub const ACCENT: Color32 = Color32::from_rgb(64, 156, 255);

/// Outline of the digit to ask for next (the least collected).
pub const SUGGESTED: Color32 = Color32::from_rgb(255, 196, 80);

/// Shows ten buttons in two rows of five, the chosen one filled and the
/// suggested one outlined; returns the digit clicked.
pub fn picker_ui(
    ui: &mut egui::Ui,
    chosen: Option<Digit>,
    suggested: Option<Digit>,
) -> Option<Digit> {
    let gap = ui.spacing().item_spacing.x;
    let side = ((ui.available_width() - 4.0 * gap) / 5.0).clamp(44.0, 96.0);
    let mut clicked = None;
    for row in [0u8..5, 5u8..10] {
        ui.horizontal(|ui| {
            for digit in Digit::all().filter(|d| row.contains(&d.value())) {
                let selected = chosen == Some(digit);
                let text = RichText::new(digit.to_string()).size(side * 0.5).strong();
                let mut button = egui::Button::new(text)
                    .min_size(Vec2::splat(side))
                    .corner_radius(10.0);
                if selected {
                    button = button.fill(ACCENT).selected(true);
                } else if suggested == Some(digit) {
                    button = button.stroke(egui::Stroke::new(1.5, SUGGESTED));
                }
                if ui.add(button).clicked() {
                    clicked = Some(digit);
                }
            }
        });
    }
    clicked
}

/// One small bar per digit, scaled to the largest count, the count above
/// and the digit below; the least collected digit is outlined, as the one
/// to ask for next.
pub fn counts_ui(ui: &mut egui::Ui, counts: &[u64; 10]) -> egui::Response {
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let fewest = counts.iter().copied().min().unwrap_or(0);
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(ui.available_width(), 92.0), egui::Sense::hover());
    let summary: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(d, n)| format!("{d}: {n}"))
        .collect();
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Image,
            true,
            format!("Counts {}", summary.join(", ")),
        )
    });
    let painter = ui.painter_at(rect);
    let column = rect.width() / 10.0;
    let (bar_top, bar_bottom) = (rect.top() + 18.0, rect.bottom() - 22.0);
    let text = ui.visuals().text_color();
    for (digit, &n) in counts.iter().enumerate() {
        let x = rect.left() + column * digit as f32;
        let slot = egui::Rect::from_min_max(
            egui::pos2(x + 4.0, bar_top),
            egui::pos2(x + column - 4.0, bar_bottom),
        );
        painter.rect_filled(slot, 4.0, ui.visuals().extreme_bg_color);
        let filled = slot.height() * n as f32 / most as f32;
        let bar = egui::Rect::from_min_max(
            egui::pos2(slot.left(), slot.bottom() - filled),
            slot.right_bottom(),
        );
        painter.rect_filled(bar, 4.0, ACCENT.gamma_multiply(0.85));
        if n == fewest {
            painter.rect_stroke(
                slot,
                4.0,
                egui::Stroke::new(1.5, SUGGESTED),
                egui::StrokeKind::Outside,
            );
        }
        let font = egui::FontId::proportional(13.0);
        painter.text(
            egui::pos2(slot.center().x, rect.top()),
            egui::Align2::CENTER_TOP,
            n.to_string(),
            font,
            text,
        );
        let font = egui::FontId::proportional(16.0);
        painter.text(
            egui::pos2(slot.center().x, rect.bottom()),
            egui::Align2::CENTER_BOTTOM,
            digit.to_string(),
            font,
            text,
        );
    }
    response
}

/// The digit collected least so far (the lowest on a tie): the one to ask
/// a participant for next, so the dataset stays balanced.
pub fn least_collected(counts: &[u64; 10]) -> Option<Digit> {
    let (digit, _) = counts.iter().enumerate().min_by_key(|(d, n)| (**n, *d))?;
    Digit::try_from(u8::try_from(digit).ok()?).ok()
}
