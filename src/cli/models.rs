//! `omnify models list|show|promote|rollback`: the versioned model registry.

use clap::Subcommand;

use super::{CliError, emit, table};
use crate::config::Config;
use crate::registry::{ModelKind, Registry, RegistryError};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Versions per kind with their holdout score; `*` marks the champion.
    List {
        /// Tenant [default: from config].
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
        /// Only this kind: fatigue or budget.
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A version's card (data range, features, hyperparameters, seed, metrics, files).
    Show {
        /// fatigue or budget.
        kind: String,
        /// The version, or `champion`.
        #[arg(value_name = "VERSION")]
        model_version: String,
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
    },
    /// Make a version the champion (it is verified first).
    Promote {
        /// fatigue or budget.
        kind: String,
        /// The version to promote.
        #[arg(value_name = "VERSION")]
        model_version: String,
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
    },
    /// Restore the previous champion.
    Rollback {
        /// fatigue or budget.
        kind: String,
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
    },
}

fn reg_err(e: RegistryError) -> CliError {
    match e {
        RegistryError::Io { .. } => CliError::runtime(e),
        _ => CliError::input(e),
    }
}

/// Runs `omnify models ...`.
pub fn run(cfg: &Config, cmd: ModelsCommand) -> Result<(), CliError> {
    let reg = Registry::open(&cfg.models_dir);
    let tenant_of = |t: Option<String>| t.unwrap_or_else(|| cfg.tenant.clone());
    match cmd {
        ModelsCommand::List { tenant, kind, json } => {
            let tenant = tenant_of(tenant);
            let kinds = match kind {
                Some(k) => vec![ModelKind::parse(&k).map_err(reg_err)?],
                None => vec![ModelKind::Fatigue, ModelKind::Budget],
            };
            let mut rows = Vec::new();
            let mut cards = Vec::new();
            for k in kinds {
                let champion = reg.champion(&tenant, k).map_err(reg_err)?;
                for c in reg.list(&tenant, k).map_err(reg_err)? {
                    let is_champion = champion.as_deref() == Some(c.version.as_str());
                    rows.push(vec![
                        if is_champion {
                            "*".into()
                        } else {
                            String::new()
                        },
                        k.as_str().to_string(),
                        c.version.clone(),
                        c.model.clone(),
                        c.created.clone(),
                        table::thousands(c.rows as i64),
                        c.score()
                            .map(|s| format!("{} {s:.4}", c.selection_metric))
                            .unwrap_or_default(),
                    ]);
                    cards.push(serde_json::json!({"champion": is_champion, "card": c}));
                }
            }
            if json {
                emit(&(serde_json::to_string_pretty(&cards).map_err(CliError::runtime)? + "\n"));
            } else if rows.is_empty() {
                emit(&format!(
                    "no models for tenant `{tenant}` in {}\n",
                    reg.root().display()
                ));
            } else {
                emit(&table::render(
                    &[
                        "", "kind", "version", "model", "created", ">rows", "holdout",
                    ],
                    &rows,
                ));
            }
            Ok(())
        }
        ModelsCommand::Show {
            kind,
            model_version: version,
            tenant,
        } => {
            let (tenant, kind) = (tenant_of(tenant), ModelKind::parse(&kind).map_err(reg_err)?);
            let card = if version == "champion" {
                reg.load_champion(&tenant, kind).map_err(reg_err)?.card
            } else {
                reg.card(&tenant, kind, &version).map_err(reg_err)?
            };
            emit(&(serde_json::to_string_pretty(&card).map_err(CliError::runtime)? + "\n"));
            Ok(())
        }
        ModelsCommand::Promote {
            kind,
            model_version: version,
            tenant,
        } => {
            let (tenant, kind) = (tenant_of(tenant), ModelKind::parse(&kind).map_err(reg_err)?);
            reg.promote(&tenant, kind, &version).map_err(reg_err)?;
            emit(&format!(
                "{version} is now the {} champion of `{tenant}`\n",
                kind.as_str()
            ));
            Ok(())
        }
        ModelsCommand::Rollback { kind, tenant } => {
            let (tenant, kind) = (tenant_of(tenant), ModelKind::parse(&kind).map_err(reg_err)?);
            let v = reg.rollback(&tenant, kind).map_err(reg_err)?;
            emit(&format!(
                "rolled back: {v} is again the {} champion of `{tenant}`\n",
                kind.as_str()
            ));
            Ok(())
        }
    }
}
