//! `omnify serve`: bind, announce, bootstrap the bundled sample when the state is empty, load
//! the champions, start the job workers, the registry poller and the schedule, serve until
//! SIGTERM or Ctrl-C, then drain in-flight requests.
//!
//! The socket is bound first, so `/healthz` answers at once and `/readyz` (and the model
//! routes) answer 503 with `Retry-After` until the bootstrap and the first model load finish.
//! Accepted connections get TCP_NODELAY (small responses are not held back ~40 ms by delayed
//! ACKs). Training jobs run in niced child processes; one still running at shutdown is stopped
//! and requeued by the next start.

use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;

use super::{AppState, app};
use crate::config::Config;
use crate::jobs::{Runner, Scheduler, Workers};
use crate::state::Role;

/// How `omnify serve` starts.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Start empty: no sample ingest, no training, no admin key (tests, real deployments).
    pub no_bootstrap: bool,
}

/// The tenant the bootstrap admin key is for: the configured tenant when it has data, else
/// the first tenant in the warehouse.
fn admin_tenant(cfg: &Config, st: &AppState) -> Result<String, String> {
    let tenants = crate::bootstrap::tenants(&st.warehouse)?;
    Ok(if tenants.contains(&cfg.tenant) || tenants.is_empty() {
        cfg.tenant.clone()
    } else {
        tenants[0].clone()
    })
}

fn bootstrap(st: &AppState, opts: &ServeOptions, base_url: &str) -> Result<(), String> {
    if !opts.no_bootstrap {
        let t0 = std::time::Instant::now();
        let b = crate::bootstrap::ensure_sample(&st.cfg, &mut |line| {
            eprintln!("bootstrap: {line}");
        })?;
        for (tenant, kind, err) in &b.failed {
            eprintln!("bootstrap: training the {kind} model of {tenant} failed: {err}");
        }
        if b.ingested_rows > 0 || !b.trained.is_empty() {
            eprintln!(
                "bootstrap: {} rows ingested, {} models trained in {:.0} s",
                b.ingested_rows,
                b.trained.len(),
                t0.elapsed().as_secs_f64()
            );
        }
        if !st.state.has_admin_key().map_err(|e| e.to_string())? {
            let tenant = admin_tenant(&st.cfg, st)?;
            let (_, key) = st
                .state
                .create_key(&tenant, Role::Admin, "bootstrap admin key")
                .map_err(|e| e.to_string())?;
            println!(
                "\nAdmin key for tenant `{tenant}` (shown once; only its hash is stored):\n  {key}\n\
                 Try it:\n  curl -s -H 'Authorization: Bearer {key}' {base_url}/v1/models\n\
                 More keys: omnify keys create --tenant {tenant} --role read\n"
            );
        }
    }
    st.champions.refresh()?;
    release_free_memory();
    Ok(())
}

