//! One request in, one response out: the routes of SPEC.md's "HTTP endpoint"
//! section. Every refusal is a [`Refusal`], and [`Refusal::status`] is the one
//! place that decides its HTTP status; a storage [`Error`] goes through
//! [`Error::is_bad_input`] (400) or not (503). Checks run cheapest first and
//! before anything is read or written, so a refused request stores nothing.
//!
//! Sockets and threads are [`super::server`]'s; files, SQL and CSV are the
//! collector's. What this file adds on top of the routes: the per-address
//! rate limit and the memory of recent submission ids that makes a double
//! tap store once.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tiny_http::{Header, Method, Request, Response};

use super::assets::{self, Asset};
use crate::collector::{Collector, Drawing, Session, Submission};
use crate::digit::Digit;
use crate::error::Error;
use crate::picture;
use crate::sketch::Sketch;
use crate::store::{Receipt, Source, files::rfc3339};

/// Longest a client may take to send a request body.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// tiny_http reads bodies up to this size itself, before the request reaches
/// a worker; larger ones are read from the socket by the worker.
const BUFFERED_BY_TINY_HTTP: usize = 1024;

/// A refused request whose unread body is announced as larger than this is
/// never drained (see [`finish`]).
const DRAIN_MAX: usize = 16 << 20;

/// Submission ids remembered for double-submit protection.
const RECENT_IDS: usize = 4096;

/// How long a repeated submission waits for the first one to finish.
const REPEAT_WAIT: Duration = Duration::from_secs(30);

/// Client addresses remembered by the rate limiter before idle ones are
/// forgotten.
const RATE_TABLE: usize = 4096;

/// Allows only the station itself: no inline code, no other origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JSON: &str = "application/json; charset=utf-8";

/// Why a request is refused. Each becomes a JSON body in plain words and the
/// status chosen in [`Refusal::status`].
#[derive(Debug)]
pub enum Refusal {
    /// No such page or endpoint.
    NotFound,
    /// The path exists but not for this method.
    WrongMethod {
        /// The methods it takes, for the `Allow` header.
        allow: &'static str,
    },
    /// A submission whose `Content-Type` is not `application/json`.
    NotJson,
    /// The body is larger than the limit (announced or while reading).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// This client address submitted too often.
    TooMany {
        /// Seconds until it may submit again.
        retry_after: u64,
    },
    /// The body is not a JSON object.
    BadJson(String),
    /// The submission id is not a short run of letters, digits, `-` or `_`.
    BadSubmissionId,
    /// The client sent its body too slowly.
    SlowBody,
    /// The connection ended before the announced body did.
    BodyCut,
    /// The collector refused or failed the sample.
    Submit(Error),
}

impl Refusal {
    /// The HTTP status: the one place that maps a refusal to a status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotFound => 404,
            Refusal::WrongMethod { .. } => 405,
            Refusal::NotJson => 415,
            Refusal::TooLarge { .. } => 413,
            Refusal::TooMany { .. } => 429,
            Refusal::BadJson(_) | Refusal::BadSubmissionId | Refusal::BodyCut => 400,
            Refusal::SlowBody => 408,
            Refusal::Submit(e) if e.is_bad_input() => 400,
            Refusal::Submit(_) => 503,
        }
    }

    /// What was wrong, in plain words.
    pub fn message(&self) -> String {
        match self {
            Refusal::NotFound => "there is nothing at this address".into(),
            Refusal::WrongMethod { allow } => format!("this address only answers {allow}"),
            Refusal::NotJson => {
                "send the sample as JSON, with Content-Type: application/json".into()
            }
            Refusal::TooLarge { limit } => {
                format!("the request body is larger than the {limit} bytes allowed")
            }
            Refusal::TooMany { retry_after } => {
                format!("too many submissions from this device; try again in {retry_after} s")
            }
            Refusal::BadJson(why) => format!("the body is not a JSON object: {why}"),
            Refusal::BadSubmissionId => {
                "submission_id must be 1 to 64 letters, digits, '-' or '_'".into()
            }
            Refusal::SlowBody => "the request body came too slowly; try again".into(),
            Refusal::BodyCut => "the request body ended before its announced length".into(),
            Refusal::Submit(e) if e.is_bad_input() => e.to_string(),
            Refusal::Submit(e) => format!("the station cannot store samples right now: {e}"),
        }
    }

    fn reply(&self, legacy: bool) -> Reply {
        let message = self.message();
        let body = if legacy {
            json!({ "status": "error", "message": message })
        } else {
            json!({ "error": message })
        };
        let mut reply = Reply::json(self.status(), &body);
        match self {
            Refusal::WrongMethod { allow } => reply.headers.push(("Allow", (*allow).to_string())),
            Refusal::TooMany { retry_after } => {
                reply.headers.push(("Retry-After", retry_after.to_string()))
            }
            Refusal::Submit(e) if !e.is_bad_input() => {
                reply.headers.push(("Retry-After", "5".into()))
            }
            _ => {}
        }
        reply
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Submit(e)
    }
}

