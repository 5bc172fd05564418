//! `omnify mcp`: OmniFy's agent tools over stdio, for one tenant of the local data.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::CliError;
use crate::config::Config;
use crate::state::Role;

/// Serve the MCP tools (at-risk creatives, scores, budget shifts, forecasts, model health,
/// report summary, retraining) over stdin/stdout for one tenant, for an agent that starts
/// OmniFy as a local process. The same tools are served over HTTP at `/mcp` by `omnify serve`.
///
/// Messages are JSON-RPC on stdout; logs go to stderr. Retraining jobs are queued in the
/// state file and run by the job workers of `omnify serve` on the same state.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The tenant whose data and models the tools reach.
    #[arg(long, value_name = "T")]
    pub tenant: String,
    /// read: every tool but start_retraining; write: start_retraining too.
    #[arg(long, value_parser = ["read", "write"], default_value = "read")]
    pub role: String,
    /// SQLite state file (jobs) [default: state.sqlite in the data folder].
    #[arg(long, value_name = "FILE", env = "OMNIFY_STATE")]
    pub state: Option<PathBuf>,
}

/// Runs `omnify mcp`.
pub fn run(cfg: &Config, args: McpArgs) -> Result<(), CliError> {
    if !crate::warehouse::valid_tenant(&args.tenant) {
        return Err(CliError::input(format!(
            "--tenant {:?}: use 1-64 letters, digits, '_' or '-'",
            args.tenant
        )));
    }
    let role = Role::parse(&args.role)
        .ok_or_else(|| CliError::input(format!("--role {}: not read or write", args.role)))?;
    let mut cfg = cfg.clone();
    if let Some(s) = args.state {
        cfg.state = Some(s);
    }
    let st = Arc::new(crate::api::AppState::open(cfg).map_err(CliError::runtime)?);
    st.champions.refresh().map_err(CliError::runtime)?;
    st.set_ready(true);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::runtime)?
        .block_on(crate::mcp::serve_stdio(st, &args.tenant, role))
        .map_err(CliError::runtime)
}
