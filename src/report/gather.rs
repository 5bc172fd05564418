//! [`gather`]: everything a report shows, computed from the warehouse and the registry — data
//! coverage and 7-day spend per creative, champion scores and their stored evaluation, the
//! cost history of the most urgent creatives, and the budget plan with its curves, lift
//! interval and forecasts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use super::ReportError;
use super::inputs::*;
use super::quantile;
use crate::budget::fit::{BudgetModel, PeriodForecast};
use crate::budget::service::{self, OptimizeOptions, PlanView, ServiceError};
use crate::budget::transform::to_curve;
use crate::budget::{EntitySpec, allocate};
use crate::config::Config;
use crate::fatigue::pipeline::{EVALUATION_FILE, StoredEvaluation};
use crate::fatigue::{FittedModel, JobConfig};
use crate::features::cols::{BASELINE_VALUE, METRIC_KIND, ROLLING_VALUE};
use crate::features::label_days;
use crate::registry::{ModelKind, Registry, RegistryError};
use crate::schema::{cols as ad, date_to_days, days_to_date};
use crate::warehouse::Warehouse;

/// Creatives charted in "Creatives at risk" by default.
pub const DEFAULT_TOP_N: usize = 6;
/// Most response curves drawn (by spend); every entity is still in the shifts table.
pub const MAX_CURVES: usize = 24;
/// Points of each drawn response curve.
const CURVE_POINTS: usize = 48;
/// Days of cost history kept for the charts.
const HISTORY_DAYS: i64 = 70;

fn failed(what: &str) -> impl Fn(&dyn std::fmt::Display) -> ReportError + '_ {
    move |e| ReportError::Failed(format!("{what}: {e}"))
}

/// [`gather_with`] with the fatigue job spec in force (`training/fatigue.toml`, else the
/// defaults) and [`DEFAULT_TOP_N`].
pub fn gather(
    cfg: &Config,
    tenant: &str,
    as_of: Option<NaiveDate>,
) -> Result<ReportInputs, ReportError> {
    let job = crate::bootstrap::fatigue_job().map_err(ReportError::Failed)?;
    gather_with(cfg, tenant, as_of, &job, DEFAULT_TOP_N)
}

