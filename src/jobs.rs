//! Batch retraining jobs (docs/design.md §6): jobs are rows of the SQLite state
//! ([`crate::state`]); a bounded pool of worker threads claims them oldest first and runs
//! training off the async runtime, so scoring keeps answering while a job runs. A job trains
//! the tenant's fatigue or budget model from the warehouse, registers the version and promotes
//! it only when it beats the champion on the holdout.
//!
//! - **Progress** (0–1 and the current step) is written to the state as the training reports
//!   it (at most a few times a second).
//! - **Cancel**: a queued job is cancelled at once; a running one stops at its next step and
//!   registers nothing (the worker unwinds out of the training with a private marker, which
//!   skips the panic hook; any other panic in training fails the job instead of the server).
//! - **Restarts**: jobs a dead process left `running` are requeued when workers start.
//! - **Schedule**: [`Scheduler::tick`] enqueues the `[[schedule]]` entries that are due.
//! - **Config**: a job's `config` JSON object is laid over the job spec in force
//!   (`training/fatigue.toml` / `training/budget.toml`), key by key.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::bootstrap;
use crate::budget::fit;
use crate::budget::job::BudgetJobConfig;
use crate::budget::service as budget_service;
use crate::config::{Config, ScheduleEntry};
use crate::fatigue::JobConfig;
use crate::registry::Registry;
use crate::state::{Job, JobStatus, State, StateError};
use crate::warehouse::Warehouse;

/// What a successful job produced.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    pub version: String,
    pub promoted: bool,
    pub message: String,
}

/// Unwinding payload of a cancelled job.
struct Cancelled;

/// Lays `over` (JSON object) over `base` (TOML table), recursing into tables.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The TOML text of the job spec file (if present) with the job's overrides applied.
fn spec_text(file: &str, overrides: Option<&serde_json::Value>) -> Result<String, String> {
    let path = std::path::Path::new(file);
    let mut base: toml::Table = if path.exists() {
        let t = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
        toml::from_str(&t).map_err(|e| format!("{file}: {}", e.message()))?
    } else {
        toml::Table::new()
    };
    if let Some(o) = overrides {
        if !o.is_object() {
            return Err("config: expected a JSON object of job spec sections".into());
        }
        let over = match toml::Value::try_from(o) {
            Ok(toml::Value::Table(t)) => t,
            Ok(_) => return Err("config: expected a JSON object of job spec sections".into()),
            Err(e) => return Err(format!("config: not representable as a job spec: {e}")),
        };
        merge(&mut base, &over);
    }
    toml::to_string(&base).map_err(|e| format!("config: {e}"))
}

/// The fatigue job spec with `overrides`; the error names the field.
pub fn fatigue_spec(overrides: Option<&serde_json::Value>) -> Result<JobConfig, String> {
    let text = spec_text("training/fatigue.toml", overrides)?;
    let cfg = JobConfig::from_toml_str(&text).map_err(|e| format!("config: {e}"))?;
    cfg.validate().map_err(|e| format!("config: {e}"))?;
    Ok(cfg)
}

/// The budget job spec with `overrides`; the error names the field.
pub fn budget_spec(overrides: Option<&serde_json::Value>) -> Result<BudgetJobConfig, String> {
    let text = spec_text("training/budget.toml", overrides)?;
    BudgetJobConfig::from_toml(&text).map_err(|e| format!("config: {e}"))
}

/// Checks a job request before it is queued: known kind, valid config.
pub fn validate_request(kind: &str, config: Option<&serde_json::Value>) -> Result<(), String> {
    match kind {
        "fatigue" => fatigue_spec(config).map(|_| ()),
        "budget" => budget_spec(config).map(|_| ()),
        other => Err(format!("kind: `{other}` is not fatigue or budget")),
    }
}

