//! `omnify serve` (the HTTP API) and `omnify keys` (API keys in the state file).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, emit, emit_list};
use crate::config::Config;
use crate::state::{Role, State};

/// Serve the JSON API (scores, plans, forecasts, ingest, jobs, models) over HTTP.
///
/// On a fresh clone with an empty state it ingests the bundled sample, trains both model
/// kinds for every tenant, creates an admin key and prints it once with a curl line.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address [default: 127.0.0.1:8080, or [api] addr, or $OMNIFY_ADDR]. Port 0 picks a
    /// free port (printed).
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// SQLite state file (keys, jobs) [default: state.sqlite in the data folder].
    #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
    pub state: Option<PathBuf>,
    /// Start empty: no sample ingest, no training, no admin key.
    #[arg(long)]
    pub no_bootstrap: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints only the key on stdout (store it: it is never shown again).
    Create {
        /// The tenant the key reaches (and nothing else).
        #[arg(long, value_name = "T")]
        tenant: String,
        /// read: score, forecast, read models and reports; write: + ingest, jobs, promote;
        /// admin: + keys and tenant erase.
        #[arg(long, value_parser = ["read", "write", "admin"])]
        role: String,
        /// A note to recognise the key by.
        #[arg(long, default_value = "")]
        label: String,
        /// SQLite state file [default: state.sqlite in the data folder].
        #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
        state: Option<PathBuf>,
    },
    /// List keys (ids, tenants, roles, labels, creation and revocation times; never secrets).
    List {
        /// Only this tenant's keys.
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// SQLite state file [default: state.sqlite in the data folder].
        #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
        state: Option<PathBuf>,
    },
    /// Revoke a key by id (the 12 hex digits after `omk_`); a running server stops accepting
    /// it within 2 seconds.
    Revoke {
        id: String,
        /// SQLite state file [default: state.sqlite in the data folder].
        #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
        state: Option<PathBuf>,
    },
}

fn open_state(cfg: &Config, path: &Option<PathBuf>) -> Result<State, CliError> {
    let p = path.clone().unwrap_or_else(|| cfg.state_path());
    State::open(p).map_err(CliError::runtime)
}

/// Runs `omnify serve`.
pub fn serve(cfg: &Config, args: ServeArgs) -> Result<(), CliError> {
    let mut cfg = cfg.clone();
    if let Some(a) = args.addr {
        cfg.api.addr = a;
    }
    if let Some(s) = args.state {
        cfg.state = Some(s);
    }
    crate::api::serve(
        cfg,
        crate::api::ServeOptions {
            no_bootstrap: args.no_bootstrap,
        },
    )
    .map_err(CliError::runtime)
}

/// Runs `omnify keys ...`.
pub fn keys(cfg: &Config, cmd: KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Create {
            tenant,
            role,
            label,
            state,
        } => {
            if !crate::warehouse::valid_tenant(&tenant) {
                return Err(CliError::input(format!(
                    "--tenant {tenant:?}: use 1-64 letters, digits, '_' or '-'"
                )));
            }
            let role = Role::parse(&role).ok_or_else(|| {
                CliError::input(format!("--role {role}: not read, write or admin"))
            })?;
            let (rec, key) = open_state(cfg, &state)?
                .create_key(&tenant, role, &label)
                .map_err(CliError::runtime)?;
            eprintln!(
                "created {} key {} for tenant {}; it is shown only now",
                rec.role.as_str(),
                rec.id,
                rec.tenant
            );
            emit(&format!("{key}\n"));
            Ok(())
        }
        KeysCommand::List {
            tenant,
            json,
            state,
        } => {
            let keys = open_state(cfg, &state)?
                .list_keys(tenant.as_deref())
                .map_err(CliError::runtime)?;
            emit_list(
                &keys,
                json,
                "no keys",
                &["id", "tenant", "role", "label", "created", "revoked"],
                |k| {
                    vec![
                        k.id.clone(),
                        k.tenant.clone(),
                        k.role.as_str().to_string(),
                        k.label.clone(),
                        k.created.clone(),
                        k.revoked.clone().unwrap_or_else(|| "active".into()),
                    ]
                },
            )
        }
        KeysCommand::Revoke { id, state } => {
            if open_state(cfg, &state)?
                .revoke_key(&id, None)
                .map_err(CliError::runtime)?
            {
                emit(&format!("revoked key {id}\n"));
                Ok(())
            } else {
                Err(CliError::input(format!("no active key `{id}`")))
            }
        }
    }
}

/// Runs one claimed training job (the server starts this in a child process).
#[derive(Debug, Args)]
pub struct JobRunArgs {
    /// The job id (already claimed: status running).
    #[arg(long)]
    pub job: String,
    /// The server's resolved configuration (JSON).
    #[arg(long, value_name = "FILE.json")]
    pub resolved_config: PathBuf,
}

/// Runs `omnify job-run`: the job's result (or error) is recorded in the state.
pub fn job_run(args: JobRunArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.resolved_config)
        .map_err(|e| CliError::input(format!("{}: {e}", args.resolved_config.display())))?;
    let cfg: Config = serde_json::from_str(&text)
        .map_err(|e| CliError::input(format!("{}: {e}", args.resolved_config.display())))?;
    let state = open_state(&cfg, &None)?;
    let job = state
        .job(&args.job, None)
        .map_err(CliError::runtime)?
        .ok_or_else(|| CliError::input(format!("no job `{}`", args.job)))?;
    if job.status != crate::state::JobStatus::Running {
        return Err(CliError::input(format!(
            "job `{}` is {}, not running",
            job.id,
            job.status.as_str()
        )));
    }
    // Polars plans recurse deeply: train on a roomy stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || crate::jobs::run(&cfg, &state, &job).map(|_| ()))
        .map_err(CliError::runtime)?
        .join()
        .map_err(|_| CliError::runtime("the training thread panicked"))?
        .map_err(CliError::runtime)
}