/// Hands the heap pages freed since start (the bootstrap ingests and trains in this process;
/// feature snapshots read whole tenants) back to the system, so the server's resident memory
/// is what it actually holds. The binary allocates through mimalloc, whose free pages only
/// `mi_collect` returns; SQLite and other C code allocate through the C library, whose free
/// pages `malloc_trim` returns (glibc).
pub(crate) fn release_free_memory() {
    unsafe extern "C" {
        fn mi_collect(force: bool);
    }
    // SAFETY: mimalloc's collect takes no pointers; it frees the calling thread's unused
    // pages and, forced, the abandoned ones, and is safe to call from any thread.
    unsafe {
        mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim takes no pointers from the caller; it only releases the
        // allocator's own free pages and is thread-safe.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Runs the server until a shutdown signal. Blocking: it owns its runtime.
pub fn serve(cfg: Config, opts: ServeOptions) -> Result<(), String> {
    // A panic on a task spawned onto the compute pool is logged, not a process abort (the
    // request path catches its own; this covers anything else). Fails harmlessly when the
    // pool already started.
    let _ = rayon::ThreadPoolBuilder::new()
        .panic_handler(|_| tracing::error!("a task on the compute pool panicked"))
        .build_global();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Polars plans recurse deeply; blocking-pool threads run them.
        .thread_stack_size(32 << 20)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(run(cfg, opts))
}

async fn run(cfg: Config, opts: ServeOptions) -> Result<(), String> {
    let addr = cfg.api.addr.clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e} (set --addr or [api] addr)"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = format!("http://{local}");
    let st = Arc::new(AppState::open(cfg.clone())?);
    println!("OmniFy listening on {base_url} (API description: {base_url}/openapi.json)");

    // Workers start after the bootstrap (its training must not race a requeued job).
    let workers: Arc<std::sync::Mutex<Option<Workers>>> = Arc::new(std::sync::Mutex::new(None));
    {
        let st = st.clone();
        let workers = workers.clone();
        let base_url = base_url.clone();
        tokio::task::spawn_blocking(move || {
            match bootstrap(&st, &opts, &base_url) {
                Ok(()) => {
                    st.set_ready(true);
                    println!(
                        "OmniFy is ready: {} champion models loaded",
                        st.champions.cached().len()
                    );
                }
                Err(e) => {
                    eprintln!("error: startup failed: {e}");
                    std::process::exit(1);
                }
            }
            let on_done = {
                let st = st.clone();
                Arc::new(move |job: &crate::state::Job, _| {
                    if let Err(e) = st.champions.refresh() {
                        tracing::error!(error = %e, "refreshing champions after a job failed");
                    }
                    // The job's end is a scoring run of its tenant: evaluate its alerts.
                    let job = st.state.job(&job.id, None).ok().flatten();
                    if let Some(job) = job {
                        crate::alerts::evaluate_logged(&st, &job.tenant, Some(&job));
                    }
                })
            };
            // Training runs in niced child processes of this binary when it can be found.
            let runner = match std::env::current_exe() {
                Ok(exe) => Runner::Process { exe },
                Err(_) => Runner::InProcess,
            };
            match Workers::start(
                st.cfg.clone(),
                st.state.clone(),
                st.cfg.api.job_workers,
                runner,
                on_done,
            ) {
                Ok(w) => {
                    let wake = w.waker();
                    *st.wake_workers.write().unwrap_or_else(|e| e.into_inner()) =
                        Some(Arc::new(wake));
                    *workers.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
                }
                Err(e) => {
                    eprintln!("error: cannot start the job workers: {e}");
                    std::process::exit(1);
                }
            }
        });
    }
    // Alert destinations of the configuration, and the delivery sender.
    crate::alerts::sync_config(&st.state, &st.cfg.alerts)?;
    {
        let sender = crate::alerts::deliver::Sender::new(
            Duration::from_secs(10),
            Duration::from_millis(st.cfg.api.alert_retry_base_ms.max(1)),
            st.cfg.api.alert_private_targets,
        );
        tokio::spawn(sender.run(st.state.clone(), Duration::from_secs(1)));
    }
    // The registry poller: promotions by other processes reach the server.
    {
        let st = st.clone();
        let every = Duration::from_millis(st.cfg.api.model_poll_ms.max(100));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if !st.is_ready() {
                    continue;
                }
                let s = st.clone();
                match tokio::task::spawn_blocking(move || s.champions.refresh()).await {
                    Ok(Ok(swapped)) => {
                        for (t, k, v) in swapped {
                            tracing::info!(tenant = %t, kind = k.as_str(), version = %v,
                                "serving a new champion");
                        }
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "polling the registry failed"),
                    Err(e) => tracing::error!(error = %e, "registry poll task failed"),
                }
            }
        });
    }
    // The schedule.
    if !st.cfg.schedule.is_empty() {
        let st = st.clone();
        tokio::spawn(async move {
            let sched = Arc::new(Scheduler::new(st.cfg.schedule.clone()));
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                let s = st.clone();
                let sched = sched.clone();
                let r = tokio::task::spawn_blocking(move || -> Result<usize, String> {
                    let tenants = crate::bootstrap::tenants(&s.warehouse)?;
                    let q = sched
                        .tick(&s.state, &tenants, chrono::Utc::now())
                        .map_err(|e| e.to_string())?;
                    Ok(q.len())
                });
                match r.await {
                    Ok(Ok(n)) if n > 0 => {
                        tracing::info!(queued = n, "scheduled retraining queued");
                        st.wake_workers();
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "schedule tick failed"),
                    _ => {}
                }
            }
        });
    }

    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(st.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    eprintln!(
        "shutting down: in-flight requests answered; a running job is requeued at the next start"
    );
    if let Some(w) = workers.lock().unwrap_or_else(|e| e.into_inner()).take() {
        w.stop_now();
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