/// Runs one claimed job to its end and records the result in the state.
pub fn run(cfg: &Config, state: &State, job: &Job) -> Result<JobStatus, StateError> {
    let last = Mutex::new(Instant::now() - Duration::from_secs(1));
    // Reports progress and unwinds when a cancel was requested.
    let report = |p: f64, msg: &str| {
        let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
        let cancel = if l.elapsed() >= Duration::from_millis(200) || p >= 1.0 {
            *l = Instant::now();
            drop(l);
            state.progress(&job.id, p, msg).unwrap_or(false)
        } else {
            drop(l);
            state
                .job(&job.id, None)
                .ok()
                .flatten()
                .is_some_and(|j| j.cancel_requested)
        };
        if cancel {
            std::panic::resume_unwind(Box::new(Cancelled));
        }
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| execute(cfg, job, &report)));
    match result {
        Ok(Ok(o)) => {
            state.succeed(&job.id, &o.version, o.promoted, &o.message)?;
            Ok(JobStatus::Succeeded)
        }
        Ok(Err(e)) => {
            state.fail(&job.id, &e)?;
            Ok(JobStatus::Failed)
        }
        Err(payload) if payload.is::<Cancelled>() => {
            state.mark_cancelled(&job.id, "cancelled while running; nothing registered")?;
            Ok(JobStatus::Cancelled)
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            tracing::error!(job = %job.id, panic = %what, "training panicked");
            state.fail(
                &job.id,
                "internal error while training (see the server log)",
            )?;
            Ok(JobStatus::Failed)
        }
    }
}

fn execute(cfg: &Config, job: &Job, report: &dyn Fn(f64, &str)) -> Result<JobOutcome, String> {
    let wh = Warehouse::open(cfg.warehouse_dir()).map_err(|e| e.to_string())?;
    let reg = Registry::open(&cfg.models_dir);
    match job.kind.as_str() {
        "fatigue" => {
            let spec = fatigue_spec(job.config.as_ref())?;
            report(0.0, "loading the warehouse");
            let mut progress = |i: usize, n: usize, msg: &str| {
                report(0.05 + 0.9 * i as f64 / n.max(1) as f64, msg);
            };
            let (version, promoted) =
                bootstrap::train_fatigue(&wh, &reg, &job.tenant, &spec, &mut progress)?;
            Ok(JobOutcome {
                message: format!(
                    "registered fatigue model {version}{}",
                    if promoted {
                        ", promoted to champion"
                    } else {
                        ", not promoted (the champion is as good or better)"
                    }
                ),
                version,
                promoted,
            })
        }
        "budget" => {
            let spec = budget_spec(job.config.as_ref())?;
            report(0.0, "building entity-period series");
            let (sets, outcome) = budget_service::warehouse_datasets(&wh, &job.tenant, &spec)
                .map_err(|e| e.to_string())?;
            report(0.1, "fitting response curves and their posterior intervals");
            let model =
                fit::train(&sets, &spec.fit, "warehouse", &outcome).map_err(|e| e.to_string())?;
            report(0.95, "registering");
            let d = budget_service::register(&reg, &job.tenant, &model, &spec)
                .map_err(|e| e.to_string())?;
            Ok(JobOutcome {
                message: format!(
                    "registered budget model {}{}",
                    d.version,
                    if d.promoted {
                        ", promoted to champion"
                    } else {
                        ", not promoted"
                    }
                ),
                version: d.version,
                promoted: d.promoted,
            })
        }
        other => Err(format!("unknown job kind `{other}`")),
    }
}

/// Where a job's training runs.
#[derive(Debug, Clone)]
pub enum Runner {
    /// On the worker thread (tests, embedding).
    InProcess,
    /// In a child process of this executable (`omnify job-run`) at a lower CPU priority
    /// (`nice -n 19`): the server keeps its cores for requests, training memory is returned
    /// to the system when the job ends, and a crash in training cannot take the server down.
    Process { exe: std::path::PathBuf },
}

/// Child processes running jobs, by pid, so a shutdown can stop them (their jobs are
/// requeued at the next start).
pub type Children = Arc<Mutex<Vec<u32>>>;

