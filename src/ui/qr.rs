//! The page's address as a QR code painted in the window, so a phone can
//! open it by pointing its camera at the station.

use eframe::egui::{self, Color32, Sense, Vec2};
use qrcode::{Color, QrCode};

/// Paints `url` as a QR code `side` points wide, with a quiet zone.
pub fn qr_ui(ui: &mut egui::Ui, url: &str, side: f32) {
    let Ok(code) = QrCode::new(url.as_bytes()) else {
        return; // too long for a QR code: the URL is shown as text anyway
    };
    let width = code.width();
    let modules = code.to_colors();
    let quiet = 2;
    let cells = (width + 2 * quiet) as f32;
    let (response, painter) = ui.allocate_painter(Vec2::splat(side), Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, format!("QR code for {url}")));
    let cell = side / cells;
    painter.rect_filled(response.rect, 4.0, Color32::WHITE);
    for (i, color) in modules.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = ((i % width + quiet) as f32, (i / width + quiet) as f32);
            let min = response.rect.min + Vec2::new(x, y) * cell;
            painter.rect_filled(egui::Rect::from_min_size(min, Vec2::splat(cell + 0.5)), 0.0, Color32::BLACK);
        }
    }
}
