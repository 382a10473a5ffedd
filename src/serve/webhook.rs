//! The webhook: alerts POSTed as JSON to the operator's URL from a bounded
//! queue, each retried with backoff, never holding up ingest. (The rules that
//! raise alerts are in `alerts`, which knows nothing of the server's state.)

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::state::Shared;

/// Alerts waiting for the webhook.
pub const WEBHOOK_QUEUE: usize = 1024;

/// Delivers alerts to `url` one by one, retrying each with exponential backoff
/// (0.5 s doubling, 6 tries); runs until the sender side is dropped.
pub async fn webhook(url: String, mut rx: mpsc::Receiver<String>, shared: Arc<Shared>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(true)
        .build()
        .into();
    while let Some(body) = rx.recv().await {
        let mut delay = Duration::from_millis(500);
        let mut ok = false;
        for attempt in 0..6 {
            let (agent, target, body) = (agent.clone(), url.clone(), body.clone());
            // ureq is blocking: keep it off the async workers.
            let res = tokio::task::spawn_blocking(move || {
                agent
                    .post(&target)
                    .header("content-type", "application/json")
                    .send(body.as_bytes())
                    .map(|_| ())
            })
            .await;
            match res {
                Ok(Ok(())) => {
                    ok = true;
                    break;
                }
                Ok(Err(e)) => {
                    if attempt == 5 {
                        eprintln!(
                            "sshmap: webhook {}: {e} (giving up on this alert)",
                            crate::escape::terminal(&url)
                        );
                    }
                }
                Err(_) => break,
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
        if ok {
            shared.metrics.webhook_sent.fetch_add(1, Relaxed);
        } else {
            shared.metrics.webhook_failed.fetch_add(1, Relaxed);
        }
    }
}
