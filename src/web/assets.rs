//! The page's files, embedded in the binary so the station needs nothing
//! beside it and fetches nothing from elsewhere. The stylesheet and script are
//! linked with a version derived from their contents, so browsers may cache
//! them for good and still never mix an old script with a new page.

use std::sync::OnceLock;

const INDEX: &str = include_str!("../../assets/index.html");
const STYLE: &str = include_str!("../../assets/style.css");
const SCRIPT: &str = include_str!("../../assets/script.js");
const ICON: &str = include_str!("../../assets/icon.svg");

/// The placeholder in `index.html` replaced by the assets' version.
const VERSION_MARK: &str = "{{v}}";

/// One embedded file.
pub(crate) struct Asset {
    /// The bytes to send.
    pub body: &'static [u8],
    /// Its media type, with charset for text.
    pub content_type: &'static str,
    /// `true` for files linked with a version (cache for a year), `false` for
    /// the page itself (revalidate each time, by its ETag).
    pub immutable: bool,
    /// A strong validator of the contents.
    pub etag: &'static str,
}

/// The asset served at `path`, if any (`path` without its query).
pub(crate) fn lookup(path: &str) -> Option<&'static Asset> {
    let all = all();
    match path {
        "/" | "/index.html" => Some(&all[0]),
        "/static/style.css" => Some(&all[1]),
        "/static/script.js" => Some(&all[2]),
        "/static/icon.svg" | "/favicon.ico" => Some(&all[3]),
        _ => None,
    }
}

fn all() -> &'static [Asset; 4] {
    static ALL: OnceLock<[Asset; 4]> = OnceLock::new();
    ALL.get_or_init(|| {
        let version = format!("{:016x}", fnv1a(&[STYLE, SCRIPT, ICON]));
        let index: &'static str =
            Box::leak(INDEX.replace(VERSION_MARK, &version[..12]).into_boxed_str());
        let asset = |body: &'static str, content_type, immutable| Asset {
            body: body.as_bytes(),
            content_type,
            immutable,
            etag: Box::leak(format!("\"{:016x}\"", fnv1a(&[body])).into_boxed_str()),
        };
        [
            asset(index, "text/html; charset=utf-8", false),
            asset(STYLE, "text/css; charset=utf-8", true),
            asset(SCRIPT, "text/javascript; charset=utf-8", true),
            asset(ICON, "image/svg+xml; charset=utf-8", true),
        ]
    })
}

/// FNV-1a: a stable content hash for cache validators (not for security).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_its_assets_with_their_version() {
        let page = std::str::from_utf8(lookup("/").unwrap().body).unwrap();
        assert!(!page.contains(VERSION_MARK));
        assert!(page.contains("/static/script.js?v="));
        assert!(page.contains("/static/style.css?v="));
        assert!(lookup("/static/nope.js").is_none());
    }
}
