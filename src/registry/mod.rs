//! The model registry: versioned models per tenant and kind, and a champion pointer per kind
//! (docs/design.md §6).
//!
//! Layout: `<root>/<tenant>/<kind>/<version>/card.json` plus weight files, and
//! `<root>/<tenant>/<kind>/champion.json` (the current champion and the history of earlier ones,
//! for rollback). A version is written into a hidden staging folder, every file fsynced, then
//! the folder is renamed into place, so a half-written version never has a loadable name; the
//! card lists every file's SHA-256, checked on load. The champion pointer is replaced atomically
//! (temp file, fsync, rename) under a per-kind lock.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fsutil::write_atomic;

/// What a registry entry models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Fatigue,
    Budget,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Fatigue => "fatigue",
            ModelKind::Budget => "budget",
        }
    }

    pub fn parse(s: &str) -> Result<ModelKind, RegistryError> {
        match s {
            "fatigue" => Ok(ModelKind::Fatigue),
            "budget" => Ok(ModelKind::Budget),
            other => Err(RegistryError::UnknownKind(other.to_string())),
        }
    }
}

/// The card stored with every version: what was trained, on what, how, and how well.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCard {
    pub kind: ModelKind,
    /// Set by the registry: `YYYYMMDDTHHMMSSZ-<8 hex>` (sorts by creation time).
    #[serde(default)]
    pub version: String,
    pub tenant: String,
    /// RFC 3339, set by the registry.
    #[serde(default)]
    pub created: String,
    /// The model family that won (e.g. `survival_mlp`, `hill_geometric`).
    pub model: String,
    /// First and last day of the training data.
    pub data_from: Option<chrono::NaiveDate>,
    pub data_to: Option<chrono::NaiveDate>,
    /// Training rows (creative-days, person-periods or periods, as the kind defines).
    pub rows: u64,
    /// Input feature names in order.
    pub features: Vec<String>,
    /// SHA-256 of the feature list and input schema, to refuse mismatched inputs.
    pub schema_hash: String,
    pub hyperparameters: serde_json::Value,
    pub seed: u64,
    /// Holdout metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// The holdout metric used to decide promotion, and whether higher is better.
    pub selection_metric: String,
    pub higher_is_better: bool,
    /// `omnify` version that trained it.
    #[serde(default)]
    pub crate_version: String,
    /// Weight files and their SHA-256, set by the registry.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The validation the job actually did (fatigue: method, folds, rows, onsets; absent in
    /// versions trained before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<serde_json::Value>,
}

impl ModelCard {
    /// The selection metric's holdout value, if recorded.
    pub fn score(&self) -> Option<f64> {
        self.metrics.get(&self.selection_metric).copied()
    }
}

/// A loaded version: the card and its verified files.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub card: ModelCard,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The champion pointer with its history (most recent last).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChampionPointer {
    pub version: Option<String>,
    pub history: Vec<String>,
}