/// Runs `job` in a child process (see [`Runner::Process`]) and returns its final status; a
/// child that dies without recording one fails the job.
pub fn run_in_child(
    exe: &std::path::Path,
    cfg: &Config,
    state: &State,
    job: &Job,
    children: &Children,
) -> Result<JobStatus, StateError> {
    let fail = |m: String| -> Result<JobStatus, StateError> {
        tracing::error!(job = %job.id, error = %m, "cannot run the training process");
        state.fail(
            &job.id,
            "internal error while starting training (see the server log)",
        )?;
        Ok(JobStatus::Failed)
    };
    let cfg_file = match tempfile::Builder::new()
        .prefix("omnify-job-")
        .suffix(".json")
        .tempfile()
    {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    if let Err(e) = serde_json::to_writer(cfg_file.as_file(), cfg) {
        return fail(e.to_string());
    }
    let args = [
        "job-run".to_string(),
        "--job".into(),
        job.id.clone(),
        "--resolved-config".into(),
        cfg_file.path().display().to_string(),
    ];
    // `nice` is part of coreutils; without it the child runs at normal priority.
    let spawned = std::process::Command::new("nice")
        .args(["-n", "19"])
        .arg(exe)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .or_else(|_| {
            std::process::Command::new(exe)
                .args(&args)
                .stdout(std::process::Stdio::null())
                .spawn()
        });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let pid = child.id();
    children.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    let exit = child.wait();
    children
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| *p != pid);
    let now = state.job(&job.id, None)?.map(|j| j.status);
    match now {
        Some(s) if s.finished() => Ok(s),
        _ => {
            let how = match exit {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::error!(job = %job.id, exit = %how, "the training process ended without a result");
            state.fail(
                &job.id,
                "the training process ended without a result (see the server log)",
            )?;
            Ok(JobStatus::Failed)
        }
    }
}

/// Called after each job with its final status.
pub type OnDone = Arc<dyn Fn(&Job, JobStatus) + Send + Sync>;

/// A pool of worker threads claiming jobs from the state.
pub struct Workers {
    children: Children,
    stop: Arc<AtomicBool>,
    wake: Arc<(Mutex<bool>, Condvar)>,
}

impl Workers {
    /// Requeues interrupted jobs and starts `n` workers. `on_done` runs after each job (the
    /// server refreshes its models there).
    pub fn start(
        cfg: Config,
        state: Arc<State>,
        n: usize,
        runner: Runner,
        on_done: OnDone,
    ) -> Result<Workers, String> {
        let requeued = state.requeue_interrupted().map_err(|e| e.to_string())?;
        if requeued > 0 {
            tracing::warn!(requeued, "jobs interrupted by a restart were requeued");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new((Mutex::new(false), Condvar::new()));
        let children: Children = Arc::new(Mutex::new(Vec::new()));
        // Worker threads are detached: they stop at the stop flag (see `stop_now`).
        (0..n.max(1))
            .map(|i| -> Result<_, String> {
                let (cfg, state, stop, wake, on_done) = (
                    cfg.clone(),
                    state.clone(),
                    stop.clone(),
                    wake.clone(),
                    on_done.clone(),
                );
                let (runner, children) = (runner.clone(), children.clone());
                std::thread::Builder::new()
                    .name(format!("omnify-job-{i}"))
                    // Polars plans recurse deeply; training runs on a roomy stack.
                    .stack_size(64 << 20)
                    .spawn(move || worker(cfg, state, stop, wake, on_done, runner, children))
                    .map_err(|e| format!("cannot start a job worker thread: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Workers {
            children,
            stop,
            wake,
        })
    }

    /// A function that wakes the workers, for code that does not own the pool.
    pub fn waker(&self) -> impl Fn() + Send + Sync + 'static {
        let wake = self.wake.clone();
        move || {
            let (m, c) = &*wake;
            *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
            c.notify_all();
        }
    }

    /// Asks workers to stop without waiting and ends running training processes; their jobs
    /// are requeued at the next start.
    pub fn stop_now(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for pid in self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn worker(
    cfg: Config,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    on_done: OnDone,
    runner: Runner,
    children: Children,
) {
    while !stop.load(Ordering::SeqCst) {
        match state.claim() {
            Ok(Some(job)) => {
                tracing::info!(job = %job.id, tenant = %job.tenant, kind = %job.kind, "job started");
                let result = match &runner {
                    Runner::InProcess => run(&cfg, &state, &job),
                    Runner::Process { exe } => run_in_child(exe, &cfg, &state, &job, &children),
                };
                match result {
                    Ok(status) => {
                        tracing::info!(job = %job.id, status = status.as_str(), "job finished");
                        on_done(&job, status);
                    }
                    Err(e) => tracing::error!(job = %job.id, error = %e, "job state update failed"),
                }
            }
            Ok(None) => {
                // Jobs queued by other processes are picked up within a second.
                let (m, c) = &*wake;
                let mut woken = m.lock().unwrap_or_else(|e| e.into_inner());
                if !*woken {
                    woken = c
                        .wait_timeout(woken, Duration::from_secs(1))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                *woken = false;
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Enqueues scheduled retraining.
pub struct Scheduler {
    entries: Vec<ScheduleEntry>,
}

impl Scheduler {
    pub fn new(entries: Vec<ScheduleEntry>) -> Scheduler {
        Scheduler { entries }
    }

    /// Enqueues the jobs of every due entry at `now`; returns the jobs queued. `tenants` lists
    /// the warehouse's tenants (for entries without their own list).
    pub fn tick(
        &self,
        state: &State,
        tenants: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Job>, StateError> {
        let mut queued = Vec::new();
        for e in &self.entries {
            let name = e.name();
            let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let last = state
                .last_run(&name)?
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                .map(|d| d.with_timezone(&chrono::Utc));
            let Some(last) = last else {
                state.set_last_run(&name, &stamp)?;
                continue;
            };
            if !e.due(last, now) {
                continue;
            }
            state.set_last_run(&name, &stamp)?;
            let list = if e.tenants.is_empty() {
                tenants
            } else {
                &e.tenants[..]
            };
            for t in list {
                let busy = state.jobs(Some(t), 200)?.iter().any(|j| {
                    j.kind == e.kind && matches!(j.status, JobStatus::Queued | JobStatus::Running)
                });
                if !busy {
                    queued.push(state.enqueue(t, &e.kind, None, "schedule")?);
                }
            }
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_overrides_are_laid_over_the_spec_and_checked() {
        let b = budget_spec(Some(&serde_json::json!({"fit": {"draws": 7}}))).unwrap();
        assert_eq!(b.fit.draws, 7);
        // Untouched keys keep the shipped defaults.
        assert_eq!(b.series, BudgetJobConfig::default().series);
        let e = budget_spec(Some(&serde_json::json!({"fit": {"bootstrp": 7}}))).unwrap_err();
        assert!(e.contains("bootstrp"), "{e}");
        let e = validate_request("churn", None).unwrap_err();
        assert!(e.starts_with("kind:"), "{e}");
        let e = validate_request("fatigue", Some(&serde_json::json!([1]))).unwrap_err();
        assert!(e.contains("JSON object"), "{e}");
        let f = fatigue_spec(Some(&serde_json::json!({"models": {"seed": 11}}))).unwrap();
        assert_eq!(f.models.seed, 11);
    }

    #[test]
    fn a_cancelled_running_job_stops_and_registers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().to_path_buf(),
            models_dir: dir.path().join("models"),
            ..Config::default()
        };
        let state = State::open(dir.path().join("s.sqlite")).unwrap();
        for kind in ["fatigue", "budget"] {
            let q = state.enqueue("acme", kind, None, "api").unwrap();
            let job = state.claim().unwrap().unwrap();
            assert_eq!(job.id, q.id);
            // The cancel arrives while the job is running: it stops at its first step.
            state.cancel(&job.id, Some("acme")).unwrap();
            assert_eq!(run(&cfg, &state, &job).unwrap(), JobStatus::Cancelled);
            let j = state.job(&job.id, None).unwrap().unwrap();
            assert_eq!(j.status, JobStatus::Cancelled);
            assert!(j.message.contains("nothing registered"), "{}", j.message);
        }
        assert!(!dir.path().join("models").exists());
        // A job that fails (no data for the tenant) records the error, not a panic.
        state.enqueue("acme", "budget", None, "api").unwrap();
        let job = state.claim().unwrap().unwrap();
        assert_eq!(run(&cfg, &state, &job).unwrap(), JobStatus::Failed);
        assert!(state.job(&job.id, None).unwrap().unwrap().error.is_some());
    }

    #[test]
    fn scheduler_records_first_sight_then_enqueues_when_due_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path().join("s.sqlite")).unwrap();
        let s = Scheduler::new(vec![ScheduleEntry {
            kind: "budget".into(),
            tenants: vec![],
            daily_at: None,
            every_hours: Some(1.0),
        }]);
        let t = |x: &str| {
            chrono::DateTime::parse_from_rfc3339(x)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let tenants = vec!["a".to_string(), "b".to_string()];
        assert!(
            s.tick(&state, &tenants, t("2026-11-26T00:00:00Z"))
                .unwrap()
                .is_empty()
        );
        assert!(
            s.tick(&state, &tenants, t("2026-11-26T00:30:00Z"))
                .unwrap()
                .is_empty()
        );
        let q = s.tick(&state, &tenants, t("2026-11-26T01:00:00Z")).unwrap();
        assert_eq!(q.len(), 2);
        assert!(
            q.iter()
                .all(|j| j.source == "schedule" && j.kind == "budget")
        );
        // Still queued an hour later: not duplicated.
        assert!(
            s.tick(&state, &tenants, t("2026-11-26T02:00:00Z"))
                .unwrap()
                .is_empty()
        );
    }
}
