//! The budget operations the CLI, the API and reports share, as plain functions: load a
//! registered budget model, turn its fitted curves into allocator entities, build an
//! allocation problem from request options, train a tenant's model from the warehouse and
//! register it, and the documented JSON shape of a plan. Callers only parse and format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fit::{self, BudgetModel};
use super::job::BudgetJobConfig;
use super::series::{self, OutcomeKind};
use super::{Allocation, AllocationProblem, Constraints, EntitySpec, Mode};
use crate::registry::{ModelCard, ModelKind, PromotionDecision, Registry, RegistryError};
use crate::warehouse::Warehouse;

/// Why a budget operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request or the data cannot be used (the caller's fault; 4xx / exit 2).
    #[error("{0}")]
    Invalid(String),
    /// No such model or version.
    #[error("{0}")]
    NotFound(String),
    /// Something failed while running (5xx / exit 1).
    #[error("{0}")]
    Failed(String),
}

impl From<RegistryError> for ServiceError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NoChampion { .. }
            | RegistryError::NotFound { .. }
            | RegistryError::UnknownKind(_) => ServiceError::NotFound(e.to_string()),
            _ => ServiceError::Failed(e.to_string()),
        }
    }
}

/// Loads a budget model version of `tenant` (default: the champion) and its card.
pub fn load_model(
    reg: &Registry,
    tenant: &str,
    version: Option<&str>,
) -> Result<(ModelCard, BudgetModel), ServiceError> {
    let loaded = match version {
        Some(v) => reg.load(tenant, ModelKind::Budget, v),
        None => reg.load_champion(tenant, ModelKind::Budget),
    }?;
    let bytes = loaded.files.get("model.json").ok_or_else(|| {
        ServiceError::Failed(format!(
            "budget model {} has no model.json",
            loaded.card.version
        ))
    })?;
    let model: BudgetModel = serde_json::from_slice(bytes).map_err(|e| {
        ServiceError::Failed(format!(
            "budget model {}: model.json: {e}",
            loaded.card.version
        ))
    })?;
    Ok((loaded.card, model))
}

/// The model's fitted curves as allocator entities (current spend = mean of the latest
/// periods; no bounds).
pub fn champion_entities(model: &BudgetModel) -> Vec<EntitySpec> {
    model
        .curves()
        .into_iter()
        .map(|c| EntitySpec {
            id: c.id,
            curve: c.curve,
            current_spend: c.current_spend,
            min_spend: None,
            max_spend: None,
            max_shift_pct: None,
            fixed: false,
            allow_new: false,
        })
        .collect()
}

/// What the curves measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Conversions per period.
    Conversions,
    /// Conversion value per period (currency units).
    Value,
}

/// What to optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeKind {
    /// Spend exactly the budget, maximising the total outcome.
    #[default]
    Fixed,
    /// Most conversions whose cost per conversion is at most the target.
    TargetCpa,
    /// Most value whose return on ad spend is at least the target.
    TargetRoas,
}

/// The options of an optimisation besides the curves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimizeOptions {
    pub budget: f64,
    pub objective: Option<Objective>,
    pub mode: ModeKind,
    pub target: Option<f64>,
    pub marginal: bool,
    pub constraints: Option<Constraints>,
}

impl OptimizeOptions {
    /// The objective in force: value for target_roas, else conversions, unless given.
    pub fn objective(&self) -> Objective {
        self.objective.unwrap_or(match self.mode {
            ModeKind::TargetRoas => Objective::Value,
            _ => Objective::Conversions,
        })
    }
}

/// Builds the allocation problem: constraints applied over the entities, mode and target
/// checked. Errors name the option (`target`, `objective`, `constraints`).
pub fn build_problem(
    mut entities: Vec<EntitySpec>,
    o: &OptimizeOptions,
) -> Result<AllocationProblem, ServiceError> {
    let bad = |m: &str| ServiceError::Invalid(m.to_string());
    let mut global_shift = None;
    if let Some(c) = &o.constraints {
        global_shift = c
            .apply(&mut entities)
            .map_err(|e| ServiceError::Invalid(format!("constraints: {e}")))?;
    }
    let objective = o.objective();
    let need_target = || {
        o.target
            .ok_or_else(|| bad("target is required with mode target_cpa or target_roas"))
    };
    let mode = match o.mode {
        ModeKind::Fixed => {
            if o.target.is_some() || o.marginal {
                return Err(bad(
                    "target and marginal apply only to mode target_cpa or target_roas",
                ));
            }
            Mode::FixedBudget
        }
        ModeKind::TargetCpa => {
            if objective != Objective::Conversions {
                return Err(bad(
                    "mode target_cpa needs curves of conversions (objective conversions)",
                ));
            }
            Mode::TargetCpa {
                target: need_target()?,
                marginal: o.marginal,
            }
        }
        ModeKind::TargetRoas => {
            if objective != Objective::Value {
                return Err(bad(
                    "mode target_roas needs curves of conversion value (objective value)",
                ));
            }
            Mode::TargetRoas {
                target: need_target()?,
                marginal: o.marginal,
            }
        }
    };
    Ok(AllocationProblem {
        entities,
        budget: o.budget,
        mode,
        max_shift_pct: global_shift,
    })
}

