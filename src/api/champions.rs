//! Champion models held in memory and swapped without a restart (docs/design.md §6, hot swap).
//!
//! Each (tenant, kind) maps to an `Arc` of the loaded champion behind a `RwLock` that is held
//! only to clone or replace the `Arc`: a request keeps using the model it started with, and a
//! promotion (by a job, the API, or `omnify models promote` in another process) is picked up by
//! [`Champions::refresh`], which the server runs every `api.model_poll_ms` and right after its
//! own promotions. The new model is loaded (and verified) before the swap, so no request ever
//! sees a half-loaded model or waits for a load it did not ask for.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::budget::BudgetModel;
use crate::budget::service as budget_service;
use crate::fatigue::FittedModel;
use crate::registry::{ModelCard, ModelKind, Registry, RegistryError};

/// A loaded champion.
pub enum Model {
    Fatigue(FittedModel),
    Budget(BudgetModel),
}

pub struct Champion {
    pub card: ModelCard,
    pub model: Model,
}

impl Champion {
    pub fn version(&self) -> &str {
        &self.card.version
    }
}

type Slot = Option<Arc<Champion>>;

/// The in-memory champions.
pub struct Champions {
    registry: Registry,
    map: RwLock<HashMap<(String, ModelKind), Slot>>,
}

fn load(reg: &Registry, tenant: &str, kind: ModelKind) -> Result<Slot, String> {
    match kind {
        ModelKind::Fatigue => match reg.load_champion(tenant, kind) {
            Ok(l) => {
                let m = FittedModel::from_files(&l.files).map_err(|e| e.to_string())?;
                Ok(Some(Arc::new(Champion {
                    card: l.card,
                    model: Model::Fatigue(m),
                })))
            }
            Err(RegistryError::NoChampion { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        },
        ModelKind::Budget => match budget_service::load_model(reg, tenant, None) {
            Ok((card, m)) => Ok(Some(Arc::new(Champion {
                card,
                model: Model::Budget(m),
            }))),
            Err(budget_service::ServiceError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// The cold-start prior as a champion: what serves a tenant with no fatigue champion of its
/// own (its card's version, `prior-…`, is the `model_version` of its scores).
pub fn fatigue_prior() -> Option<Arc<Champion>> {
    static PRIOR: std::sync::OnceLock<Option<Arc<Champion>>> = std::sync::OnceLock::new();
    PRIOR
        .get_or_init(|| {
            crate::fatigue::prior::embedded().map(|p| {
                Arc::new(Champion {
                    card: p.card.clone(),
                    model: Model::Fatigue(p.model.clone()),
                })
            })
        })
        .clone()
}

impl Champions {
    pub fn new(registry: Registry) -> Champions {
        Champions {
            registry,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The champion of `tenant`'s `kind`, loading it on first use (blocking: call from a
    /// blocking context). `None` when the tenant has no champion. A tenant known to have none
    /// is checked again against the registry's pointer (one small file read), so a model
    /// promoted by a job in another process serves as soon as the job reports success, not
    /// only after the next poll.
    pub fn get(&self, tenant: &str, kind: ModelKind) -> Result<Slot, String> {
        let key = (tenant.to_string(), kind);
        if let Some(Some(c)) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Some(c.clone()));
        }
        let slot = load(&self.registry, tenant, kind)?;
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        // A refresh may have swapped in a newer champion while this one loaded: keep it.
        if let Some(Some(c)) = map.get(&key)
            && slot.is_none()
        {
            return Ok(Some(c.clone()));
        }
        map.insert(key, slot.clone());
        Ok(slot)
    }

    /// The champion of (tenant, kind) if it is loaded in memory; `None` when it must be
    /// looked up with [`Champions::get`]. Never blocks on I/O.
    pub fn cached_slot(&self, tenant: &str, kind: ModelKind) -> Option<Arc<Champion>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(tenant.to_string(), kind))
            .cloned()
            .flatten()
    }

    /// The cached champion without loading (for metrics and readiness).
    pub fn cached(&self) -> Vec<(String, ModelKind, String)> {
        let mut v: Vec<_> = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|((t, k), s)| s.as_ref().map(|c| (t.clone(), *k, c.card.version.clone())))
            .collect();
        v.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        v
    }

    /// Loads every tenant's champions found in the registry and swaps in any whose pointer
    /// changed. Returns the (tenant, kind, version) swapped in. Blocking.
    pub fn refresh(&self) -> Result<Vec<(String, ModelKind, String)>, String> {
        let mut tenants = self.registry.tenants().map_err(|e| e.to_string())?;
        for (t, _) in self.map.read().unwrap_or_else(|e| e.into_inner()).keys() {
            tenants.push(t.clone());
        }
        tenants.sort();
        tenants.dedup();
        let mut swapped = Vec::new();
        for t in tenants {
            for kind in [ModelKind::Fatigue, ModelKind::Budget] {
                let want = self
                    .registry
                    .champion(&t, kind)
                    .map_err(|e| e.to_string())?;
                let key = (t.clone(), kind);
                let have = self
                    .map
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    .map(|s| s.as_ref().map(|c| c.card.version.clone()));
                if have.as_ref() == Some(&want) {
                    continue;
                }
                match load(&self.registry, &t, kind) {
                    Ok(slot) => {
                        if let Some(c) = &slot {
                            swapped.push((t.clone(), kind, c.card.version.clone()));
                        }
                        self.map
                            .write()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(key, slot);
                    }
                    // Keep serving the old model; the next poll retries.
                    Err(e) => tracing::error!(tenant = %t, kind = kind.as_str(), error = %e,
                        "cannot load the new champion; keeping the current one"),
                }
            }
        }
        Ok(swapped)
    }

    /// Forgets a tenant (after erase).
    pub fn forget(&self, tenant: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(t, _), _| t != tenant);
    }
}