/// What `register_and_maybe_promote` decided.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PromotionDecision {
    pub version: String,
    pub promoted: bool,
    pub previous_champion: Option<String>,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry I/O at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("unknown model kind `{0}`; expected fatigue or budget")]
    UnknownKind(String),
    #[error("no {kind} model version `{version}` for tenant `{tenant}`")]
    NotFound {
        tenant: String,
        kind: &'static str,
        version: String,
    },
    #[error(
        "no champion {kind} model for tenant `{tenant}`; train one first (omnify train {kind})"
    )]
    NoChampion { tenant: String, kind: &'static str },
    #[error("nothing to roll back to: the {kind} champion of tenant `{tenant}` has no predecessor")]
    NoPrevious { tenant: String, kind: &'static str },
    #[error("model version {version} is corrupt: {detail}")]
    Corrupt { version: String, detail: String },
    #[error("invalid file name `{0}` in a model version")]
    BadFileName(String),
}

/// The registry rooted at a folder (default `models/`).
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Registry {
    pub fn open(root: impl Into<PathBuf>) -> Registry {
        Registry { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn kind_dir(&self, tenant: &str, kind: ModelKind) -> PathBuf {
        self.root.join(tenant).join(kind.as_str())
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> RegistryError + '_ {
        move |source| RegistryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Writes a new version (not promoted). Fills `version`, `created`, `crate_version` and
    /// `files` in the card it returns.
    pub fn register(
        &self,
        mut card: ModelCard,
        files: &[(&str, Vec<u8>)],
    ) -> Result<ModelCard, RegistryError> {
        for (name, _) in files {
            if name.is_empty()
                || *name == "card.json"
                || name.contains(['/', '\\'])
                || name.starts_with('.')
            {
                return Err(RegistryError::BadFileName(name.to_string()));
            }
        }
        let now = chrono::Utc::now();
        let mut h = Sha256::new();
        for (name, bytes) in files {
            h.update(name.as_bytes());
            h.update(bytes);
        }
        h.update(now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        let digest = hex::encode(h.finalize());
        card.version = format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &digest[..8]);
        card.created = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        card.crate_version = env!("CARGO_PKG_VERSION").to_string();
        card.files = files
            .iter()
            .map(|(n, b)| (n.to_string(), sha256_hex(b)))
            .collect();
        let dir = self.kind_dir(&card.tenant, card.kind);
        fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let staging = dir.join(format!(".staging-{}", uuid::Uuid::new_v4()));
        fs::create_dir(&staging).map_err(Self::io(&staging))?;
        let result = (|| {
            for (name, bytes) in files {
                write_atomic(&staging.join(name), bytes).map_err(Self::io(&staging))?;
            }
            let card_bytes = serde_json::to_vec_pretty(&card).map_err(|e| RegistryError::Io {
                path: staging.clone(),
                source: io::Error::other(e),
            })?;
            write_atomic(&staging.join("card.json"), &card_bytes).map_err(Self::io(&staging))?;
            let target = dir.join(&card.version);
            fs::rename(&staging, &target).map_err(Self::io(&target))?;
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result.map(|_| card)
    }

    /// Every version of a kind for a tenant, oldest first (staging folders are skipped).
    pub fn list(&self, tenant: &str, kind: ModelKind) -> Result<Vec<ModelCard>, RegistryError> {
        let dir = self.kind_dir(tenant, kind);
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut cards = Vec::new();
        for e in fs::read_dir(&dir).map_err(Self::io(&dir))? {
            let e = e.map_err(Self::io(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.path().is_dir() {
                continue;
            }
            if let Ok(card) = self.read_card(&e.path()) {
                cards.push(card);
            }
        }
        cards.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(cards)
    }

    /// Tenants that have a folder in the registry.
    pub fn tenants(&self) -> Result<Vec<String>, RegistryError> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root).map_err(Self::io(&self.root))? {
            let e = e.map_err(Self::io(&self.root))?;
            let name = e.file_name().to_string_lossy().into_owned();
            // A name with a dot is never a tenant (e.g. the shipped `prior.fatigue`).
            if e.path().is_dir() && !name.contains('.') {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    fn read_card(&self, dir: &Path) -> Result<ModelCard, RegistryError> {
        let path = dir.join("card.json");
        let bytes = fs::read(&path).map_err(Self::io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Corrupt {
            version: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            detail: format!("card.json: {e}"),
        })
    }

    /// A version's card, without loading weights.
    pub fn card(
        &self,
        tenant: &str,
        kind: ModelKind,
        version: &str,
    ) -> Result<ModelCard, RegistryError> {
        let dir = self.version_dir(tenant, kind, version)?;
        self.read_card(&dir)
    }

    fn version_dir(
        &self,
        tenant: &str,
        kind: ModelKind,
        version: &str,
    ) -> Result<PathBuf, RegistryError> {
        let dir = self.kind_dir(tenant, kind).join(version);
        if version.is_empty()
            || version.starts_with('.')
            || version.contains(['/', '\\'])
            || !dir.join("card.json").exists()
        {
            return Err(RegistryError::NotFound {
                tenant: tenant.to_string(),
                kind: kind.as_str(),
                version: version.to_string(),
            });
        }
        Ok(dir)
    }

    /// Loads a version and verifies every file against the card's checksums.
    pub fn load(
        &self,
        tenant: &str,
        kind: ModelKind,
        version: &str,
    ) -> Result<LoadedModel, RegistryError> {
        let dir = self.version_dir(tenant, kind, version)?;
        let card = self.read_card(&dir)?;
        let mut files = BTreeMap::new();
        for (name, want) in &card.files {
            let path = dir.join(name);
            let bytes = fs::read(&path).map_err(|e| RegistryError::Corrupt {
                version: version.to_string(),
                detail: format!("{name}: {e}"),
            })?;
            let got = sha256_hex(&bytes);
            if &got != want {
                return Err(RegistryError::Corrupt {
                    version: version.to_string(),
                    detail: format!("{name}: checksum {got} does not match the card's {want}"),
                });
            }
            files.insert(name.clone(), bytes);
        }
        Ok(LoadedModel { card, files })
    }

    fn pointer_path(&self, tenant: &str, kind: ModelKind) -> PathBuf {
        self.kind_dir(tenant, kind).join("champion.json")
    }

    /// The champion pointer (empty when no champion yet).
    pub fn pointer(&self, tenant: &str, kind: ModelKind) -> Result<ChampionPointer, RegistryError> {
        let path = self.pointer_path(tenant, kind);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| RegistryError::Corrupt {
                version: "champion.json".into(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ChampionPointer::default()),
            Err(e) => Err(RegistryError::Io { path, source: e }),
        }
    }

    /// The champion version, if any.
    pub fn champion(&self, tenant: &str, kind: ModelKind) -> Result<Option<String>, RegistryError> {
        Ok(self.pointer(tenant, kind)?.version)
    }

    /// Loads the champion, verified.
    pub fn load_champion(
        &self,
        tenant: &str,
        kind: ModelKind,
    ) -> Result<LoadedModel, RegistryError> {
        match self.champion(tenant, kind)? {
            Some(v) => self.load(tenant, kind, &v),
            None => Err(RegistryError::NoChampion {
                tenant: tenant.to_string(),
                kind: kind.as_str(),
            }),
        }
    }

    fn with_pointer_lock<T>(
        &self,
        tenant: &str,
        kind: ModelKind,
        f: impl FnOnce(ChampionPointer) -> Result<(ChampionPointer, T), RegistryError>,
    ) -> Result<T, RegistryError> {
        let dir = self.kind_dir(tenant, kind);
        fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let lock_path = dir.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Self::io(&lock_path))?;
        lock.lock().map_err(Self::io(&lock_path))?;
        let (next, out) = f(self.pointer(tenant, kind)?)?;
        let path = self.pointer_path(tenant, kind);
        let bytes = serde_json::to_vec_pretty(&next).map_err(|e| RegistryError::Io {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        write_atomic(&path, &bytes).map_err(Self::io(&path))?;
        Ok(out)
    }

    /// Removes every model of `tenant` (all kinds and versions). Returns whether anything
    /// was there.
    pub fn delete_tenant(&self, tenant: &str) -> Result<bool, RegistryError> {
        if tenant.is_empty()
            || !tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Ok(false);
        }
        let dir = self.root.join(tenant);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Self::io(&dir)(e)),
        }
    }

    /// Makes `version` the champion (verifying it loads first).
    pub fn promote(
        &self,
        tenant: &str,
        kind: ModelKind,
        version: &str,
    ) -> Result<(), RegistryError> {
        self.load(tenant, kind, version)?;
        self.with_pointer_lock(tenant, kind, |mut p| {
            if p.version.as_deref() != Some(version) {
                if let Some(old) = p.version.take() {
                    p.history.push(old);
                }
                p.version = Some(version.to_string());
            }
            Ok((p, ()))
        })
    }

    /// Restores the previous champion; returns it.
    pub fn rollback(&self, tenant: &str, kind: ModelKind) -> Result<String, RegistryError> {
        self.with_pointer_lock(tenant, kind, |mut p| {
            let prev = p.history.pop().ok_or(RegistryError::NoPrevious {
                tenant: tenant.to_string(),
                kind: kind.as_str(),
            })?;
            p.version = Some(prev.clone());
            Ok((p, prev))
        })
    }

    /// Registers a version and promotes it only if it beats the champion on its selection
    /// metric (or there is no champion, or the champion has no comparable score).
    pub fn register_and_maybe_promote(
        &self,
        card: ModelCard,
        files: &[(&str, Vec<u8>)],
    ) -> Result<PromotionDecision, RegistryError> {
        let (tenant, kind) = (card.tenant.clone(), card.kind);
        let card = self.register(card, files)?;
        let champion = match self.champion(&tenant, kind)? {
            Some(v) => self.card(&tenant, kind, &v).ok(),
            None => None,
        };
        let new_score = card.score();
        let (promote, reason) = match (&champion, new_score) {
            (None, _) => (true, "no champion yet".to_string()),
            (Some(_), None) => (
                false,
                format!("new version has no `{}` score", card.selection_metric),
            ),
            (Some(c), Some(s)) => match (c.selection_metric == card.selection_metric, c.score()) {
                (true, Some(old)) => {
                    let better = if card.higher_is_better {
                        s > old
                    } else {
                        s < old
                    };
                    (
                        better,
                        format!(
                            "{} {s:.4} vs champion {old:.4}: {}",
                            card.selection_metric,
                            if better { "better" } else { "not better" }
                        ),
                    )
                }
                _ => (
                    true,
                    "champion has no comparable score; replacing it".to_string(),
                ),
            },
        };
        let previous_champion = champion.map(|c| c.version);
        if promote {
            self.promote(&tenant, kind, &card.version)?;
        }
        Ok(PromotionDecision {
            version: card.version,
            promoted: promote,
            previous_champion,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(score: f64) -> ModelCard {
        ModelCard {
            kind: ModelKind::Fatigue,
            version: String::new(),
            tenant: "acme".into(),
            created: String::new(),
            model: "test".into(),
            data_from: None,
            data_to: None,
            rows: 10,
            features: vec!["a".into()],
            schema_hash: "x".into(),
            hyperparameters: serde_json::json!({"lr": 0.1}),
            seed: 1,
            metrics: BTreeMap::from([("auc".to_string(), score)]),
            selection_metric: "auc".into(),
            higher_is_better: true,
            crate_version: String::new(),
            files: BTreeMap::new(),
            validation: None,
        }
    }

    #[test]
    fn promotes_only_when_better_and_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path());
        let d1 = reg
            .register_and_maybe_promote(card(0.80), &[("w.bin", vec![1, 2, 3])])
            .unwrap();
        assert!(d1.promoted);
        let d2 = reg
            .register_and_maybe_promote(card(0.75), &[("w.bin", vec![4])])
            .unwrap();
        assert!(!d2.promoted, "{}", d2.reason);
        assert_eq!(
            reg.champion("acme", ModelKind::Fatigue).unwrap(),
            Some(d1.version.clone())
        );
        let d3 = reg
            .register_and_maybe_promote(card(0.85), &[("w.bin", vec![5])])
            .unwrap();
        assert!(d3.promoted);
        assert_eq!(reg.list("acme", ModelKind::Fatigue).unwrap().len(), 3);
        assert_eq!(
            reg.rollback("acme", ModelKind::Fatigue).unwrap(),
            d1.version
        );
        assert_eq!(
            reg.load_champion("acme", ModelKind::Fatigue).unwrap().files["w.bin"],
            vec![1, 2, 3]
        );
        assert!(matches!(
            reg.rollback("acme", ModelKind::Fatigue),
            Err(RegistryError::NoPrevious { .. })
        ));
    }

    #[test]
    fn a_tampered_or_half_written_version_never_loads() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path());
        let c = reg.register(card(0.9), &[("w.bin", vec![9; 100])]).unwrap();
        let path = dir
            .path()
            .join("acme/fatigue")
            .join(&c.version)
            .join("w.bin");
        std::fs::write(&path, vec![9; 99]).unwrap();
        assert!(matches!(
            reg.load("acme", ModelKind::Fatigue, &c.version),
            Err(RegistryError::Corrupt { .. })
        ));
        // A staging folder (what a crash mid-write leaves) is invisible.
        std::fs::create_dir_all(dir.path().join("acme/fatigue/.staging-x")).unwrap();
        assert_eq!(reg.list("acme", ModelKind::Fatigue).unwrap().len(), 1);
        assert!(reg.load("acme", ModelKind::Fatigue, ".staging-x").is_err());
        assert!(reg.load("acme", ModelKind::Fatigue, "../x").is_err());
        assert!(reg.register(card(0.9), &[("../evil", vec![])]).is_err());
    }
}