/// A response before it is written.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    content_type: &'static str,
    body: Cow<'static, [u8]>,
    cache: &'static str,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            content_type: JSON,
            body: Cow::Owned(value.to_string().into_bytes()),
            cache: "no-store",
            headers: Vec::new(),
        }
    }

    /// The status it will be sent with.
    pub fn status(&self) -> u16 {
        self.status
    }

    fn into_response(self) -> Response<std::io::Cursor<Vec<u8>>> {
        let mut response =
            Response::from_data(self.body.into_owned()).with_status_code(self.status);
        let fixed = [
            ("Content-Type", self.content_type),
            ("Cache-Control", self.cache),
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Server", "digit-kiosk"),
        ];
        let extra = self.headers.iter().map(|(k, v)| (*k, v.as_str()));
        for (name, value) in fixed.into_iter().chain(extra) {
            // Names and values here are ASCII constants or numbers.
            if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        response
    }
}

/// What the routes share: the collector and the two small memories.
pub struct App {
    collector: Collector,
    body_limit: usize,
    rate: RateLimiter,
    recent: Recent,
}

impl App {
    /// Routes over `collector`, with the given body limit and submissions per
    /// minute per client address (0: no limit).
    pub fn new(collector: Collector, body_limit: usize, rate_limit_per_min: u32) -> Self {
        Self {
            collector,
            body_limit,
            rate: RateLimiter::new(rate_limit_per_min),
            recent: Recent {
                entries: Mutex::new(RecentMap::default()),
                changed: Condvar::new(),
            },
        }
    }
}

/// Answers one request and writes the response.
pub fn handle(app: &App, mut request: Request) {
    let mut consumed = false;
    let reply = route(app, &mut request, &mut consumed);
    finish(request, reply, consumed);
}

/// Answers a request the server will not route (it is stopping).
pub fn refuse_stopping(request: Request) {
    let reply = Refusal::Submit(Error::WriterStopped).reply(false);
    finish(request, reply, false);
}

fn route(app: &App, request: &mut Request, consumed: &mut bool) -> Reply {
    let path = request
        .url()
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_string();
    let method = request.method().clone();
    let legacy = path == "/api/submit";
    let result = match path.as_str() {
        "/api/samples" | "/api/submit" => {
            only_post(&method).and_then(|()| submit(app, request, consumed, legacy))
        }
        "/api/stats" => only_get(&method).map(|()| stats(app)),
        "/healthz" => only_get(&method).map(|()| Reply::json(200, &json!({ "status": "ok" }))),
        other => match assets::lookup(other) {
            Some(asset) => only_get(&method).map(|()| serve_asset(asset, request)),
            None => Err(Refusal::NotFound),
        },
    };
    result.unwrap_or_else(|refusal| {
        if refusal.status() == 503 {
            eprintln!("digit-kiosk: {}", refusal.message());
        }
        refusal.reply(legacy)
    })
}

