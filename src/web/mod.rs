//! The LAN page and API: one station serves the drawing page to every phone,
//! tablet and laptop on its network, and every sample lands in the data
//! folder through the same [`crate::collector::Collector::submit`] as the
//! window's.
//!
//! [`server`] owns the sockets and threads (tiny_http, named workers, limits,
//! clean stop); [`routes`] turns one request into one response and maps every
//! refusal to its status in one place. This file holds what the window and the
//! command line share: [`ServeConfig`], the URLs to show and their QR code.
//! Neither knows about files, SQL or CSV.

mod assets;
pub mod routes;
pub mod server;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;

pub use server::Server;

use crate::collector::Collector;
use crate::error::{Error, Result};
use crate::store::DataPaths;

/// The default port, as the original app's.
pub const DEFAULT_PORT: u16 = 5000;

/// The default body limit: 1 MiB, far above a drawn digit (a few KiB of
/// strokes or a canvas PNG) and far below what could hurt the station.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The default rate limit: submissions per minute per client address.
pub const DEFAULT_RATE_LIMIT: u32 = 60;

/// How the server listens and what it allows, resolved from the command line
/// (see `ServeArgs::config`) or made by the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Show the station's LAN addresses (the page is meant for other devices).
    pub lan: bool,
    /// Submissions per minute per client address; 0 turns the limit off.
    pub rate_limit_per_min: u32,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for ServeConfig {
    /// Loopback on port 5000, 60 submissions a minute, 1 MiB bodies.
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            lan: false,
            rate_limit_per_min: DEFAULT_RATE_LIMIT,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// `digit-kiosk serve`: opens the data folder, serves until Ctrl-C, then
/// stops cleanly: requests in flight are answered and every
/// acknowledged sample is on disk before this returns. Prints the URL(s) to
/// `out`, with a QR code when serving the LAN.
pub fn serve_until_interrupted(
    paths: DataPaths,
    config: &ServeConfig,
    out: &mut impl Write,
) -> Result<()> {
    let (stop, stopped) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(()); // a second Ctrl-C while stopping needs no second signal
    })
    .map_err(|e| Error::Usage(format!("cannot catch Ctrl-C: {e}")))?;
    let collector = Collector::open(paths)?;
    let server = match Server::start(collector.clone(), config) {
        Ok(server) => server,
        Err(e) => {
            collector.shutdown();
            return Err(e);
        }
    };
    let urls = server.urls();
    let mut say = String::new();
    say.push_str(&format!(
        "Serving the drawing page on {}\n",
        server.local_addr()
    ));
    for url in &urls {
        say.push_str(&format!("  open {url}\n"));
    }
    if config.lan
        && let Some(first) = urls.first()
    {
        say.push('\n');
        say.push_str(&qr_text(first));
    }
    say.push_str("Press Ctrl-C to stop.\n");
    // stdout may be closed (a pipe that went away); serving goes on.
    let _ = out.write_all(say.as_bytes()).and_then(|()| out.flush());
    let _ = stopped.recv();
    let _ = writeln!(out, "Stopping: finishing requests in flight ...");
    server.stop();
    collector.shutdown();
    let _ = writeln!(
        out,
        "Stopped; {} samples in the folder.",
        collector.counts().iter().sum::<u64>()
    );
    Ok(())
}

/// The URLs under which a server bound to `bound` can be opened: with `lan`,
/// one per LAN address of this computer (IPv4, not loopback or link-local);
/// otherwise, or when there is none, the loopback URL.
pub fn urls_for(bound: SocketAddr, lan: bool) -> Vec<String> {
    let port = bound.port();
    let url = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}/"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}/"),
    };
    let ip = bound.ip();
    if !ip.is_unspecified() {
        return vec![url(ip)];
    }
    if lan {
        let lan_ips = lan_addresses();
        if !lan_ips.is_empty() {
            return lan_ips.into_iter().map(url).collect();
        }
    }
    vec![url(IpAddr::V4(Ipv4Addr::LOCALHOST))]
}

/// This computer's LAN addresses, the one with the default route first.
fn lan_addresses() -> Vec<IpAddr> {
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        IpAddr::V6(_) => false,
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Ok(first) = local_ip_address::local_ip()
        && usable(&first)
    {
        ips.push(first);
    }
    if let Ok(all) = local_ip_address::list_afinet_netifas() {
        for (_, ip) in all {
            if usable(&ip) && !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    ips
}

/// The QR code of `url` as a square of modules: its side and the modules row
/// by row, `true` for dark. No quiet zone: the painter adds its margin.
/// `None` if the text is too long for a QR code.
pub fn qr_modules(url: &str) -> Option<(usize, Vec<bool>)> {
    let code = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M).ok()?;
    let width = code.width();
    let modules = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Some((width, modules))
}

/// The QR code of `url` drawn with half-block characters for a terminal, two
/// module rows per text line, with a quiet zone. Light modules are printed as
/// blocks, so on a dark terminal the code reads dark-on-light as scanners
/// expect. Empty if the text cannot be encoded.
pub fn qr_text(url: &str) -> String {
    const QUIET: usize = 2;
    let Some((width, modules)) = qr_modules(url) else {
        return String::new();
    };
    let side = width + 2 * QUIET;
    // Light (printed) where the module is light or in the quiet zone.
    let light = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return true;
        }
        !modules
            .get((y - QUIET) * width + (x - QUIET))
            .copied()
            .unwrap_or(false)
    };
    let mut out = String::with_capacity(side * side);
    for y in (0..side).step_by(2) {
        for x in 0..side {
            let top = light(x, y);
            let bottom = y + 1 >= side || light(x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_is_square_and_text_has_two_rows_per_line() {
        let (w, m) = qr_modules("http://192.168.1.20:5000/").unwrap();
        assert_eq!(m.len(), w * w);
        assert!(m.iter().any(|d| *d) && m.iter().any(|d| !*d));
        let text = qr_text("http://192.168.1.20:5000/");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), (w + 4).div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == w + 4));
    }

    #[test]
    fn loopback_url_unless_lan() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            urls_for(a, false),
            vec!["http://127.0.0.1:8080/".to_string()]
        );
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(
            urls_for(any, false),
            vec!["http://127.0.0.1:8080/".to_string()]
        );
        assert!(urls_for(any, true).iter().all(|u| u.ends_with(":8080/")));
    }
}
