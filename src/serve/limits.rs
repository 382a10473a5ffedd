//! What keeps `serve` inside its memory budget whatever clients do (DESIGN §6):
//!
//! - [`Listener`]: every connection's writes have a deadline ([`Conn`]): a
//!   client that stops reading is closed after [`ServeConfig::write_timeout`]
//!   instead of holding its unsent answer (an SSE snapshot, a page) for ever;
//!   connections beyond [`ServeConfig::max_connections`] are closed at once.
//! - [`Budget`]: the process' resident memory, read from `/proc`, against
//!   [`ServeConfig::memory_budget`]; heavy routes answer 503 above it.
//! - [`RateLimiter`]: a token bucket per ingest client (address and token).
//!
//! [`ServeConfig::write_timeout`]: super::ServeConfig::write_timeout
//! [`ServeConfig::max_connections`]: super::ServeConfig::max_connections
//! [`ServeConfig::memory_budget`]: super::ServeConfig::memory_budget

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// Connection counters for `/metrics`, shared by every [`Conn`].
#[derive(Default)]
pub struct ConnMetrics {
    pub open: AtomicI64,
    /// Connections whose writes wait on the client now.
    pub blocked: AtomicI64,
    /// SSE streams among them.
    pub sse_blocked: AtomicI64,
    /// Connections closed because a write made no progress in time.
    pub timed_out: AtomicU64,
    /// Connections closed at accept: over `max_connections`.
    pub refused: AtomicU64,
}

/// What a handler may know of its connection ([`axum::extract::ConnectInfo`]).
pub struct ConnState {
    pub peer: SocketAddr,
    flags: Mutex<Flags>,
    metrics: Arc<ConnMetrics>,
}

#[derive(Default)]
struct Flags {
    blocked: bool,
    sse: bool,
    timed_out: bool,
}

impl ConnState {
    fn set_blocked(&self, on: bool) {
        let mut f = self.flags.lock().expect("conn flags");
        if f.blocked == on {
            return;
        }
        f.blocked = on;
        let d = if on { 1 } else { -1 };
        self.metrics.blocked.fetch_add(d, Relaxed);
        if f.sse {
            self.metrics.sse_blocked.fetch_add(d, Relaxed);
        }
    }

    /// Marks the connection as carrying an SSE stream (or no longer).
    pub fn set_sse(&self, on: bool) {
        let mut f = self.flags.lock().expect("conn flags");
        if f.sse == on {
            return;
        }
        f.sse = on;
        if f.blocked {
            self.metrics
                .sse_blocked
                .fetch_add(if on { 1 } else { -1 }, Relaxed);
        }
    }

    /// True once a write timed out: the client stopped reading.
    pub fn timed_out(&self) -> bool {
        self.flags.lock().expect("conn flags").timed_out
    }
}

/// The connection info handlers extract.
#[derive(Clone)]
pub struct ConnInfo(pub Arc<ConnState>);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>>
    for ConnInfo
{
    fn connect_info(s: axum::serve::IncomingStream<'_, Listener>) -> Self {
        ConnInfo(s.io().state.clone())
    }
}

