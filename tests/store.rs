use digit_kiosk::collector::{Collector, Drawing, Submission};
use digit_kiosk::digit::Digit;
use digit_kiosk::sketch::Sketch;
use digit_kiosk::store::{DataPaths, Source};

#[test]
fn smoke_submit_writes_png_row_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths::new(dir.path().join("data"));
    let c = Collector::open(paths.clone()).unwrap();
    let sketch = Sketch::from_json(&serde_json::json!([[[40, 40, 0], [200, 200, 10]]])).unwrap();
    let r = c
        .submit(Submission {
            label: Digit::try_from(7u8).unwrap(),
            drawing: Drawing::Strokes(sketch),
            source: Source::Window,
            client: "127.0.0.1".into(),
            session: None,
        })
        .unwrap();
    assert!(paths.image(&r.filename).exists());
    assert_eq!(c.counts()[7], 1);
    let csv = std::fs::read_to_string(paths.csv()).unwrap();
    assert!(csv.contains(&r.filename), "{csv}");
    c.shutdown();
    let out = std::process::Command::new("sqlite3")
        .arg(paths.db())
        .arg("SELECT id, filename, label, timestamp, ip FROM digit_samples LIMIT 10;")
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains(&format!("{}|{}|7|", r.id, r.filename)), "{s}");
}