/// The documented JSON shape of a plan (`omnify optimize --json`, `POST /v1/budget/optimize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanView {
    pub total_budget: f64,
    pub expected_outcome: f64,
    pub expected_outcome_current: f64,
    pub mode: String,
    pub lambda: Option<f64>,
    pub kkt_gap: f64,
    pub entities: Vec<EntityPlanView>,
    /// Notes from the allocator (e.g. entities held at zero).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The budget model whose curves were used (absent for explicit curves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
}

/// One entity of a [`PlanView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityPlanView {
    pub id: String,
    pub current: f64,
    pub recommended: f64,
    pub delta: f64,
    pub expected_outcome_current: f64,
    pub expected_outcome_recommended: f64,
    pub marginal_return: Option<f64>,
    /// Which bound holds the entity: none, min, max, shift_min, shift_max, fixed, zero...
    pub binding: String,
}

impl PlanView {
    pub fn from_allocation(a: &Allocation) -> PlanView {
        PlanView {
            total_budget: a.total_budget,
            expected_outcome: a.expected_outcome,
            expected_outcome_current: a.expected_outcome_current,
            mode: a.mode.clone(),
            lambda: a.lambda,
            kkt_gap: a.kkt_gap,
            entities: a
                .entities
                .iter()
                .map(|e| EntityPlanView {
                    id: e.id.clone(),
                    current: e.current,
                    recommended: e.recommended,
                    delta: e.delta,
                    expected_outcome_current: e.expected_outcome_current,
                    expected_outcome_recommended: e.expected_outcome_recommended,
                    marginal_return: e.marginal_return,
                    binding: e.binding.as_str().to_string(),
                })
                .collect(),
            notes: a.notes.clone(),
            model_version: None,
        }
    }
}

/// A forecast with the model version that made it (`omnify forecast budget --json`,
/// `POST /v1/budget/forecast`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ForecastView {
    pub model_version: String,
    /// Central interval level of `outcome_lo`/`outcome_hi` (e.g. 0.9).
    pub interval: f64,
    /// Per series (each entity, and `total` when there are several) and period.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<super::fit::PeriodForecast>,
    pub notes: Vec<String>,
}

impl ForecastView {
    pub fn new(model_version: &str, f: super::Forecast) -> ForecastView {
        ForecastView {
            model_version: model_version.to_string(),
            interval: f.interval,
            rows: f.rows,
            notes: f.notes,
        }
    }
}

/// Builds a plan from (id, spend) entries in order; errors name the entry
/// (`entities[2].spend`): spends must be finite and ≥ 0, ids unique.
pub fn plan_from_entries<'a>(
    entries: impl IntoIterator<Item = (&'a str, f64)>,
) -> Result<BTreeMap<String, f64>, ServiceError> {
    let mut plan = BTreeMap::new();
    for (i, (id, spend)) in entries.into_iter().enumerate() {
        if !spend.is_finite() || spend < 0.0 {
            return Err(ServiceError::Invalid(format!(
                "entities[{i}].spend: must be a finite number ≥ 0, got {spend}"
            )));
        }
        if plan.insert(id.to_string(), spend).is_some() {
            return Err(ServiceError::Invalid(format!(
                "entities[{i}].id: `{id}` appears twice"
            )));
        }
    }
    Ok(plan)
}

/// Reads a plan from JSON: `{"entities":[{"id","spend"}]}` or an optimize output
/// (`recommended`). Errors name the entity index (`entities[2].spend`).
pub fn parse_plan(v: &serde_json::Value) -> Result<BTreeMap<String, f64>, ServiceError> {
    let bad = |m: String| ServiceError::Invalid(m);
    let list = v
        .get("entities")
        .and_then(|e| e.as_array())
        .ok_or_else(|| bad("expected {\"entities\": [...]}".into()))?;
    let mut entries = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let id = e
            .get("id")
            .and_then(|x| x.as_str())
            .ok_or_else(|| bad(format!("entities[{i}].id: missing or not a string")))?;
        let spend = e
            .get("spend")
            .or_else(|| e.get("recommended"))
            .and_then(|x| x.as_f64())
            .ok_or_else(|| bad(format!("entities[{i}].spend: missing or not a number")))?;
        entries.push((id, spend));
    }
    plan_from_entries(entries)
}

