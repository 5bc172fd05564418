//! Sends queued deliveries: one POST per attempt with a timeout, signed; 2xx is delivered,
//! anything else (another status, a timeout, no connection) is retried with exponential
//! backoff and jitter up to [`MAX_ATTEMPTS`], then failed. Runs as its own task: a slow or
//! dead receiver delays other deliveries at most by the timeout, and scoring never.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::{Delivery, MAX_ATTEMPTS, signature};
use crate::state::State;

/// How deliveries are sent.
#[derive(Debug, Clone)]
pub struct Sender {
    timeout: Duration,
    /// The first retry waits about this long; each next one twice as long (at most an hour).
    pub retry_base: Duration,
    /// Whether targets may resolve to non-public addresses (`[api] alert_private_targets`).
    pub allow_private: bool,
}

/// Why an attempt was not made, for good (no retry).
struct Refused(String);

impl Sender {
    pub fn new(timeout: Duration, retry_base: Duration, allow_private: bool) -> Sender {
        Sender {
            timeout,
            retry_base,
            allow_private,
        }
    }

    /// A client for `url` that connects only to the address checked here: the host is
    /// resolved once, refused when an address is not public (unless allowed), and pinned,
    /// so a name cannot resolve to a public address for the check and a private one for the
    /// connection.
    async fn client_for(&self, url: &str) -> Result<reqwest::Client, Result<Refused, String>> {
        let u = reqwest::Url::parse(url).map_err(|e| Ok(Refused(format!("bad URL: {e}"))))?;
        let host = u.host_str().unwrap_or_default().to_string();
        let port = u.port_or_known_default().unwrap_or(443);
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|e| Err(format!("cannot resolve {host}: {e}")))?
            .collect();
        let Some(first) = addrs.first().copied() else {
            return Err(Err(format!("{host} has no address")));
        };
        if !self.allow_private
            && let Some(bad) = addrs.iter().find(|a| !super::is_public(a.ip()))
        {
            return Err(Ok(Refused(format!(
                "refused: {host} resolves to {}, not a public address (set [api] \
                 alert_private_targets = true to allow it)",
                bad.ip()
            ))));
        }
        reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("OmniFy-Alerts/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&bare, first)
            .build()
            .map_err(|e| Err(format!("alert HTTP client: {e}")))
    }

    /// The wait before retry number `attempt` (1-based): base·2^(attempt−1), times a jitter
    /// in [0.5, 1), at most an hour.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let exp = 2f64.powi((attempt - 1).clamp(0, 20) as i32);
        let jitter = rand::thread_rng().gen_range(0.5..1.0);
        Duration::from_secs_f64((self.retry_base.as_secs_f64() * exp * jitter).min(3600.0))
    }

    /// One attempt at `d`, recorded. Returns whether it was delivered.
    pub async fn attempt(&self, state: &State, d: &Delivery) -> bool {
        let dest = match state.alert_destination(&d.destination, None) {
            Ok(Some(x)) => x,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(error = %e, "reading an alert destination failed");
                return false;
            }
        };
        let client = match self.client_for(&dest.url).await {
            Ok(c) => c,
            Err(why) => {
                let (error, retry) = match why {
                    Ok(Refused(m)) => (m, false),
                    Err(m) => (m, true),
                };
                self.record(state, d, false, None, Some(error), retry);
                return false;
            }
        };
        let t = chrono::Utc::now().timestamp();
        let res = client
            .post(&dest.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                "OmniFy-Signature",
                signature(&dest.secret, t, d.payload.as_bytes()),
            )
            .header("OmniFy-Delivery", &d.id)
            .body(d.payload.clone())
            .send()
            .await;
        let (ok, status, error) = match res {
            Ok(r) if r.status().is_success() => (true, Some(r.status().as_u16()), None),
            Ok(r) => (
                false,
                Some(r.status().as_u16()),
                Some(format!("answered {}", r.status())),
            ),
            Err(e) => (
                false,
                None,
                Some(if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    format!("no answer: {}", error_chain(&e))
                }),
            ),
        };
        self.record(state, d, ok, status, error, true);
        ok
    }

    /// Records an attempt; a failed one is retried when `retry` and attempts remain.
    fn record(
        &self,
        state: &State,
        d: &Delivery,
        ok: bool,
        status: Option<u16>,
        error: Option<String>,
        retry: bool,
    ) {
        let attempts = d.attempts + 1;
        let retry_at = (!ok && retry && attempts < MAX_ATTEMPTS).then(|| {
            let wait = chrono::Duration::from_std(self.backoff(attempts)).unwrap_or_default();
            (chrono::Utc::now() + wait).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        });
        if let Err(e) = state.record_attempt(
            &d.id,
            &d.destination,
            ok,
            status,
            error.as_deref(),
            retry_at.as_deref(),
        ) {
            tracing::error!(error = %e, "recording an alert delivery failed");
        }
        if !ok {
            tracing::warn!(delivery = %d.id, destination = %d.destination, attempt = attempts,
                error = error.as_deref().unwrap_or(""), "alert delivery failed");
        }
    }

    /// Sends every delivery due now; returns how many were attempted.
    pub async fn run_due(&self, state: &State) -> usize {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let due = match state.due_deliveries(&at, 100) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "reading due alert deliveries failed");
                return 0;
            }
        };
        for d in &due {
            self.attempt(state, d).await;
        }
        due.len()
    }

    /// Sends due deliveries for as long as the server runs, looking again every `every`
    /// when none was due.
    pub async fn run(self, state: Arc<State>, every: Duration) {
        loop {
            if self.run_due(&state).await == 0 {
                tokio::time::sleep(every).await;
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