fn only_get(method: &Method) -> Result<(), Refusal> {
    match method {
        Method::Get | Method::Head => Ok(()),
        _ => Err(Refusal::WrongMethod { allow: "GET, HEAD" }),
    }
}

fn only_post(method: &Method) -> Result<(), Refusal> {
    match method {
        Method::Post => Ok(()),
        _ => Err(Refusal::WrongMethod { allow: "POST" }),
    }
}

fn serve_asset(asset: &'static Asset, request: &Request) -> Reply {
    let fresh = header(request, "If-None-Match")
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    Reply {
        status: if fresh { 304 } else { 200 },
        content_type: asset.content_type,
        body: Cow::Borrowed(if fresh { &[] } else { asset.body }),
        cache: if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        },
        headers: vec![("ETag", asset.etag.to_string())],
    }
}

fn stats(app: &App) -> Reply {
    let per_label = app.collector.counts();
    let total: u64 = per_label.iter().sum();
    Reply::json(200, &json!({ "total": total, "per_label": per_label }))
}

/// `POST /api/samples` (and, with `legacy`, the original app's
/// `POST /api/submit`, which answers 200 in its own shape).
fn submit(
    app: &App,
    request: &mut Request,
    consumed: &mut bool,
    legacy: bool,
) -> Result<Reply, Refusal> {
    let is_json = header(request, "Content-Type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Refusal::NotJson);
    }
    if request.body_length().is_some_and(|n| n > app.body_limit) {
        return Err(Refusal::TooLarge {
            limit: app.body_limit,
        });
    }
    let client = client_ip(request);
    app.rate.take(client)?;
    let header_id = header(request, "Idempotency-Key").map(str::to_string);
    let body = read_body(request, app.body_limit, consumed)?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| Refusal::BadJson(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(Refusal::BadJson(
            "expected an object like {\"label\": 5, \"strokes\": [...]}".into(),
        ));
    };
    let id = match header_id {
        Some(id) => Some(id),
        None => match fields.get("submission_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(Refusal::BadSubmissionId),
        },
    };
    let mut claim = match id {
        Some(id) => {
            let id = Session::new(&id).map_err(|_| Refusal::BadSubmissionId)?;
            match app.recent.claim(client, id.as_str()) {
                Claimed::Answered(reply) => return Ok(reply),
                Claimed::Mine(guard) => Some(guard),
            }
        }
        None => None,
    };
    let submission = parse_submission(&fields, client)?;
    let receipt = app.collector.submit(submission)?;
    let reply = if legacy {
        legacy_receipt(&receipt)
    } else {
        receipt_reply(&receipt)
    };
    if let Some(guard) = claim.as_mut() {
        guard.answer = Some(reply.clone());
    }
    Ok(reply)
}

fn receipt_reply(r: &Receipt) -> Reply {
    Reply::json(
        201,
        &json!({
            "id": r.id,
            "filename": r.filename,
            "label": r.label.value(),
            "timestamp": rfc3339(&r.timestamp),
        }),
    )
}

fn legacy_receipt(r: &Receipt) -> Reply {
    Reply::json(200, &json!({ "status": "ok", "filename": r.filename }))
}

/// The sample a JSON object describes: strokes win over an image.
fn parse_submission(fields: &Map<String, Value>, client: IpAddr) -> Result<Submission, Error> {
    let label = parse_label(fields.get("label"))?;
    let present = |name| fields.get(name).filter(|v| !v.is_null());
    let drawing = match (present("strokes"), present("image")) {
        (Some(strokes), _) => Drawing::Strokes(Sketch::from_json(strokes)?),
        (None, Some(Value::String(url))) => {
            Drawing::Pixels(picture::normalize_png(&picture::png_from_data_url(url)?)?)
        }
        (None, Some(_)) => {
            return Err(Error::BadImage(
                "image must be a data:image/png;base64,... URL".into(),
            ));
        }
        (None, None) => return Err(Error::NothingDrawn),
    };
    let session = match present("session") {
        None => None,
        Some(Value::String(id)) => Some(Session::new(id)?),
        Some(_) => return Err(Error::BadSession),
    };
    Ok(Submission {
        label,
        drawing,
        source: Source::Web,
        client: client.to_string(),
        session,
    })
}

