//! Each tenant's fatigue features at its latest data day, kept in memory for `ad_ids` scoring.
//!
//! Scoring a batch of ad ids from the warehouse means reading the tenant's rows and computing
//! every day's features of every creative of their accounts (the account medians and the
//! seasonal index read all of them); for a large batch that dwarfs the model run. The features
//! of each creative's last day do not change until the tenant's rows do, so they are computed
//! once per [`Warehouse::version`] of the tenant — the first `ad_ids` request after an ingest,
//! restatement or erase (from this process or another) rebuilds them, later requests only
//! check the version (a directory listing) and select the creatives asked for. Scores are the
//! same as `omnify score fatigue` of the whole tenant at that day (tested).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use crate::api::ApiError;
use crate::fatigue::{INPUT_COLUMNS, JobConfig, Prepared, prepare_input};
use crate::features::DayInput;
use crate::features::rows::Keep;
use crate::schema::{cols, days_to_date};
use crate::warehouse::{TenantVersion, Warehouse};
use polars::prelude::*;

/// A tenant's creatives with the features of their last day.
pub struct Snapshot {
    /// The tenant's latest data day (the scoring day these features serve).
    pub as_of: NaiveDate,
    /// Each creative's last day on or before `as_of`.
    pub prepared: Prepared,
    /// Ad id → its creatives (indices into `prepared.creatives`; one ad id can exist on
    /// several platforms or accounts).
    pub by_ad: HashMap<String, Vec<usize>>,
}

impl Snapshot {
    /// Computes the features of `tenant`'s creatives at `as_of` (default: its latest day)
    /// from every row of the tenant up to that day. `None` when the tenant has no rows.
    pub fn build(
        warehouse: &Warehouse,
        tenant: &str,
        as_of: Option<NaiveDate>,
        spec: &JobConfig,
    ) -> Result<Option<Snapshot>, ApiError> {
        let df = warehouse
            .query(Some(tenant), |lf| {
                let lf = match as_of {
                    Some(d) => lf.filter(col(cols::DATE).lt_eq(lit(d))),
                    None => lf,
                };
                lf.select(INPUT_COLUMNS.map(col)).collect()
            })
            .map_err(ApiError::internal)?;
        let input =
            DayInput::from_frame(&df).map_err(|e| crate::api::batcher::score_err(e.into()))?;
        // The frame holds the rows up to `as_of` only.
        let Some(as_of) = as_of.or_else(|| input.last_day().map(days_to_date)) else {
            return Ok(None);
        };
        let prepared = prepare_input(tenant, &input, &spec.base, Keep::Last)
            .map_err(crate::api::batcher::score_err)?;
        drop((input, df));
        let mut by_ad: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in prepared.creatives.iter().enumerate() {
            by_ad.entry(c.key.ad_id.clone()).or_default().push(i);
        }
        Ok(Some(Snapshot {
            as_of,
            prepared,
            by_ad,
        }))
    }
}

/// What was built for a tenant: its snapshot (`None` when it had no rows) and the version of
/// its rows it was built from.
struct Built {
    version: TenantVersion,
    snapshot: Option<Arc<Snapshot>>,
}

/// A tenant's current build, locked while it is checked or rebuilt so concurrent requests
/// after an ingest wait for one rebuild instead of each running their own.
type Slot = Arc<Mutex<Option<Built>>>;

/// The latest-day snapshot of every tenant scored so far.
#[derive(Default)]
pub struct Snapshots {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Snapshots {
    /// The tenant's slot; created when `create`, else `None` for a tenant without one.
    fn slot(&self, tenant: &str, create: bool) -> Result<Option<Slot>, ApiError> {
        let mut slots = self
            .slots
            .lock()
            .map_err(|_| ApiError::internal("snapshot table poisoned"))?;
        Ok(if create {
            Some(slots.entry(tenant.to_string()).or_default().clone())
        } else {
            slots.get(tenant).cloned()
        })
    }

    /// The tenant's snapshot at its latest day, rebuilt when its rows changed since; `None`
    /// when it has no rows. Blocking (call it off the async runtime).
    pub fn latest(
        &self,
        warehouse: &Warehouse,
        tenant: &str,
        spec: &JobConfig,
    ) -> Result<Option<Arc<Snapshot>>, ApiError> {
        let Some(slot) = self.slot(tenant, true)? else {
            return Err(ApiError::internal("snapshot slot missing"));
        };
        let mut slot = slot
            .lock()
            .map_err(|_| ApiError::internal("snapshot slot poisoned"))?;
        // Read before the rows: an ingest in between leaves an older version with newer rows,
        // which only costs one more rebuild.
        let version = warehouse.version(tenant).map_err(ApiError::internal)?;
        if let Some(b) = slot.as_ref().filter(|b| b.version == version) {
            return Ok(b.snapshot.clone());
        }
        // Drop the old one first: a large tenant's rebuild then does not hold two.
        *slot = None;
        let snapshot = Snapshot::build(warehouse, tenant, None, spec)?.map(Arc::new);
        *slot = Some(Built {
            version,
            snapshot: snapshot.clone(),
        });
        // The rebuild read and featurised every row of the tenant; hand that memory back.
        crate::api::server::release_free_memory();
        Ok(snapshot)
    }

    /// Brings the tenant's snapshot up to date if one is kept (the tenant has scored by ad
    /// id since the server started); does nothing otherwise. Blocking.
    pub fn refresh_if_kept(
        &self,
        warehouse: &Warehouse,
        tenant: &str,
        spec: &JobConfig,
    ) -> Result<(), ApiError> {
        if self.slot(tenant, false)?.is_some() {
            self.latest(warehouse, tenant, spec)?;
        }
        Ok(())
    }

    /// Whether the tenant's kept snapshot was built from its current rows.
    pub fn is_current(&self, warehouse: &Warehouse, tenant: &str) -> Result<bool, ApiError> {
        let Some(slot) = self.slot(tenant, false)? else {
            return Ok(false);
        };
        let version = warehouse.version(tenant).map_err(ApiError::internal)?;
        let slot = slot
            .lock()
            .map_err(|_| ApiError::internal("snapshot slot poisoned"))?;
        Ok(slot.as_ref().is_some_and(|b| b.version == version))
    }
}
