//! The LAN page and API over real HTTP on 127.0.0.1:0: every route and status
//! of SPEC.md's "HTTP endpoint", each followed by a look at the PNG, the CSV
//! and the database (or proof that none of them changed), plus the load and
//! abuse cases a classroom brings: many clients at once, slow and stalled
//! clients, a body announced huge, a double tap, the rate limit.

// The helpers below are test code too: an unwrap that fails is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{TempData, counts, csv_records, db_rows, image_names, seed_query_cli};
use digit_kiosk::collector::Collector;
use digit_kiosk::web::{DEFAULT_BODY_LIMIT, ServeConfig, Server};
use image::{GrayImage, Rgba, RgbaImage};
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

/// A server on a fresh data folder.
struct Station {
    data: TempData,
    collector: Collector,
    server: Option<Server>,
    addr: SocketAddr,
}

impl Station {
    fn new() -> Self {
        Self::with_rate(0)
    }

    fn with_rate(rate_limit_per_min: u32) -> Self {
        let data = TempData::new();
        let collector = data.collector();
        let config = ServeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            lan: false,
            rate_limit_per_min,
            body_limit: DEFAULT_BODY_LIMIT,
        };
        let server = Server::start(collector.clone(), &config).unwrap();
        let addr = server.local_addr();
        assert_eq!(
            server.urls(),
            vec![format!("http://127.0.0.1:{}/", addr.port())]
        );
        Self {
            data,
            collector,
            server: Some(server),
            addr,
        }
    }

    fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    fn counts(&self) -> common::Counts {
        counts(&self.data.paths)
    }

    /// Nothing in the folder: no PNG, no row, no CSV line.
    fn assert_untouched(&self, what: &str) {
        let c = self.counts();
        assert_eq!(
            (c.files, c.rows, c.csv_lines),
            (0, 0, 0),
            "{what} wrote something: {c:?}"
        );
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        self.collector.shutdown();
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A small blocking HTTP/1.1 client over one keep-alive connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        Self::over(TcpStream::connect(addr).unwrap())
    }

    fn over(stream: TcpStream) -> Self {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        self.read_reply(method == "HEAD")
    }

    fn read_reply(&mut self, head_only: bool) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only || status == 304 || status == 100 {
            return reply;
        }
        if reply
            .header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                reply.body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = reply
            .header("Content-Length")
            .map(|v| v.parse::<usize>().unwrap())
        {
            reply.body = vec![0; n];
            self.reader.read_exact(&mut reply.body).unwrap();
        }
        reply
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[], b"")
    }

    fn post_json(&mut self, path: &str, value: &Value) -> Reply {
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            value.to_string().as_bytes(),
        )
    }
}

/// Strokes of a "7" in the wire form, drawn with `pointer`.
fn seven(pointer: &str) -> Value {
    json!([
        {"pointer": pointer, "points": [[60, 60, 0, 0.5], [140, 60, 30, 0.6], [220, 60, 60, 0.7]]},
        {"pointer": pointer, "points": [[220, 60, 100, 0.5], [180, 140, 140, 0.5], [140, 230, 190, 0.4]]}
    ])
}

fn png_data_url(img: &RgbaImage) -> String {
    common::data_url(&common::png_rgba(img))
}

/// A canvas export as a browser makes it: RGBA, dark ink on white, a bar.
fn drawn_png(w: u32, h: u32) -> String {
    let mut img = RgbaImage::from_pixel(w, h, Rgba([255, 255, 255, 255]));
    for y in h / 4..h * 3 / 4 {
        for x in w / 2 - w / 16..w / 2 + w / 16 {
            img.put_pixel(x, y, Rgba([0, 0, 0, 255]));
        }
    }
    png_data_url(&img)
}

fn stored_png(station: &Station, filename: &str) -> GrayImage {
    let img = image::open(station.data.paths.image(filename)).unwrap();
    assert_eq!(
        img.color(),
        image::ColorType::L8,
        "stored as 8-bit grayscale"
    );
    img.into_luma8()
}