/// An integer 0–9, or a one-digit string as the original page sent.
fn parse_label(value: Option<&Value>) -> Result<Digit, Error> {
    match value {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| Error::BadLabel(n.to_string()))
            .and_then(Digit::try_from),
        Some(Value::String(s)) => Digit::try_from(s.as_str()),
        None | Some(Value::Null) => Err(Error::BadLabel("no label".into())),
        Some(other) => Err(Error::BadLabel(other.to_string())),
    }
}

/// Reads the body, at most `limit` bytes and within [`BODY_DEADLINE`]. The
/// limit was checked against `Content-Length` before; here it also holds for
/// a chunked body, whose length is known only by reading it.
fn read_body(request: &mut Request, limit: usize, consumed: &mut bool) -> Result<Vec<u8>, Refusal> {
    let announced = request.body_length();
    let deadline = Instant::now() + BODY_DEADLINE;
    let mut body = Vec::with_capacity(announced.unwrap_or(4096).min(limit));
    let mut chunk = [0u8; 16 * 1024];
    let reader = request.as_reader();
    loop {
        if Instant::now() > deadline {
            return Err(Refusal::SlowBody);
        }
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if body.len() + n > limit {
                    return Err(Refusal::TooLarge { limit });
                }
                body.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(Refusal::BodyCut),
        }
    }
    *consumed = true;
    if announced.is_some_and(|n| body.len() < n) {
        return Err(Refusal::BodyCut);
    }
    Ok(body)
}

/// Writes the response. tiny_http 0.12 reads (and discards) the unread rest
/// of a body when a request is dropped, with no timeout and into one buffer
/// of the announced size. So a request whose body was left unread on the
/// socket is answered on a thread of its own (a slow client then holds only
/// that thread), and one announcing an absurd size is answered and its
/// connection parked rather than drained: draining would allocate the
/// announced size and could abort the process.
fn finish(request: Request, reply: Reply, consumed: bool) {
    let announced = request.body_length();
    let expects = header(&request, "Expect").is_some();
    let unread = match announced {
        _ if consumed => None,
        Some(0) | None => None,
        Some(n) if n <= BUFFERED_BY_TINY_HTTP && !expects => None,
        Some(n) => Some(n),
    };
    let status = reply.status;
    let response = reply.into_response();
    match unread {
        None => respond(request, response),
        Some(n) if n <= DRAIN_MAX => {
            let spawned = std::thread::Builder::new()
                .name("http-drain".into())
                .spawn(move || respond(request, response));
            if let Err(e) = spawned {
                eprintln!("digit-kiosk: cannot start a thread to answer a client: {e}");
            }
        }
        Some(n) => {
            eprintln!(
                "digit-kiosk: {} announced a {n}-byte body; answered {status} and left its connection idle",
                client_ip(&request)
            );
            // The stream holds the unread body; dropping it would drain it.
            std::mem::forget(request.upgrade("HTTP/1.1", response));
        }
    }
}

fn respond(request: Request, response: Response<std::io::Cursor<Vec<u8>>>) {
    // A client that went away has nothing left to tell.
    let _ = request.respond(response);
}

fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn client_ip(request: &Request) -> IpAddr {
    request
        .remote_addr()
        .map(|a| a.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Token buckets per client address: `per_min` tokens, refilled evenly.
struct RateLimiter {
    per_min: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    fn new(per_min: u32) -> Self {
        Self {
            per_min,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one submission from `client`'s allowance.
    fn take(&self, client: IpAddr) -> Result<(), Refusal> {
        if self.per_min == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_min);
        let per_sec = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        if buckets.len() >= RATE_TABLE && !buckets.contains_key(&client) {
            // Forget addresses whose allowance has filled up again.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < capacity
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Refusal::TooMany {
                retry_after: ((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64,
            })
        }
    }
}

/// Recent submission ids per client address and their answers, so a repeat
/// (double tap, retry after a lost answer) gets the first answer instead of
/// storing again. Only successes are remembered: after a failure the next
/// try stores.
struct Recent {
    entries: Mutex<RecentMap>,
    changed: Condvar,
}

#[derive(Default)]
struct RecentMap {
    /// `None` while the first request with this id is being stored.
    answers: HashMap<(IpAddr, String), Option<Reply>>,
    order: VecDeque<(IpAddr, String)>,
}

enum Claimed<'a> {
    /// An earlier request with this id was stored; its answer.
    Answered(Reply),
    /// This request stores; the guard records its answer when dropped.
    Mine(ClaimGuard<'a>),
}

struct ClaimGuard<'a> {
    recent: &'a Recent,
    key: (IpAddr, String),
    answer: Option<Reply>,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        let mut map = lock(&self.recent.entries);
        match self.answer.take() {
            Some(reply) => {
                map.answers.insert(self.key.clone(), Some(reply));
            }
            None => {
                map.answers.remove(&self.key);
            }
        }
        drop(map);
        self.recent.changed.notify_all();
    }
}

impl Recent {
    fn claim(&self, client: IpAddr, id: &str) -> Claimed<'_> {
        let key = (client, id.to_string());
        let give_up = Instant::now() + REPEAT_WAIT;
        let mut map = lock(&self.entries);
        loop {
            match map.answers.get(&key) {
                Some(Some(reply)) => return Claimed::Answered(reply.clone()),
                Some(None) if Instant::now() < give_up => {
                    // The first request with this id is still storing: wait for its answer.
                    let wait = give_up.saturating_duration_since(Instant::now());
                    map = self
                        .changed
                        .wait_timeout(map, wait)
                        .map(|(m, _)| m)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                _ => break,
            }
        }
        map.answers.insert(key.clone(), None);
        map.order.push_back(key.clone());
        while map.order.len() > RECENT_IDS {
            if let Some(old) = map.order.pop_front()
                && matches!(map.answers.get(&old), Some(Some(_)))
            {
                map.answers.remove(&old);
            }
        }
        Claimed::Mine(ClaimGuard {
            recent: self,
            key,
            answer: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_a_fitting_status() {
        assert_eq!(Refusal::NotFound.status(), 404);
        assert_eq!(Refusal::TooLarge { limit: 1 }.status(), 413);
        assert_eq!(Refusal::Submit(Error::NothingDrawn).status(), 400);
        assert_eq!(Refusal::Submit(Error::WriterStopped).status(), 503);
        assert!(
            Refusal::TooMany { retry_after: 3 }
                .message()
                .contains("3 s")
        );
    }

    #[test]
    fn labels_as_numbers_or_one_digit_strings() {
        assert_eq!(parse_label(Some(&json!(5))).unwrap().value(), 5);
        assert_eq!(parse_label(Some(&json!("7"))).unwrap().value(), 7);
        assert!(parse_label(Some(&json!(true))).is_err());
        assert!(parse_label(Some(&json!(5.5))).is_err());
        assert!(parse_label(Some(&json!(10))).is_err());
        assert!(parse_label(None).is_err());
    }

    #[test]
    fn rate_limit_refills_per_minute() {
        let r = RateLimiter::new(2);
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert!(r.take(ip).is_ok());
        assert!(r.take(ip).is_ok());
        let Err(Refusal::TooMany { retry_after }) = r.take(ip) else {
            panic!("third should be refused")
        };
        assert!((1..=30).contains(&retry_after));
        assert!(
            r.take(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))).is_ok(),
            "per address"
        );
        assert!(RateLimiter::new(0).take(ip).is_ok());
    }
}