/// A TCP connection whose writes have a deadline.
pub struct Conn {
    io: TcpStream,
    state: Arc<ConnState>,
    timeout: Duration,
    /// Set while a write waits on the client.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Conn {
    fn track<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => {
                if self.deadline.is_none() {
                    self.deadline = Some(Box::pin(tokio::time::sleep(self.timeout)));
                    self.state.set_blocked(true);
                }
                let d = self.deadline.as_mut().expect("set above");
                if d.as_mut().poll(cx).is_ready() {
                    self.deadline = None;
                    self.state.set_blocked(false);
                    self.state.flags.lock().expect("conn flags").timed_out = true;
                    self.state.metrics.timed_out.fetch_add(1, Relaxed);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    )));
                }
                Poll::Pending
            }
            ready => {
                if self.deadline.take().is_some() {
                    self.state.set_blocked(false);
                }
                ready
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.state.set_blocked(false);
        self.state.metrics.open.fetch_sub(1, Relaxed);
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.track(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.track(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.track(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.track(cx, r)
    }
}

/// The server's listener: [`Conn`]s, at most `max` open at once.
pub struct Listener {
    inner: TcpListener,
    metrics: Arc<ConnMetrics>,
    timeout: Duration,
    max: usize,
}

impl Listener {
    pub fn new(
        inner: TcpListener,
        metrics: Arc<ConnMetrics>,
        timeout: Duration,
        max: usize,
    ) -> Listener {
        Listener {
            inner,
            metrics,
            timeout,
            max,
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((io, peer)) => {
                    if self.metrics.open.load(Relaxed) >= self.max as i64 {
                        // Closed at once: a flood of idle connections costs a socket each, never more.
                        self.metrics.refused.fetch_add(1, Relaxed);
                        drop(io);
                        continue;
                    }
                    // No Nagle delay: SSE frames are small and latency is the point.
                    let _ = io.set_nodelay(true);
                    self.metrics.open.fetch_add(1, Relaxed);
                    let state = Arc::new(ConnState {
                        peer,
                        flags: Mutex::default(),
                        metrics: self.metrics.clone(),
                    });
                    return (
                        Conn {
                            io,
                            state,
                            timeout: self.timeout,
                            deadline: None,
                        },
                        peer,
                    );
                }
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The process' resident memory, in bytes (0 where `/proc` is missing).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Gives freed memory back to the system: glibc keeps it in its arenas
/// otherwise, and RSS would stay at the peak of the last burst of requests.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only returns free heap pages to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Resident memory against the budget, read at most every 100 ms.
pub struct Budget {
    pub limit: u64,
    rss: AtomicU64,
    /// When `rss` was read, microseconds since `epoch`.
    read_at: AtomicU64,
    epoch: Instant,
    /// Answers refused for memory.
    pub refused: AtomicU64,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            rss: AtomicU64::new(0),
            read_at: AtomicU64::new(0),
            epoch: Instant::now(),
            refused: AtomicU64::new(0),
        }
    }

    /// Resident memory now (at most 100 ms old).
    pub fn rss(&self) -> u64 {
        let now = self.epoch.elapsed().as_micros() as u64 + 1;
        let at = self.read_at.load(Relaxed);
        if at == 0 || now.saturating_sub(at) > 100_000 {
            self.read_at.store(now, Relaxed);
            self.rss.store(rss_bytes(), Relaxed);
        }
        self.rss.load(Relaxed)
    }

    /// True above 90 % of the budget: the rest is headroom for answers in
    /// flight. Never without a budget (zero).
    pub fn over(&self) -> bool {
        let over = self.limit > 0 && self.rss() > self.limit / 10 * 9;
        if over {
            self.refused.fetch_add(1, Relaxed);
        }
        over
    }
}

/// A client: its address (none in tests without a socket) and its token's name.
type Client = (Option<IpAddr>, String);

/// Requests per second per client, with bursts of twice that.
pub struct RateLimiter {
    rate: f64,
    /// Each client's bucket level and when it was last filled.
    buckets: Mutex<HashMap<Client, (f64, Instant)>>,
}

/// Clients tracked at most; beyond, idle ones are forgotten first.
const MAX_CLIENTS: usize = 10_000;

impl RateLimiter {
    pub fn new(rate: f64) -> RateLimiter {
        RateLimiter {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from the client's bucket; `Err(seconds to wait)` when empty.
    pub fn check(&self, peer: Option<IpAddr>, token: &str) -> Result<(), f64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let burst = (self.rate * 2.0).max(1.0);
        let now = Instant::now();
        let mut b = self.buckets.lock().expect("rate buckets");
        if b.len() >= MAX_CLIENTS && !b.contains_key(&(peer, token.to_string())) {
            // Full buckets are the same as forgotten ones.
            b.retain(|_, (level, at)| {
                *level + now.duration_since(*at).as_secs_f64() * self.rate < burst
            });
            if b.len() >= MAX_CLIENTS {
                return Err(1.0);
            }
        }
        let (level, at) = b.entry((peer, token.to_string())).or_insert((burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.rate).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *level) / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_at_the_rate() {
        let r = RateLimiter::new(10.0);
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let ok = (0..100).filter(|_| r.check(ip, "t").is_ok()).count();
        assert_eq!(ok, 20, "a burst of twice the rate");
        assert!(r.check(ip, "u").is_ok(), "another token, another bucket");
        std::thread::sleep(Duration::from_millis(250));
        assert!(r.check(ip, "t").is_ok());
        assert!(RateLimiter::new(0.0).check(ip, "t").is_ok());
    }

    #[test]
    fn rss_is_read() {
        assert!(rss_bytes() > 1 << 20);
        assert!(!Budget::new(u64::MAX).over());
        assert!(!Budget::new(0).over(), "zero: no budget");
        assert!(Budget::new(1).over());
    }
}
