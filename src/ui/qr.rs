//! The page's address as a QR code painted in the window, so a phone can
//! open it by pointing its camera at the station.

use eframe::egui::{self, Color32, Sense, Vec2};

use crate::web::qr_modules;

/// Light modules around the code, as scanners need.
const QUIET_ZONE: usize = 2;

/// Paints `url` as a QR code `side` points wide, dark on white.
pub fn qr_ui(ui: &mut egui::Ui, url: &str, side: f32) {
    let Some((width, modules)) = qr_modules(url) else {
        return; // too long for a QR code: the URL is shown as text anyway
    };
    let (response, painter) = ui.allocate_painter(Vec2::splat(side), Sense::hover());
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Image, true, format!("QR code for {url}"))
    });
    let cell = side / (width + 2 * QUIET_ZONE) as f32;
    painter.rect_filled(response.rect, 4.0, Color32::WHITE);
    for (i, _) in modules.iter().enumerate().filter(|(_, dark)| **dark) {
        let (x, y) = (
            (i % width + QUIET_ZONE) as f32,
            (i / width + QUIET_ZONE) as f32,
        );
        let min = response.rect.min + Vec2::new(x, y) * cell;
        painter.rect_filled(
            egui::Rect::from_min_size(min, Vec2::splat(cell + 0.5)),
            0.0,
            Color32::BLACK,
        );
    }
}