/// The `strokes`, `source` and `session` columns of a stored sample.
fn extra_columns(station: &Station, filename: &str) -> (Option<String>, String, Option<String>) {
    common::open_db(&station.data.paths)
        .query_row(
            "SELECT strokes, source, session FROM digit_samples WHERE filename = ?1",
            [filename],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

// ---------------------------------------------------------------- routes

#[test]
fn page_assets_and_headers() {
    let station = Station::new();
    let mut c = station.client();

    let page = c.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("X-Content-Type-Options"), Some("nosniff"));
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("http") && !csp.contains('*'),
        "only the station itself: {csp}"
    );
    assert_eq!(page.header("Cache-Control"), Some("no-cache"));
    let html = page.text();
    assert!(
        html.contains("<canvas")
            && html.contains("Submit")
            && html.contains("Undo")
            && html.contains("Clear")
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched from elsewhere"
    );

    // The linked assets, cacheable for good because their URL carries a version.
    let script_url = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert!(
        script_url.starts_with("/static/script.js?v="),
        "{script_url}"
    );
    let script = c.get(&script_url);
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("Content-Type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(
        script
            .header("Cache-Control")
            .unwrap()
            .contains("immutable")
    );
    assert!(script.text().contains("getCoalescedEvents"));
    let css = c.get("/static/style.css");
    assert_eq!(css.header("Content-Type"), Some("text/css; charset=utf-8"));
    assert!(css.text().contains("touch-action: none"));
    assert_eq!(
        c.get("/static/icon.svg").header("Content-Type"),
        Some("image/svg+xml; charset=utf-8")
    );

    // Revalidation and HEAD.
    let etag = page.header("ETag").unwrap().to_string();
    assert_eq!(
        c.send("GET", "/", &[("If-None-Match", &etag)], b"").status,
        304
    );
    let head = c.send("HEAD", "/", &[], b"");
    assert_eq!((head.status, head.body.len()), (200, 0));

    let health = c.get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(
        health.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    let stats = c.get("/api/stats");
    assert_eq!(
        stats.json(),
        json!({"total": 0, "per_label": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]})
    );
    assert_eq!(stats.header("Cache-Control"), Some("no-store"));
    station.assert_untouched("reading pages");
}

