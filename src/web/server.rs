//! The HTTP server: a tiny_http listener and a pool of named worker threads
//! (`http-0`, `http-1`, ...) that answer requests through [`super::routes`].
//!
//! tiny_http reads each connection's request headers on a thread of its own
//! and reads small bodies (up to 1 KiB) there too; larger bodies are read by
//! the worker, with a size limit and a deadline. The pool grows whenever every
//! worker is busy, so a slow or stalled client holds only its own worker and
//! the others keep answering; idle workers beyond the minimum leave again.
//!
//! Stopping ([`Server::stop`]) lets every request already taken finish (a
//! sample being stored is stored and answered), answers what is still queued
//! with 503, then closes the listener.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::ServeConfig;
use super::routes::{self, App};
use crate::collector::Collector;
use crate::error::{Error, Result};

/// Workers kept even when idle.
const MIN_WORKERS: usize = 8;

/// Most workers at once; beyond this, requests wait in tiny_http's queue.
const MAX_WORKERS: usize = 512;

/// An idle worker beyond the minimum leaves after this long.
const IDLE_LINGER: Duration = Duration::from_secs(20);

/// How long [`Server::stop`] waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(15);

struct Shared {
    /// `None` once stopping has begun; workers take a clone for each wait.
    http: Mutex<Option<Arc<tiny_http::Server>>>,
    app: App,
    stopping: AtomicBool,
    /// Workers waiting for a request.
    idle: AtomicUsize,
    /// Workers alive, with a signal when one leaves.
    live: Mutex<usize>,
    left: Condvar,
    /// Number for the next worker's name.
    next_name: AtomicUsize,
}

/// A running server. Dropping it stops it as [`Server::stop`] does.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    urls: Vec<String>,
    stopped: bool,
}

impl Server {
    /// Binds `config.addr` and starts answering, storing through `collector`.
    /// A port in use or an address not of this computer is a
    /// [`Error::Usage`] with the address in its message.
    pub fn start(collector: Collector, config: &ServeConfig) -> Result<Server> {
        let listener = TcpListener::bind(config.addr).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "the port is in use (another server? choose one with --port)".into()
                }
                std::io::ErrorKind::AddrNotAvailable => {
                    "that address is not one of this computer's".into()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied (ports below 1024 need root)".into()
                }
                _ => e.to_string(),
            };
            Error::Usage(format!("cannot listen on {}: {why}", config.addr))
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", config.addr)))?;
        let http = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::Usage(format!("cannot listen on {local_addr}: {e}")))?;
        let shared = Arc::new(Shared {
            http: Mutex::new(Some(Arc::new(http))),
            app: App::new(collector, config.body_limit, config.rate_limit_per_min),
            stopping: AtomicBool::new(false),
            idle: AtomicUsize::new(0),
            live: Mutex::new(0),
            left: Condvar::new(),
            next_name: AtomicUsize::new(0),
        });
        for _ in 0..MIN_WORKERS {
            spawn_worker(&shared)
                .map_err(|e| Error::Usage(format!("cannot start the HTTP workers: {e}")))?;
        }
        let urls = super::urls_for(local_addr, config.lan);
        Ok(Server {
            shared,
            local_addr,
            urls,
            stopped: false,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URLs to show: the station's LAN addresses with `--lan`, else the
    /// loopback URL.
    pub fn urls(&self) -> Vec<String> {
        self.urls.clone()
    }

    /// Stops: no new request is taken, requests in flight finish and are
    /// answered, queued ones get 503, the listener closes. Waits up to 15 s
    /// for clients still sending; a client stalled longer keeps only its own
    /// worker thread until it goes away.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::SeqCst);
        let http = lock(&shared.http).take();
        let give_up = Instant::now() + STOP_GRACE;
        let mut live = lock(&shared.live);
        while *live > 0 && Instant::now() < give_up {
            if let Some(http) = &http {
                // Each unblock wakes one waiting worker, which then sees `stopping`.
                for _ in 0..*live {
                    http.unblock();
                }
            }
            live = shared
                .left
                .wait_timeout(live, Duration::from_millis(50))
                .map(|(l, _)| l)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let stuck = *live;
        drop(live);
        if stuck > 0 {
            eprintln!(
                "digit-kiosk: {stuck} client(s) still sending; their connections are left to close by themselves"
            );
        }
        if let Some(http) = http {
            while let Ok(Some(request)) = http.try_recv() {
                routes::refuse_stopping(request);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn spawn_worker(shared: &Arc<Shared>) -> std::io::Result<()> {
    {
        let mut live = lock(&shared.live);
        if *live >= MAX_WORKERS || shared.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        *live += 1;
    }
    let n = shared.next_name.fetch_add(1, Ordering::Relaxed);
    let for_worker = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("http-{n}"))
        .spawn(move || work(&for_worker));
    if let Err(e) = spawned {
        *lock(&shared.live) -= 1;
        shared.left.notify_all();
        return Err(e);
    }
    Ok(())
}

fn work(shared: &Arc<Shared>) {
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Some(http) = lock(&shared.http).clone() else {
            break;
        };
        shared.idle.fetch_add(1, Ordering::SeqCst);
        let got = http.recv_timeout(IDLE_LINGER);
        shared.idle.fetch_sub(1, Ordering::SeqCst);
        drop(http);
        match got {
            Ok(Some(request)) => {
                if shared.idle.load(Ordering::SeqCst) == 0 {
                    // Keep someone listening while this worker is busy.
                    if let Err(e) = spawn_worker(shared) {
                        eprintln!("digit-kiosk: cannot start another HTTP worker: {e}");
                    }
                }
                routes::handle(&shared.app, request);
            }
            Ok(None) => {
                // Idle (or woken to stop): leave if enough others remain.
                let mut live = lock(&shared.live);
                if shared.stopping.load(Ordering::SeqCst) || *live > MIN_WORKERS {
                    *live -= 1;
                    drop(live);
                    shared.left.notify_all();
                    return;
                }
            }
            Err(e) => {
                // tiny_http's accept loop has ended: nothing more will come.
                if !shared.stopping.load(Ordering::SeqCst) {
                    eprintln!("digit-kiosk: the HTTP server stopped accepting connections: {e}");
                }
                break;
            }
        }
    }
    *lock(&shared.live) -= 1;
    shared.left.notify_all();
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
