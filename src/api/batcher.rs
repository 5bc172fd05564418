//! Dynamic batching of small scoring requests. Each request's features are computed on its
//! own rows (row by row), and the model runs once over every request waiting when a scorer
//! thread picks them up: a model call (and the driver occlusions, ten more calls) has a fixed
//! cost that one creative would otherwise pay alone.
//!
//! Requests never influence each other: features never mix rows of two requests, and
//! requests are grouped by tenant, champion version and as-of day. A test checks that batched
//! answers equal one-by-one answers.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use super::champions::{Champion, Model};
use super::error::ApiError;
use crate::fatigue::{FatigueError, JobConfig, ScoreRow, prepare_input, score_prepared};
use crate::features::input::DayInput;
use crate::features::rows::Keep;

/// Most creatives scored in one batch.
pub const MAX_BATCH_CREATIVES: usize = 512;

/// One queued request.
struct Item {
    tenant: String,
    champion: Arc<Champion>,
    as_of: NaiveDate,
    input: DayInput,
    creatives: usize,
    reply: tokio::sync::oneshot::Sender<Result<Vec<ScoreRow>, ApiError>>,
}

/// The queue and its scorer threads.
pub struct Batcher {
    tx: SyncSender<Item>,
}

/// A scoring failure as an answer: bad data is 422, anything else 500.
pub(crate) fn score_err(e: FatigueError) -> ApiError {
    match e {
        FatigueError::Data(m) => ApiError::unprocessable(m),
        other => ApiError::internal(other),
    }
}

/// Scores several requests of the same tenant, champion and as-of (each input already cut at
/// it): each request's features are computed on its own rows (row by row, no Polars query),
/// then one model run scores all of them; returns each request's scores.
pub(crate) fn run_group(
    tenant: &str,
    champion: &Champion,
    as_of: NaiveDate,
    requests: &[&DayInput],
    spec: &JobConfig,
) -> Result<Vec<Vec<ScoreRow>>, ApiError> {
    let Model::Fatigue(model) = &champion.model else {
        return Err(ApiError::internal("fatigue slot holds another kind"));
    };
    let frames = requests
        .iter()
        .map(|input| prepare_input(tenant, input, &spec.base, Keep::Last))
        .collect::<Result<Vec<_>, _>>()
        .map_err(score_err)?;
    score_prepared(&frames, as_of, model, champion.version(), spec).map_err(score_err)
}

/// Scores a group and answers each request. If a joint run fails, each request is scored
/// alone, so one request's bad data cannot fail its neighbours.
fn answer_group(items: Vec<Item>, spec: &JobConfig) {
    let Some(first) = items.first() else {
        return;
    };
    let (tenant, champion, as_of) = (first.tenant.clone(), first.champion.clone(), first.as_of);
    let reqs: Vec<&DayInput> = items.iter().map(|i| &i.input).collect();
    match run_group(&tenant, &champion, as_of, &reqs, spec) {
        Ok(per) => {
            for (it, v) in items.into_iter().zip(per) {
                let _ = it.reply.send(Ok(v));
            }
        }
        Err(e) if items.len() == 1 => {
            if let Some(it) = items.into_iter().next() {
                let _ = it.reply.send(Err(e));
            }
        }
        Err(_) => {
            for it in items {
                let r = run_group(&tenant, &champion, as_of, &[&it.input], spec)
                    .map(|mut v| v.pop().unwrap_or_default());
                let _ = it.reply.send(r);
            }
        }
    }
}

fn worker(rx: Arc<Mutex<Receiver<Item>>>, spec: Arc<JobConfig>) {
    loop {
        let mut batch = Vec::new();
        {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(it) => batch.push(it),
                Err(_) => return,
            }
            let mut n = batch[0].creatives;
            while n < MAX_BATCH_CREATIVES {
                match rx.try_recv() {
                    Ok(it) => {
                        n += it.creatives;
                        batch.push(it);
                    }
                    Err(_) => break,
                }
            }
        }
        let mut groups: HashMap<(String, String, NaiveDate), Vec<Item>> = HashMap::new();
        for it in batch {
            groups
                .entry((
                    it.tenant.clone(),
                    it.champion.version().to_string(),
                    it.as_of,
                ))
                .or_default()
                .push(it);
        }
        for (_, items) in groups {
            // A panic while scoring answers the group's requests 500 (their reply channels
            // are dropped) and leaves this thread serving the next ones.
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                answer_group(items, &spec)
            }));
            if caught.is_err() {
                tracing::error!("a scoring batch panicked; its requests were answered 500");
            }
        }
    }
}

impl Batcher {
    /// Starts `threads` scorer threads.
    pub fn start(threads: usize, spec: JobConfig) -> Batcher {
        let (tx, rx) = sync_channel::<Item>(4096);
        let rx = Arc::new(Mutex::new(rx));
        let spec = Arc::new(spec);
        for i in 0..threads.max(1) {
            let (rx, spec) = (rx.clone(), spec.clone());
            let _ = std::thread::Builder::new()
                .name(format!("omnify-score-{i}"))
                .stack_size(32 << 20)
                .spawn(move || worker(rx, spec));
        }
        Batcher { tx }
    }

    /// Queues a request and waits for its scores.
    pub async fn score(
        &self,
        tenant: &str,
        champion: Arc<Champion>,
        as_of: NaiveDate,
        input: DayInput,
        creatives: usize,
    ) -> Result<Vec<ScoreRow>, ApiError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let item = Item {
            tenant: tenant.to_string(),
            champion,
            as_of,
            input,
            creatives,
            reply,
        };
        match self.tx.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::unavailable(
                    "the scoring queue is full; retry shortly",
                    1,
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("the scorer threads stopped"));
            }
        }
        rx.await
            .map_err(|_| ApiError::internal("a scorer thread dropped a request"))?
    }
}