#[test]
fn strokes_submission_is_rasterised_and_stored_three_ways() {
    let station = Station::new();
    let mut c = station.client();
    let r = c.post_json(
        "/api/samples",
        &json!({"label": 7, "strokes": seven("pen"), "session": "web-abc123"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    let filename = body["filename"].as_str().unwrap().to_string();
    assert_eq!(body["label"], 7);
    assert!(body["id"].as_i64().unwrap() >= 1);
    let ts = body["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 27 && ts.ends_with('Z'),
        "RFC 3339 with microseconds: {ts}"
    );
    assert!(filename.starts_with("digit_7_") && filename.ends_with(".png"));

    // PNG: 280×280 gray, ink along the drawn path, black far from it.
    let png = stored_png(&station, &filename);
    assert_eq!(png.dimensions(), (280, 280));
    for (x, y) in [(60, 60), (140, 60), (220, 60), (180, 140), (140, 230)] {
        assert!(png.get_pixel(x, y).0[0] > 200, "ink at ({x}, {y})");
    }
    assert_eq!(png.get_pixel(30, 250).0[0], 0);

    // CSV and database, read as users read them.
    let (header, records) = csv_records(&station.data.paths);
    assert_eq!(header, ["filename", "label", "timestamp", "ip"]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0][0], filename);
    assert_eq!(records[0][1], "7");
    assert_eq!(records[0][3], "127.0.0.1");
    let rows = db_rows(&station.data.paths);
    assert_eq!(
        (rows[0].id, rows[0].label.as_str(), rows[0].ip.as_str()),
        (body["id"].as_i64().unwrap(), "7", "127.0.0.1")
    );
    let cli = seed_query_cli(&station.data.paths);
    assert_eq!(cli[0][1], filename);
    let (strokes, source, session) = extra_columns(&station, &filename);
    let strokes: Value = serde_json::from_str(&strokes.unwrap()).unwrap();
    assert_eq!(strokes[0]["pointer"], "pen");
    assert_eq!(
        strokes[1]["points"][2][3]
            .as_f64()
            .map(|p| (p * 10.0).round()),
        Some(4.0),
        "pressure kept"
    );
    assert_eq!(
        (source.as_str(), session.as_deref()),
        ("web", Some("web-abc123"))
    );

    // The counts move.
    assert_eq!(c.get("/api/stats").json()["per_label"][7], 1);
    assert_eq!(station.collector.counts()[7], 1);
}

#[test]
fn image_submission_is_normalised() {
    let station = Station::new();
    let mut c = station.client();
    // A browser canvas export: RGBA, 100×100, dark ink on white; label as a string.
    let r = c.post_json(
        "/api/samples",
        &json!({"label": "3", "image": drawn_png(100, 100)}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let filename = r.json()["filename"].as_str().unwrap().to_string();
    let png = stored_png(&station, &filename);
    assert_eq!(png.dimensions(), (280, 280));
    assert!(png.get_pixel(140, 140).0[0] > 200, "ink turned white");
    assert_eq!(png.get_pixel(10, 10).0[0], 0, "background turned black");
    let (strokes, source, session) = extra_columns(&station, &filename);
    assert_eq!((strokes, source.as_str(), session), (None, "web", None));
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 1,
            rows: 1,
            csv_lines: 1
        }
    );

    // With both, the strokes win.
    let r = c.post_json(
        "/api/samples",
        &json!({"label": 1, "image": "not even an image", "strokes": seven("mouse")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (strokes, ..) = extra_columns(&station, r.json()["filename"].as_str().unwrap());
    assert!(strokes.unwrap().contains("mouse"));
}

#[test]
fn original_submit_endpoint_keeps_its_shape() {
    let station = Station::new();
    let mut c = station.client();
    // The original page's request: label as a string, a canvas PNG data URL.
    let r = c.send(
        "POST",
        "/api/submit",
        &[("Content-Type", "application/json"), ("Accept", "*/*")],
        json!({"label": "5", "image": drawn_png(280, 280)})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["status"], "ok");
    let filename = body["filename"].as_str().unwrap();
    assert!(filename.starts_with("digit_5_"));
    assert!(station.data.paths.image(filename).exists());
    assert_eq!(csv_records(&station.data.paths).1[0][1], "5");

    // Errors in the original's shape, with the statuses of /api/samples. The
    // original stored even an empty image; this one refuses it.
    for (body, status, words) in [
        (
            json!({"label": "x", "image": drawn_png(10, 10)}),
            400,
            "label",
        ),
        (
            json!({"label": "5", "image": "data:image/png;base64,"}),
            400,
            "PNG",
        ),
        (json!({"label": "5"}), 400, "nothing drawn"),
    ] {
        let r = c.post_json("/api/submit", &body);
        assert_eq!(r.status, status, "{}", r.text());
        let j = r.json();
        assert_eq!(j["status"], "error", "{j}");
        assert!(j["message"].as_str().unwrap().contains(words), "{j}");
        assert!(j.get("error").is_none());
    }
    assert_eq!(c.get("/api/submit").json()["status"], "error");
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 1,
            rows: 1,
            csv_lines: 1
        }
    );
}

#[test]
fn every_refusal_has_its_status_and_writes_nothing() {
    let station = Station::new();
    let mut c = station.client();
    let many: Vec<Value> = (0..10_001).map(|i| json!([100, 100, i])).collect();
    let blank = png_data_url(&RgbaImage::from_pixel(50, 50, Rgba([0, 0, 0, 255])));
    let huge = png_data_url(&RgbaImage::from_pixel(2049, 8, Rgba([255, 255, 255, 255])));
    let json_cases: Vec<(Value, &str)> = vec![
        (json!([1, 2, 3]), "JSON object"),
        (json!({"strokes": seven("pen")}), "label"),
        (json!({"label": 10, "strokes": seven("pen")}), "label"),
        (json!({"label": true, "strokes": seven("pen")}), "label"),
        (json!({"label": "55", "strokes": seven("pen")}), "label"),
        (json!({"label": 5}), "nothing drawn"),
        (json!({"label": 5, "strokes": []}), "empty"),
        (json!({"label": 5, "strokes": [[[1, 2]]]}), "[x, y, t]"),
        (json!({"label": 5, "strokes": [[[9000, 2, 0]]]}), "outside"),
        (json!({"label": 5, "strokes": [many]}), "10000"),
        (
            json!({"label": 5, "image": "http://example.com/x.png"}),
            "data:image/png",
        ),
        (
            json!({"label": 5, "image": "data:image/png;base64,!!!"}),
            "base64",
        ),
        (
            json!({"label": 5, "image": "data:image/png;base64,aGVsbG8="}),
            "PNG",
        ),
        (json!({"label": 5, "image": blank}), "blank"),
        (json!({"label": 5, "image": huge}), "2048"),
        (
            json!({"label": 5, "strokes": seven("pen"), "session": "no spaces allowed"}),
            "session",
        ),
        (
            json!({"label": 5, "strokes": seven("pen"), "submission_id": "bad id!"}),
            "submission_id",
        ),
    ];
    for (body, words) in json_cases {
        let r = c.post_json("/api/samples", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(words), "{error:?} should mention {words:?}");
        assert_eq!(
            r.header("Content-Type"),
            Some("application/json; charset=utf-8")
        );
    }
    let r = c.send(
        "POST",
        "/api/samples",
        &[("Content-Type", "application/json")],
        b"{\"label\": 5,",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not a JSON object")
    );

    let r = c.get("/nope");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("nothing"));
    let r = c.get("/api/samples");
    assert_eq!((r.status, r.header("Allow")), (405, Some("POST")));
    let r = c.post_json("/api/stats", &json!({}));
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
    let r = c.send("DELETE", "/", &[], b"");
    assert_eq!(r.status, 405);
    let r = c.send(
        "POST",
        "/api/samples",
        &[("Content-Type", "text/plain")],
        b"{\"label\": 5}",
    );
    assert_eq!(r.status, 415);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
    let r = c.send("POST", "/api/samples", &[], b"{\"label\": 5}");
    assert_eq!(r.status, 415);
    let r = c.send(
        "POST",
        "/api/samples",
        &[("Content-Type", "application/json; charset=utf-8")],
        b"[]",
    );
    assert_eq!(r.status, 400, "a charset parameter is fine");

    // Over the limit: refused from Content-Length, before the body is read.
    let big = vec![b' '; DEFAULT_BODY_LIMIT + 1];
    let mut fresh = station.client();
    let r = fresh.send(
        "POST",
        "/api/samples",
        &[("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("larger than"));
    station.assert_untouched("refused requests");
    assert_eq!(station.client().get("/healthz").status, 200);
}

#[test]
fn chunked_body_is_limited_while_reading() {
    let station = Station::new();
    let mut stream = TcpStream::connect(station.addr).unwrap();
    stream
        .write_all(b"POST /api/samples HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    // Keep sending until the server answers (it stops reading at the limit).
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    while sent <= DEFAULT_BODY_LIMIT + chunk.len() {
        if stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let r = Client::over(stream).read_reply(false);
    assert_eq!(r.status, 413);
    station.assert_untouched("an oversized chunked body");
}

#[test]
fn storage_failure_is_503_and_leaves_no_trace() {
    let station = Station::new();
    // The images folder replaced by a file: no PNG can be written (as root,
    // permissions would not stop the writer; this does).
    let images = station.data.paths.images();
    std::fs::remove_dir_all(&images).unwrap();
    std::fs::write(&images, b"not a folder").unwrap();
    let mut c = station.client();
    let r = c.post_json(
        "/api/samples",
        &json!({"label": 2, "strokes": seven("touch")}),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.json()["error"].as_str().unwrap().contains("cannot store"),
        "{}",
        r.text()
    );
    assert!(r.header("Retry-After").is_some());
    let r = c.post_json(
        "/api/submit",
        &json!({"label": "2", "image": drawn_png(50, 50)}),
    );
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (503, Some("error"))
    );
    assert_eq!(common::count_rows(&station.data.paths), 0);
    assert_eq!(common::count_csv_lines(&station.data.paths), 0);
    assert_eq!(std::fs::read(&images).unwrap(), b"not a folder");
}

// ---------------------------------------------------------------- abuse and load

/// A stream from a given loopback address, to act as another client.
fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&from.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

#[test]
fn rate_limit_per_client_address() {
    let station = Station::with_rate(3);
    let mut c = station.client();
    for _ in 0..3 {
        assert_eq!(
            c.post_json(
                "/api/samples",
                &json!({"label": 4, "strokes": seven("pen")})
            )
            .status,
            201
        );
    }
    let r = c.post_json(
        "/api/samples",
        &json!({"label": 4, "strokes": seven("pen")}),
    );
    assert_eq!(r.status, 429);
    let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    assert!(r.json()["error"].as_str().unwrap().contains("too many"));
    assert_eq!(
        c.post_json(
            "/api/submit",
            &json!({"label": "4", "image": drawn_png(40, 40)})
        )
        .status,
        429
    );
    // Reading is never limited.
    assert_eq!(c.get("/api/stats").json()["total"], 3);
    // Another device is not affected.
    let mut other = Client::over(connect_from("127.0.0.2", station.addr));
    let r = other.post_json(
        "/api/samples",
        &json!({"label": 4, "strokes": seven("touch")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        csv_records(&station.data.paths).1.last().unwrap()[3],
        "127.0.0.2"
    );
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 4,
            rows: 4,
            csv_lines: 4
        }
    );
}

#[test]
fn double_submit_stores_once() {
    let station = Station::new();
    let body = json!({"label": 8, "strokes": seven("touch"), "session": "web-x", "submission_id": "s-double-tap"});
    // Two taps at once, on two connections.
    let barrier = Arc::new(Barrier::new(2));
    let taps: Vec<_> = (0..2)
        .map(|_| {
            let (addr, body, barrier) = (station.addr, body.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                barrier.wait();
                c.post_json("/api/samples", &body)
            })
        })
        .collect();
    let replies: Vec<Reply> = taps.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(replies.iter().all(|r| r.status == 201), "{replies:?}");
    assert_eq!(
        replies[0].json(),
        replies[1].json(),
        "the repeat gets the first answer"
    );
    // A later retry too, also by header.
    let mut c = station.client();
    assert_eq!(c.post_json("/api/samples", &body).json(), replies[0].json());
    let r = c.send(
        "POST",
        "/api/samples",
        &[
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "s-double-tap"),
        ],
        json!({"label": 8, "strokes": seven("touch")})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.json(), replies[0].json());
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 1,
            rows: 1,
            csv_lines: 1
        }
    );
    // A new id is a new sample.
    let mut next = body.clone();
    next["submission_id"] = json!("s-next");
    assert_eq!(c.post_json("/api/samples", &next).status, 201);
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 2,
            rows: 2,
            csv_lines: 2
        }
    );
}