/// Per-creative and per-platform facts of the tenant's rows.
struct Facts {
    coverage: Vec<Coverage>,
    currency: Option<String>,
    spend_7d: HashMap<(String, String, String), f64>,
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

/// Per platform: rows, (account, ad) pairs, first and last day, spend.
type PlatformAcc = (u64, BTreeSet<(String, String)>, i32, i32, f64);

fn facts(df: &DataFrame, days: &[Option<i32>], as_of: NaiveDate) -> PolarsResult<Facts> {
    let platform = strs(df, ad::PLATFORM)?;
    let account = strs(df, ad::ACCOUNT_ID)?;
    let ad_id = strs(df, ad::AD_ID)?;
    let currency = strs(df, ad::CURRENCY)?;
    let spend: Vec<Option<f64>> = df
        .column(ad::SPEND)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .collect();
    let (t, t0) = (date_to_days(as_of), date_to_days(as_of) - 6);
    let mut by_platform: BTreeMap<String, PlatformAcc> = BTreeMap::new();
    let mut currencies = BTreeSet::new();
    let mut spend_7d = HashMap::new();
    for i in 0..df.height() {
        let (Some(p), Some(d)) = (&platform[i], days[i]) else {
            continue;
        };
        let (a, c) = (
            account[i].clone().unwrap_or_default(),
            ad_id[i].clone().unwrap_or_default(),
        );
        let s = spend[i].filter(|v| v.is_finite()).unwrap_or(0.0);
        let e = by_platform
            .entry(p.clone())
            .or_insert((0, BTreeSet::new(), d, d, 0.0));
        e.0 += 1;
        e.1.insert((a.clone(), c.clone()));
        e.2 = e.2.min(d);
        e.3 = e.3.max(d);
        e.4 += s;
        if let Some(cur) = &currency[i] {
            currencies.insert(cur.clone());
        }
        if (t0..=t).contains(&d) {
            *spend_7d.entry((p.clone(), a, c)).or_insert(0.0) += s;
        }
    }
    Ok(Facts {
        coverage: by_platform
            .into_iter()
            .map(|(platform, (rows, cr, from, to, spend))| Coverage {
                platform,
                rows,
                creatives: cr.len() as u64,
                from: days_to_date(from),
                to: days_to_date(to),
                spend,
            })
            .collect(),
        currency: (currencies.len() == 1)
            .then(|| currencies.into_iter().next())
            .flatten(),
        spend_7d,
    })
}

/// Everything a report of `tenant` at `as_of` (default: its last data day) shows, with the
/// fatigue job spec `job` (labels, scoring thresholds) and `top_n` charted creatives.
pub fn gather_with(
    cfg: &Config,
    tenant: &str,
    as_of: Option<NaiveDate>,
    job: &JobConfig,
    top_n: usize,
) -> Result<ReportInputs, ReportError> {
    let wh = Warehouse::open(cfg.warehouse_dir()).map_err(|e| failed("warehouse")(&e))?;
    let df = wh.load(Some(tenant)).map_err(|e| failed("warehouse")(&e))?;
    if df.height() == 0 {
        return Err(ReportError::NotFound(format!(
            "no ad_daily rows for tenant `{tenant}` in the warehouse {}",
            wh.root().display()
        )));
    }
    let days: Vec<Option<i32>> = df
        .column(ad::DATE)
        .and_then(|c| c.cast(&DataType::Int32))
        .and_then(|c| Ok(c.i32()?.iter().collect()))
        .map_err(|e| failed("warehouse dates")(&e))?;
    let (first, last) = days
        .iter()
        .flatten()
        .fold((i32::MAX, i32::MIN), |(a, b), d| (a.min(*d), b.max(*d)));
    let (first, last) = (days_to_date(first), days_to_date(last));
    let as_of = as_of.unwrap_or(last);
    if as_of < first || as_of > last {
        return Err(ReportError::Invalid(format!(
            "as-of {as_of} is outside tenant `{tenant}`'s data ({first} to {last})"
        )));
    }
    let facts = facts(&df, &days, as_of).map_err(|e| failed("warehouse rows")(&e))?;
    let reg = Registry::open(&cfg.models_dir);
    let fatigue = fatigue_section(&reg, &wh, tenant, as_of, df.clone(), job, top_n, &facts)?;
    let budget = budget_section(&reg, tenant)?;
    if let (Section::Missing(_), Section::Missing(_)) = (&fatigue, &budget) {
        return Err(ReportError::NotFound(format!(
            "no champion model for tenant `{tenant}`; train one first (omnify train fatigue \
             --tenant {tenant}, omnify train budget --tenant {tenant})"
        )));
    }
    Ok(ReportInputs {
        tenant: tenant.to_string(),
        as_of,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        currency: facts.currency.clone(),
        coverage: facts.coverage,
        fatigue,
        budget,
        definitions: Definitions {
            labels: job.base.labels.clone(),
            scoring: job.scoring.clone(),
            horizon_days: job.evaluation.horizon_days,
        },
        top_n,
    })
}

#[allow(clippy::too_many_arguments)]
fn fatigue_section(
    reg: &Registry,
    wh: &Warehouse,
    tenant: &str,
    as_of: NaiveDate,
    df: DataFrame,
    job: &JobConfig,
    top_n: usize,
    facts: &Facts,
) -> Result<Section<FatigueInputs>, ReportError> {
    // A tenant without a model of its own is on the cold-start prior (as the API and CLI).
    let (card, files, model) = match reg.load_champion(tenant, ModelKind::Fatigue) {
        Ok(l) => {
            let model = FittedModel::from_files(&l.files)
                .map_err(|e| failed(&format!("fatigue model {}", l.card.version))(&e))?;
            (l.card, Some(l.files), model)
        }
        Err(RegistryError::NoChampion { .. }) => match crate::fatigue::prior::embedded() {
            Some(p) => (p.card.clone(), None, p.model.clone()),
            None => {
                return Ok(Section::Missing(format!(
                    "No champion fatigue model for tenant {tenant} — run omnify train fatigue \
                     --tenant {tenant}"
                )));
            }
        },
        Err(e) => return Err(failed("fatigue model")(&e)),
    };
    let version = card.version.clone();
    // From the tenant's materialised features at its latest day (what `score fatigue` reads).
    let rows =
        crate::fatigue::snapshot::score_tenant(wh, tenant, Some(as_of), &model, &version, job)
            .map_err(|e| failed(&format!("scoring with fatigue model {version}"))(&e))?
            .unwrap_or_default();
    let creatives: Vec<CreativeInput> = rows
        .into_iter()
        .map(|score| {
            let k = (
                score.platform.clone(),
                score.account_id.clone(),
                score.ad_id.clone(),
            );
            CreativeInput {
                spend_7d: facts.spend_7d.get(&k).copied().unwrap_or(0.0),
                score,
            }
        })
        .collect();
    let evaluation = match files.as_ref().and_then(|f| f.get(EVALUATION_FILE)) {
        Some(b) => serde_json::from_slice::<StoredEvaluation>(b).map_err(|e| {
            format!("The evaluation stored with model version {version} cannot be read ({e}) — retrain: omnify train fatigue --tenant {tenant}")
        }),
        None if files.is_none() => Err(format!(
            "Tenant {tenant} has no fatigue model of its own yet: these scores come from the \
             cold-start prior {version}, trained on simulated accounts. Train one with omnify \
             train fatigue --tenant {tenant} (it needs at least {} days of history).",
            job.evaluation.min_history_days
        )),
        None => Err(format!(
            "Forecast-quality charts are not available for model version {version} (trained \
             before evaluations were stored) — retrain: omnify train fatigue --tenant {tenant}"
        )),
    };
    let top = top_forecast(&creatives, top_n);
    let histories =
        histories(df, &creatives, &top, as_of, job).map_err(|e| failed("cost history")(&e))?;
    Ok(Section::Ready(Box::new(FatigueInputs {
        card,
        creatives,
        histories,
        evaluation,
        scoring: job.scoring.clone(),
        horizon_days: job.evaluation.horizon_days,
    })))
}

/// The rolling cost-like metric and launch baseline of the creatives `top`, from the labels'
/// own definition (only their rows, up to the as-of day).
fn histories(
    df: DataFrame,
    creatives: &[CreativeInput],
    top: &[usize],
    as_of: NaiveDate,
    job: &JobConfig,
) -> PolarsResult<Vec<CreativeHistory>> {
    let Some(pick) = top
        .iter()
        .map(|&i| {
            let s = &creatives[i].score;
            col(ad::PLATFORM)
                .eq(lit(s.platform.clone()))
                .and(col(ad::ACCOUNT_ID).eq(lit(s.account_id.clone())))
                .and(col(ad::AD_ID).eq(lit(s.ad_id.clone())))
        })
        .reduce(|a, b| a.or(b))
    else {
        return Ok(Vec::new());
    };
    let lf = df.lazy().filter(pick.and(col(ad::DATE).lt_eq(lit(as_of))));
    let labels = label_days(lf, &job.base.labels)?
        .filter(col(ad::DATE).gt_eq(lit(as_of - Duration::days(HISTORY_DAYS))))
        .collect()?;
    let platform = strs(&labels, ad::PLATFORM)?;
    let account = strs(&labels, ad::ACCOUNT_ID)?;
    let ad_id = strs(&labels, ad::AD_ID)?;
    let kind = strs(&labels, METRIC_KIND)?;
    let days: Vec<Option<i32>> = labels
        .column(ad::DATE)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .collect();
    let f64s = |n: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(labels
            .column(n)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let (base, rolling) = (f64s(BASELINE_VALUE)?, f64s(ROLLING_VALUE)?);
    let mut out = Vec::new();
    for &i in top {
        let s = &creatives[i].score;
        let mut h = CreativeHistory {
            creative: i,
            metric_kind: String::new(),
            baseline: f64::NAN,
            points: Vec::new(),
        };
        for r in 0..labels.height() {
            if platform[r].as_deref() != Some(s.platform.as_str())
                || account[r].as_deref() != Some(s.account_id.as_str())
                || ad_id[r].as_deref() != Some(s.ad_id.as_str())
            {
                continue;
            }
            let Some(d) = days[r] else { continue };
            if h.metric_kind.is_empty()
                && let Some(k) = &kind[r]
            {
                h.metric_kind = k.clone();
            }
            if !h.baseline.is_finite()
                && let Some(b) = base[r].filter(|b| b.is_finite() && *b > 0.0)
            {
                h.baseline = b;
            }
            h.points
                .push((days_to_date(d), rolling[r].filter(|v| v.is_finite())));
        }
        if h.baseline.is_finite() && !h.points.is_empty() {
            out.push(h);
        }
    }
    Ok(out)
}

/// Per replicate, Σ over entities of (replicate curve at recommended − at current spend);
/// replicates are paired across series by index (as the forecast pairs them).
fn lift_replicates(model: &BudgetModel, plan: &PlanView) -> Vec<f64> {
    let by_id: HashMap<&str, (f64, f64)> = plan
        .entities
        .iter()
        .map(|e| (e.id.as_str(), (e.current, e.recommended)))
        .collect();
    let nrep = model
        .models
        .iter()
        .map(|m| m.replicates.len())
        .min()
        .unwrap_or(0);
    (0..nrep)
        .map(|b| {
            let mut lift = 0.0;
            for m in &model.models {
                let r = &m.replicates[b];
                for (j, ch) in m.channels.iter().enumerate() {
                    let (Some((cur, rec)), Some(Some(spec)), Some(beta)) =
                        (by_id.get(ch.name.as_str()), r.specs.get(j), r.betas.get(j))
                    else {
                        continue;
                    };
                    let c = to_curve(*beta, &spec.adstock, &spec.saturation);
                    lift += c.value(*rec) - c.value(*cur);
                }
            }
            lift
        })
        .collect()
}

fn interval(mut v: Vec<f64>, level: f64, point: f64) -> (f64, f64) {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return (point, point);
    }
    v.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    (quantile(&v, a), quantile(&v, 1.0 - a))
}

fn entity_curve(model: &BudgetModel, spec: &EntitySpec, rec: f64) -> EntityCurve {
    let xmax = (spec.current_spend.max(rec) * 1.6).max(1.0);
    let grid: Vec<f64> = (0..CURVE_POINTS)
        .map(|k| xmax * k as f64 / (CURVE_POINTS - 1) as f64)
        .collect();
    let outcome: Vec<f64> = grid.iter().map(|s| spec.curve.value(*s)).collect();
    // A replicate that dropped the channel has no effect: its curve is 0 everywhere.
    let mut reps: Vec<Option<crate::budget::ResponseCurve>> = Vec::new();
    for m in &model.models {
        for (j, ch) in m.channels.iter().enumerate() {
            if ch.name != spec.id {
                continue;
            }
            reps.extend(
                m.replicates
                    .iter()
                    .map(|r| match (r.specs.get(j), r.betas.get(j)) {
                        (Some(Some(s)), Some(b)) => Some(to_curve(*b, &s.adstock, &s.saturation)),
                        _ => None,
                    }),
            );
        }
    }
    let (mut lo, mut hi) = (
        Vec::with_capacity(grid.len()),
        Vec::with_capacity(grid.len()),
    );
    for (s, y) in grid.iter().zip(&outcome) {
        let v: Vec<f64> = reps
            .iter()
            .map(|c| c.as_ref().map_or(0.0, |c| c.value(*s)))
            .collect();
        let (a, b) = interval(v, model.interval, *y);
        lo.push(a);
        hi.push(b);
    }
    EntityCurve {
        id: spec.id.clone(),
        spend: grid,
        outcome,
        lo,
        hi,
        current: spec.current_spend,
        recommended: rec,
    }
}

/// The total series of a forecast (the only series when the model has one).
fn total_rows(model: &BudgetModel, rows: Vec<PeriodForecast>) -> Vec<PeriodForecast> {
    if model.models.len() > 1 {
        rows.into_iter().filter(|r| r.series == "total").collect()
    } else {
        rows
    }
}

/// The report plan's guardrail: the largest move per entity, percent of its current spend.
pub const MAX_SHIFT_PCT: f64 = 30.0;

fn budget_section(reg: &Registry, tenant: &str) -> Result<Section<BudgetInputs>, ReportError> {
    let (card, model) = match service::load_model(reg, tenant, None) {
        Ok(x) => x,
        Err(ServiceError::NotFound(_)) => {
            return Ok(Section::Missing(format!(
                "No champion budget model for tenant {tenant} — run omnify train budget \
                 --tenant {tenant}"
            )));
        }
        Err(e) => return Err(failed("budget model")(&e)),
    };
    let entities = service::champion_entities(&model);
    if entities.is_empty() {
        return Ok(Section::Missing(format!(
            "The budget model {} of tenant {tenant} found no entity whose spend has a positive \
             effect: there is no curve to allocate over.",
            card.version
        )));
    }
    let total: f64 = entities.iter().map(|e| e.current_spend).sum();
    // A plan people can act on: each entity moves at most MAX_SHIFT_PCT from its current
    // spend (an unbounded optimum can zero channels and multiply others many times over).
    let opts = OptimizeOptions {
        budget: total,
        constraints: Some(crate::budget::Constraints {
            max_shift_pct: Some(MAX_SHIFT_PCT),
            ..Default::default()
        }),
        ..OptimizeOptions::default()
    };
    let problem =
        service::build_problem(entities.clone(), &opts).map_err(|e| failed("budget plan")(&e))?;
    let alloc = allocate(&problem).map_err(|e| failed("budget plan")(&e))?;
    let mut plan = PlanView::from_allocation(&alloc);
    plan.model_version = Some(card.version.clone());
    let point = plan.expected_outcome - plan.expected_outcome_current;
    let (lo, hi) = interval(lift_replicates(&model, &plan), model.interval, point);
    let rec: HashMap<&str, f64> = plan
        .entities
        .iter()
        .map(|e| (e.id.as_str(), e.recommended))
        .collect();
    let mut drawn: Vec<&EntitySpec> = entities.iter().collect();
    drawn.sort_by(|a, b| {
        let s = |e: &EntitySpec| {
            e.current_spend
                .max(rec.get(e.id.as_str()).copied().unwrap_or(0.0))
        };
        s(b).total_cmp(&s(a)).then_with(|| a.id.cmp(&b.id))
    });
    let curves = drawn
        .into_iter()
        .take(MAX_CURVES)
        .map(|e| entity_curve(&model, e, rec.get(e.id.as_str()).copied().unwrap_or(0.0)))
        .collect();
    let periods = match model.period {
        crate::budget::series::PeriodKind::Week => 4,
        crate::budget::series::PeriodKind::Day => 14,
    };
    let recommended: BTreeMap<String, f64> = plan
        .entities
        .iter()
        .map(|e| (e.id.clone(), e.recommended))
        .collect();
    let fc = model
        .forecast(&BTreeMap::new(), periods)
        .map_err(|e| failed("budget forecast")(&e))?;
    let fr = model
        .forecast(&recommended, periods)
        .map_err(|e| failed("budget forecast")(&e))?;
    let held = fr
        .notes
        .iter()
        .filter(|n| n.contains("not in the plan"))
        .count();
    let mut notes: Vec<String> = fr
        .notes
        .iter()
        .filter(|n| !n.contains("not in the plan"))
        .cloned()
        .collect();
    if held > 0 {
        notes.push(format!(
            "{held} entities without a positive fitted effect keep their current spend in both \
             forecasts."
        ));
    }
    notes.extend(plan.notes.iter().cloned());
    Ok(Section::Ready(Box::new(BudgetInputs {
        max_shift_pct: Some(MAX_SHIFT_PCT),
        outcome: model.outcome.clone(),
        period: model.period.as_str().to_string(),
        interval: model.interval,
        lift: Estimate { point, lo, hi },
        curves,
        forecast_current: total_rows(&model, fc.rows),
        forecast_recommended: total_rows(&model, fr.rows),
        notes,
        plan,
        card,
    })))
}
