//! Live sources of `serve`, each feeding batches of lines into the pipeline:
//! followed files (`--tail`), the journal (`--journal`) and a syslog listener
//! (`--syslog`, UDP and TCP, RFC 3164 and RFC 5424, newline or octet-counted
//! framing as rsyslog's `omfwd` sends them).
//!
//! A file's checkpoint moves only after the pipeline acknowledged its lines,
//! so a crash re-reads at most the batch in flight and a clean shutdown none.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;

use super::state::{Batch, Shared};
use crate::parse::MAX_LINE;
use crate::source::tail::{self, Checkpoints, Follower, Position};

/// Positions of the followed files, shared by their threads and saved together.
#[derive(Clone, Default)]
pub struct CheckpointSet {
    inner: Arc<Mutex<BTreeMap<String, Position>>>,
    path: Option<PathBuf>,
}

impl CheckpointSet {
    pub fn load(path: Option<PathBuf>) -> std::io::Result<CheckpointSet> {
        let files = match &path {
            Some(p) => {
                let c = Checkpoints::load(p)?;
                if c.version < tail::VERSION && !c.files.is_empty() {
                    eprintln!(
                        "sshmap: {}: checkpoints of an older sshmap (version {}): each file is checked \
                         against its older fingerprint once, fingerprinted anew, and saved as version {}",
                        crate::escape::terminal(&p.display().to_string()),
                        c.version,
                        tail::VERSION
                    );
                }
                c.files
            }
            None => BTreeMap::new(),
        };
        Ok(CheckpointSet {
            inner: Arc::new(Mutex::new(files)),
            path,
        })
    }

    pub fn get(&self, key: &str) -> Option<Position> {
        self.inner
            .lock()
            .expect("checkpoint lock")
            .get(key)
            .cloned()
    }

    fn set(&self, key: &str, p: Position) {
        self.inner
            .lock()
            .expect("checkpoint lock")
            .insert(key.to_string(), p);
    }

    /// Writes the file (temp + fsync + rename).
    pub fn flush(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let files = self.inner.lock().expect("checkpoint lock").clone();
        Checkpoints {
            version: tail::VERSION,
            files,
        }
        .save(path)
    }
}

/// Sends a batch and waits until the pipeline has published it.
fn send_and_wait(
    shared: &Shared,
    input: &Arc<str>,
    lines: Vec<Vec<u8>>,
    position: Option<Position>,
) -> bool {
    let (ack, done) = oneshot::channel();
    let batch = Batch {
        input: input.clone(),
        lines,
        received: Instant::now(),
        ack: Some(ack),
        position,
    };
    if shared.ingest.blocking_send(batch).is_err() {
        return false;
    }
    done.blocking_recv().is_ok()
}

/// Follows one path on its own thread until `stop` is set.
/// `resume` (from the store) wins over the checkpoint file: it was written in
/// the same transaction as the events.
pub fn spawn_tail(
    path: PathBuf,
    shared: Arc<Shared>,
    cps: CheckpointSet,
    resume: Option<Position>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("tail {}", path.display()))
        .spawn(move || {
            let key = path.display().to_string();
            let input: Arc<str> = Arc::from(key.as_str());
            let mut f = Follower::new(&path, resume.or_else(|| cps.get(&key)), MAX_LINE);
            let mut warned = false;
            while !stop.load(Relaxed) {
                let mut lines = Vec::new();
                let more = match f.poll(&mut lines) {
                    Ok(m) => {
                        warned = false;
                        m
                    }
                    Err(e) => {
                        if !warned {
                            eprintln!(
                                "sshmap: --tail {}: {e} (retrying)",
                                crate::escape::terminal(&key)
                            );
                            warned = true;
                        }
                        false
                    }
                };
                for note in f.take_notes() {
                    eprintln!("sshmap: --tail {note}");
                }
                if !lines.is_empty() && !send_and_wait(&shared, &input, lines, f.position()) {
                    break;
                }
                if let Some(p) = f.position() {
                    cps.set(&key, p);
                }
                if !more {
                    std::thread::sleep(shared.cfg.poll);
                }
            }
        })
        .expect("spawn tail thread")
}

/// `journalctl -f -o json` for sshd, resuming after the last cursor handed to the pipeline.
pub async fn journal(shared: Arc<Shared>, cps: CheckpointSet) -> std::io::Result<()> {
    const KEY: &str = "journal";
    let mut cmd = tokio::process::Command::new("journalctl");
    cmd.arg("-f").args(crate::source::journalctl_args(
        shared.cfg.journal_dir.as_deref(),
    ));
    // The cursor is kept in the checkpoint file as the `head` of a pseudo-position's key.
    let cursor = cps
        .inner
        .lock()
        .expect("checkpoint lock")
        .keys()
        .find_map(|k| k.strip_prefix("journal-cursor:").map(str::to_string));
    match &cursor {
        Some(c) => cmd.arg(format!("--after-cursor={c}")),
        None => cmd.args(["-n", "0"]),
    };
    cmd.stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let out = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(out).lines();
    let input: Arc<str> = Arc::from(KEY);
    while let Some(line) = lines.next_line().await? {
        let c = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| {
                v.get("__CURSOR")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            });
        let (ack, done) = oneshot::channel();
        let batch = Batch {
            input: input.clone(),
            lines: vec![line.into_bytes()],
            received: Instant::now(),
            ack: Some(ack),
            position: None,
        };
        if shared.ingest.send(batch).await.is_err() || done.await.is_err() {
            break;
        }
        if let Some(c) = c {
            let mut m = cps.inner.lock().expect("checkpoint lock");
            m.retain(|k, _| !k.starts_with("journal-cursor:"));
            m.insert(format!("journal-cursor:{c}"), Position::default());
        }
    }
    Ok(())
}

/// Listens for syslog on UDP and TCP at the same address.
pub async fn syslog(udp: UdpSocket, tcp: TcpListener, shared: Arc<Shared>) {
    let s2 = shared.clone();
    tokio::spawn(async move {
        let input: Arc<str> = Arc::from("syslog:udp");
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _peer)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            let msg = &buf[..n];
            let msg = msg.strip_suffix(b"\n").unwrap_or(msg).to_vec();
            let batch = Batch {
                input: input.clone(),
                lines: vec![msg],
                received: Instant::now(),
                ack: None,
                position: None,
            };
            // UDP senders cannot be slowed down: drop and count rather than queue without bound.
            if s2.ingest.try_send(batch).is_err() {
                s2.metrics.syslog_dropped.fetch_add(1, Relaxed);
            }
        }
    });
    loop {
        let Ok((sock, _peer)) = tcp.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let input: Arc<str> = Arc::from("syslog:tcp");
            let mut reader = BufReader::with_capacity(64 << 10, sock);
            let mut buf = Vec::with_capacity(64 << 10);
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                let n = match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut msgs = Vec::new();
                if crate::source::syslog::split_frames(&mut buf, &mut msgs).is_err() {
                    shared.metrics.ingest_error("bad_request");
                    break;
                }
                if msgs.is_empty() {
                    continue;
                }
                // Waiting for the pipeline here pushes back on the sender through TCP.
                let batch = Batch {
                    input: input.clone(),
                    lines: msgs,
                    received: Instant::now(),
                    ack: None,
                    position: None,
                };
                if shared.ingest.send(batch).await.is_err() {
                    break;
                }
            }
        });
    }
}
