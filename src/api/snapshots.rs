//! Each tenant's fatigue features at its latest data day, kept in memory for `ad_ids` scoring.
//!
//! The features come from [`crate::fatigue::snapshot`]: the tenant's materialised latest-day
//! snapshot in the warehouse when it is current (the server starting up, or another process
//! having built it, costs one read), else computed from the tenant's rows and written there.
//! They are kept per [`Warehouse::version`] of the tenant — the first `ad_ids` request after an
//! ingest, restatement or erase (from this process or another) rebuilds them, later requests
//! only check the version (a directory listing) and select the creatives asked for. Scores are
//! the same as `omnify score fatigue` of the whole tenant at that day (tested).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::api::ApiError;
use crate::fatigue::JobConfig;
use crate::fatigue::snapshot::{self, Origin, Snapshot};
use crate::warehouse::{TenantVersion, Warehouse};

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
        let version = warehouse.version(tenant).map_err(ApiError::internal)?;
        if let Some(b) = slot.as_ref().filter(|b| b.version == version) {
            return Ok(b.snapshot.clone());
        }
        // Drop the old one first: a large tenant's rebuild then does not hold two.
        *slot = None;
        let found = snapshot::at(warehouse, tenant, None, &spec.base)
            .map_err(crate::api::batcher::score_err)?;
        let snapshot = found.snapshot.map(Arc::new);
        *slot = Some(Built {
            version: found.version,
            snapshot: snapshot.clone(),
        });
        if found.origin != Origin::Disk {
            // The rebuild read and featurised every row of the tenant; hand that memory back.
            crate::api::server::release_free_memory();
        }
        Ok(snapshot)
    }

    /// Brings the tenant's snapshot up to date if one is kept: in memory (the tenant has
    /// scored by ad id since the server started), or only in the warehouse (built with the
    /// server's settings by an earlier run or `omnify score fatigue`); does nothing otherwise.
    /// Blocking.
    pub fn refresh_if_kept(
        &self,
        warehouse: &Warehouse,
        tenant: &str,
        spec: &JobConfig,
    ) -> Result<(), ApiError> {
        if self.slot(tenant, false)?.is_some() {
            self.latest(warehouse, tenant, spec)?;
        } else {
            snapshot::refresh_if_kept(warehouse, tenant, &spec.base)
                .map_err(crate::api::batcher::score_err)?;
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
