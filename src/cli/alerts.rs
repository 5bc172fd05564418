//! `omnify alerts`: the alert destinations, their deliveries, and an evaluation on demand.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

use super::{CliError, emit, emit_list};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alert destinations (webhooks added with POST /v1/alerts or [[alerts]] in the config,
    /// which are registered first); never their secrets.
    List {
        /// Only this tenant's.
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// SQLite state file [default: state.sqlite in the data folder].
        #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
        state: Option<PathBuf>,
    },
    /// Deliveries, newest first: status (queued, delivered, failed), attempts, last error.
    Deliveries {
        /// Only this tenant's.
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Most to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// SQLite state file [default: state.sqlite in the data folder].
        #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
        state: Option<PathBuf>,
    },
    /// Score a tenant now, queue its alerts and make one delivery attempt each (retries are
    /// left to `omnify serve`). Prints what was queued and sent.
    Evaluate {
        #[arg(long, value_name = "T")]
        tenant: String,
        /// SQLite state file [default: state.sqlite in the data folder].
        #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
        state: Option<PathBuf>,
    },
}

fn state_of(cfg: &Config, state: Option<PathBuf>) -> Config {
    let mut cfg = cfg.clone();
    if let Some(s) = state {
        cfg.state = Some(s);
    }
    cfg
}

/// Runs `omnify alerts ...`.
pub fn run(cfg: &Config, cmd: AlertsCommand) -> Result<(), CliError> {
    match cmd {
        AlertsCommand::List {
            tenant,
            json,
            state,
        } => {
            let cfg = state_of(cfg, state);
            let st = crate::state::State::open(cfg.state_path()).map_err(CliError::runtime)?;
            crate::alerts::sync_config(&st, &cfg.alerts).map_err(CliError::input)?;
            let d = st
                .alert_destinations(tenant.as_deref())
                .map_err(CliError::runtime)?;
            emit_list(
                &d,
                json,
                "no alert destinations",
                &["id", "tenant", "name", "url", "format", "state"],
                |x| {
                    vec![
                        x.id.clone(),
                        x.tenant.clone(),
                        x.name.clone(),
                        x.url.clone(),
                        serde_json::to_value(x.format)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        x.paused.clone().unwrap_or_else(|| "active".into()),
                    ]
                },
            )
        }
        AlertsCommand::Deliveries {
            tenant,
            limit,
            json,
            state,
        } => {
            let cfg = state_of(cfg, state);
            let st = crate::state::State::open(cfg.state_path()).map_err(CliError::runtime)?;
            let d = st
                .deliveries(tenant.as_deref(), limit.clamp(1, 10_000))
                .map_err(CliError::runtime)?;
            emit_list(
                &d,
                json,
                "no deliveries",
                &[
                    "id",
                    "destination",
                    "created",
                    "events",
                    "status",
                    "attempts",
                    "http",
                    "last error",
                ],
                |x| {
                    vec![
                        x.id.clone(),
                        x.destination.clone(),
                        x.created.clone(),
                        x.events.to_string(),
                        x.status.clone(),
                        x.attempts.to_string(),
                        x.last_status.map(|s| s.to_string()).unwrap_or_default(),
                        x.last_error.clone().unwrap_or_default(),
                    ]
                },
            )
        }
        AlertsCommand::Evaluate { tenant, state } => {
            if !crate::warehouse::valid_tenant(&tenant) {
                return Err(CliError::input(format!(
                    "--tenant {tenant:?}: use 1-64 letters, digits, '_' or '-'"
                )));
            }
            let cfg = state_of(cfg, state);
            let st = Arc::new(crate::api::AppState::open(cfg.clone()).map_err(CliError::runtime)?);
            crate::alerts::sync_config(&st.state, &cfg.alerts).map_err(CliError::input)?;
            let r = crate::alerts::evaluate(&st, &tenant, None).map_err(CliError::runtime)?;
            let sender = crate::alerts::deliver::Sender::new(
                Duration::from_secs(10),
                Duration::from_millis(cfg.api.alert_retry_base_ms.max(1)),
                cfg.api.alert_private_targets,
            );
            let sent = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(CliError::runtime)?
                .block_on(sender.run_due(&st.state));
            emit(&format!(
                "{} creatives scored; {} events in {} deliveries queued; {} deliveries attempted\n",
                r.creatives_scored,
                r.events,
                r.deliveries.len(),
                sent
            ));
            Ok(())
        }
    }
}