/// The registry card of a fitted budget model.
pub fn card_for(tenant: &str, model: &BudgetModel, job: &BudgetJobConfig) -> ModelCard {
    let features: Vec<String> = model
        .models
        .iter()
        .flat_map(|m| m.channels.iter().map(|c| c.name.clone()))
        .collect();
    let mut h = Sha256::new();
    h.update(model.source.as_bytes());
    h.update(model.outcome.as_bytes());
    h.update(model.period.as_str().as_bytes());
    for f in &features {
        h.update(f.as_bytes());
        h.update([0]);
    }
    let mut metrics = BTreeMap::new();
    if let Some(w) = model.holdout_wape() {
        metrics.insert("holdout_wape".to_string(), w);
    }
    let r2: Vec<f64> = model.models.iter().map(|m| m.r2).collect();
    if !r2.is_empty() {
        metrics.insert("mean_r2".into(), r2.iter().sum::<f64>() / r2.len() as f64);
    }
    metrics.insert("entities".into(), features.len() as f64);
    let mut families: Vec<String> = model
        .models
        .iter()
        .flat_map(|m| &m.channels)
        .filter_map(|c| {
            c.spec
                .map(|s| format!("{}_{}", s.saturation.family(), s.adstock.family()))
        })
        .collect();
    families.sort();
    families.dedup();
    let (from, to) = model.range().unzip();
    ModelCard {
        kind: ModelKind::Budget,
        version: String::new(),
        tenant: tenant.to_string(),
        created: String::new(),
        model: if families.is_empty() {
            "response_curves".into()
        } else {
            format!("response_curves({})", families.join(","))
        },
        data_from: from,
        data_to: to,
        rows: model.models.iter().map(|m| m.baseline.n as u64).sum(),
        features,
        schema_hash: hex::encode(h.finalize()),
        hyperparameters: serde_json::to_value(job).unwrap_or_default(),
        seed: model.seed,
        metrics,
        selection_metric: "holdout_wape".into(),
        higher_is_better: false,
        crate_version: String::new(),
        files: BTreeMap::new(),
        validation: None,
    }
}

/// The warehouse series of `tenant` as fitting datasets, and the outcome's name.
pub fn warehouse_datasets(
    wh: &Warehouse,
    tenant: &str,
    job: &BudgetJobConfig,
) -> Result<(Vec<series::Dataset>, String), ServiceError> {
    let scfg = job.series.clone();
    let df = wh
        .query(Some(tenant), |lf| {
            series::entity_period(lf, &scfg).collect()
        })
        .map_err(|e| ServiceError::Failed(e.to_string()))?;
    let sets = series::datasets_from_frame(&df, &scfg)
        .map_err(|e| ServiceError::Invalid(format!("tenant {tenant}: {e}")))?;
    let outcome = match scfg.outcome {
        OutcomeKind::Conversions => "conversions",
        OutcomeKind::ConversionValue => "conversion_value",
    };
    Ok((sets, outcome.into()))
}

/// A trained and registered budget model.
#[derive(Debug)]
pub struct Trained {
    pub model: BudgetModel,
    pub decision: PromotionDecision,
}

/// Fits `sets`, registers the model for `tenant` and promotes it only if it beats the
/// champion on the holdout.
pub fn train_and_register(
    reg: &Registry,
    tenant: &str,
    sets: &[series::Dataset],
    job: &BudgetJobConfig,
    source: &str,
    outcome: &str,
) -> Result<Trained, ServiceError> {
    let model = fit::train(sets, &job.fit, source, outcome)
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let decision = register(reg, tenant, &model, job)?;
    Ok(Trained { model, decision })
}

/// Registers a fitted model for `tenant`, promoted only if it beats the champion.
pub fn register(
    reg: &Registry,
    tenant: &str,
    model: &BudgetModel,
    job: &BudgetJobConfig,
) -> Result<PromotionDecision, ServiceError> {
    let bytes = serde_json::to_vec(model).map_err(|e| ServiceError::Failed(e.to_string()))?;
    reg.register_and_maybe_promote(card_for(tenant, model, job), &[("model.json", bytes)])
        .map_err(|e| ServiceError::Failed(e.to_string()))
}

/// Trains `tenant`'s model from the warehouse series and registers it.
pub fn train_from_warehouse(
    wh: &Warehouse,
    reg: &Registry,
    tenant: &str,
    job: &BudgetJobConfig,
) -> Result<Trained, ServiceError> {
    let (sets, outcome) = warehouse_datasets(wh, tenant, job)?;
    train_and_register(reg, tenant, &sets, job, "warehouse", &outcome)
}