#[test]
fn thirty_two_clients_times_one_hundred_nothing_lost_or_doubled() {
    const CLIENTS: usize = 32;
    const EACH: usize = 100;
    let station = Station::new();
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let addr = station.addr;
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                (0..EACH)
                    .map(|i| {
                        let label = (k + i) % 10;
                        let x = 40.0 + (i % 50) as f64 * 4.0;
                        let strokes =
                            json!([{"pointer": "touch", "points": [[x, 40, 0], [x, 240, 50]]}]);
                        let r = c.post_json(
                            "/api/samples",
                            &json!({"label": label, "strokes": strokes}),
                        );
                        assert_eq!(r.status, 201, "{}", r.text());
                        let j = r.json();
                        assert_eq!(j["label"], label);
                        (
                            j["id"].as_i64().unwrap(),
                            j["filename"].as_str().unwrap().to_string(),
                            label,
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acks: Vec<(i64, String, usize)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    let n = CLIENTS * EACH;
    assert_eq!(acks.len(), n);
    acks.sort();
    acks.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(acks.len(), n, "an id acknowledged twice");
    let mut names: Vec<String> = acks.iter().map(|a| a.1.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n, "a file name acknowledged twice");
    assert_eq!(
        image_names(&station.data.paths),
        names,
        "the files are exactly the acknowledged ones"
    );
    let rows = db_rows(&station.data.paths);
    assert_eq!(rows.len(), n);
    for (row, ack) in rows.iter().zip(&acks) {
        assert_eq!(
            (row.id, &row.filename, row.label.clone()),
            (ack.0, &ack.1, ack.2.to_string())
        );
    }
    let (_, csv) = csv_records(&station.data.paths);
    let mut csv_names: Vec<String> = csv.iter().map(|r| r[0].clone()).collect();
    csv_names.sort();
    assert_eq!(csv_names, names);
    assert_eq!(station.client().get("/api/stats").json()["total"], n);
    eprintln!("{n} submissions from {CLIENTS} clients in {elapsed:?}");
}

#[test]
fn slow_clients_do_not_hold_up_the_others() {
    let station = Station::new();
    let body = json!({"label": 1, "strokes": seven("pen"), "pad": "x".repeat(4000)}).to_string();
    // 50 clients: half drip their headers, half announce a body and drip it.
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|i| {
            let mut s = TcpStream::connect(station.addr).unwrap();
            let head = if i % 2 == 0 {
                "POST /api/samples HTTP/1.1\r\nHost: t\r\n".to_string()
            } else {
                format!(
                    "POST /api/samples HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
            };
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    let dripping = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let dripper = {
        let dripping = Arc::clone(&dripping);
        let mut streams: Vec<TcpStream> = slow.iter().map(|s| s.try_clone().unwrap()).collect();
        let byte = body.as_bytes()[0];
        thread::spawn(move || {
            while dripping.load(std::sync::atomic::Ordering::SeqCst) {
                for (i, s) in streams.iter_mut().enumerate() {
                    let _ = s.write_all(if i % 2 == 0 {
                        b"X"
                    } else {
                        std::slice::from_ref(&byte)
                    });
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    thread::sleep(Duration::from_millis(300));
    for round in 0..5 {
        let started = Instant::now();
        let mut c = station.client();
        let r = c.post_json(
            "/api/samples",
            &json!({"label": 6, "strokes": seven("mouse")}),
        );
        let took = started.elapsed();
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(
            took < Duration::from_secs(1),
            "round {round}: a normal submit took {took:?}"
        );
        assert!(c.get("/api/stats").status == 200);
    }
    dripping.store(false, std::sync::atomic::Ordering::SeqCst);
    dripper.join().unwrap();
    for s in &mut slow {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 5,
            rows: 5,
            csv_lines: 5
        }
    );
}

#[test]
fn a_client_announcing_a_huge_body_then_hanging_up() {
    let station = Station::new();
    for announced in [
        DEFAULT_BODY_LIMIT as u64 + 1,
        50 << 20,
        1 << 40,
        u64::MAX / 2,
    ] {
        let mut s = TcpStream::connect(station.addr).unwrap();
        s.write_all(
            format!(
                "POST /api/samples HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {announced}\r\n\r\n{{\"label\": 5, "
            )
            .as_bytes(),
        )
        .unwrap();
        let started = Instant::now();
        let mut c = Client::over(s.try_clone().unwrap());
        let r = c.read_reply(false);
        assert_eq!(r.status, 413, "announced {announced}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered before the body came"
        );
        drop(c);
        drop(s); // hang up
        let mut other = station.client();
        assert_eq!(
            other.get("/healthz").status,
            200,
            "still serving after {announced}"
        );
    }
    let mut c = station.client();
    assert_eq!(
        c.post_json(
            "/api/samples",
            &json!({"label": 5, "strokes": seven("pen")})
        )
        .status,
        201
    );
    assert_eq!(
        station.counts(),
        common::Counts {
            files: 1,
            rows: 1,
            csv_lines: 1
        }
    );
}

#[test]
fn stop_lets_requests_in_flight_finish() {
    let mut station = Station::new();
    let addr = station.addr;
    let go = Arc::new(Barrier::new(9));
    let clients: Vec<_> = (0..8)
        .map(|k| {
            let go = Arc::clone(&go);
            thread::spawn(move || {
                let mut acked = Vec::new();
                let mut c = Client::connect(addr);
                go.wait();
                for i in 0..1000 {
                    let body = json!({"label": (k + i) % 10, "strokes": seven("pen")}).to_string();
                    let head = format!(
                        "POST /api/samples HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let stream = c.reader.get_mut();
                    if stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).is_err() {
                        break;
                    }
                    // Either a whole answer, or the connection closes before one starts.
                    let mut line = String::new();
                    match c.reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
                    let status: u16 = line[9..12].parse().unwrap();
                    // Headers and body of this reply.
                    let mut content_length = 0;
                    loop {
                        let mut h = String::new();
                        c.reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            content_length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; content_length];
                    c.reader.read_exact(&mut body).expect("a reply is never cut in half");
                    let j: Value = serde_json::from_slice(&body).unwrap();
                    match status {
                        201 => acked.push(j["filename"].as_str().unwrap().to_string()),
                        503 => break,
                        other => panic!("unexpected {other}: {j}"),
                    }
                }
                acked
            })
        })
        .collect();
    go.wait();
    thread::sleep(Duration::from_millis(400));
    station.server.take().unwrap().stop();
    let mut acked: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    acked.sort();
    assert!(!acked.is_empty());
    // Every acknowledged sample is stored, and nothing else.
    assert_eq!(image_names(&station.data.paths), acked);
    assert_eq!(common::count_rows(&station.data.paths), acked.len());
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after stop"
    );
}

#[test]
fn a_port_in_use_is_one_plain_error() {
    let station = Station::new();
    let config = ServeConfig {
        addr: station.addr,
        ..ServeConfig::default()
    };
    let other = TempData::new();
    let collector = other.collector();
    let err = Server::start(collector.clone(), &config)
        .err()
        .unwrap()
        .to_string();
    collector.shutdown();
    assert!(
        err.contains("in use") && err.contains(&station.addr.to_string()),
        "{err}"
    );

    let run = common::run_bin([
        "--data",
        other.root().to_str().unwrap(),
        "serve",
        "--addr",
        &station.addr.to_string(),
    ]);
    run.expect_code(1).expect_one_plain_error_line();
    assert!(run.stderr.contains("in use"), "{run}");
}

/// A class opening the page at once: connections arriving in a burst while
/// some server threads are idle must all be served, not queued behind
/// keep-alive connections that stay open.
#[test]
fn a_burst_of_keep_alive_connections_is_served_at_once() {
    let station = Station::new();
    for _ in 0..20 {
        let mut c = station.client();
        assert_eq!(c.get("/healthz").status, 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let answered: Vec<_> = (0..32)
        .map(|_| {
            let addr = station.addr;
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
                    .unwrap();
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                let mut first = [0u8; 12];
                let ok = std::io::Read::read_exact(&mut s, &mut first).is_ok()
                    && &first == b"HTTP/1.1 200";
                (ok, s) // keep the connection open, as a browser does
            })
        })
        .collect();
    let results: Vec<_> = answered.into_iter().map(|t| t.join().unwrap()).collect();
    let unanswered = results.iter().filter(|(ok, _)| !ok).count();
    assert_eq!(
        unanswered, 0,
        "{unanswered} of 32 connections got no answer within 3 s"
    );
}
