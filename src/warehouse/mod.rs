//! The warehouse: the unified `ad_daily` table as Hive-partitioned Parquet
//! (`<root>/ad_daily/tenant=T/platform=P/YYYY-MM.parquet`), readable by Polars, pyarrow and
//! pandas (partition columns `tenant` and `platform` come from the folder names, as Hive
//! readers expect; the files hold the other columns).
//!
//! Next to the table, `<root>/_features/tenant=T/` holds what is derived from a tenant's rows
//! and kept for reuse (the fatigue features of its latest day, written by the fatigue layer):
//! never read as rows, never part of a tenant's [`Warehouse::version`], written only while the
//! tenant's rows are still the ones it was computed from ([`Warehouse::write_derived`]) and
//! removed with the tenant.
//!
//! Ingest is an upsert on (tenant, platform, account_id, ad_id, date): a re-ingested key
//! replaces the stored row (platforms restate recent days for weeks), nothing else is touched.
//! Each affected partition is rewritten atomically under an exclusive OS file lock, so two
//! concurrent ingests serialise instead of corrupting each other.

use std::io;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::schema::{ad_daily_schema, cols};

pub mod store;
pub mod summary;
pub mod validate;

pub use crate::fsutil::write_atomic;
pub use store::{LocalStore, PartitionKey, PartitionStamp, PartitionStore};
pub use summary::{Summary, SummaryRow};
pub use validate::{ValidationError, valid_tenant, validate_frame};

/// Errors of the warehouse layer.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("warehouse I/O at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("warehouse data: {0}")]
    Polars(#[from] PolarsError),
    #[error("invalid rows: {0}")]
    Invalid(#[from] ValidationError),
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IngestReport {
    /// Rows offered (after de-duplicating the batch itself, last occurrence wins).
    pub rows: usize,
    /// Rows of the batch superseded by a later row with the same key in the same batch (a later
    /// pull restating an earlier one).
    pub superseded_in_batch: usize,
    /// Keys that were not in the warehouse before.
    pub inserted: usize,
    /// Keys that replaced a stored row.
    pub replaced: usize,
    /// Partition files rewritten.
    pub partitions: usize,
}

/// The `ad_daily` table on a [`PartitionStore`].
pub struct Warehouse {
    store: Box<dyn PartitionStore>,
    root: PathBuf,
}

/// Columns stored inside partition files (the partition columns live in the path).
fn file_columns() -> Vec<&'static str> {
    cols::ALL
        .iter()
        .copied()
        .filter(|c| *c != cols::TENANT && *c != cols::PLATFORM)
        .collect()
}

impl Warehouse {
    /// Opens (creating if needed) a local warehouse under `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, WarehouseError> {
        let root = root.as_ref().to_path_buf();
        let store = LocalStore::new(&root).map_err(|source| WarehouseError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Warehouse {
            store: Box::new(store),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of what is derived from `tenant`'s rows (see the module docs).
    pub fn derived_dir(&self, tenant: &str) -> PathBuf {
        self.root.join("_features").join(format!("tenant={tenant}"))
    }

    /// Writes `files` (name, bytes; in that order, each atomically) into the tenant's
    /// [`derived_dir`](Self::derived_dir) if its rows are still at `version`, holding the
    /// shared lock so no ingest or erase runs in between; `false` (nothing written) when they
    /// changed since.
    pub fn write_derived(
        &self,
        tenant: &str,
        version: &TenantVersion,
        files: &[(&str, &[u8])],
    ) -> Result<bool, WarehouseError> {
        let _lock = self.store.lock_shared().map_err(|e| self.io(e))?;
        if self.version_unlocked(tenant)? != *version {
            return Ok(false);
        }
        let dir = self.derived_dir(tenant);
        for (name, bytes) in files {
            let path = dir.join(name);
            write_atomic(&path, bytes).map_err(|source| WarehouseError::Io { path, source })?;
        }
        Ok(true)
    }

    fn io(&self, source: io::Error) -> WarehouseError {
        WarehouseError::Io {
            path: self.root.clone(),
            source,
        }
    }

    /// Upserts validated `ad_daily` rows (see [`validate_frame`]). Within `batch`, a repeated
    /// key keeps its last row (later files restate earlier ones).
    pub fn ingest(&self, batch: DataFrame) -> Result<IngestReport, WarehouseError> {
        let key: Vec<Expr> = cols::KEY.iter().map(|c| col(*c)).collect();
        let offered = batch.height();
        let batch = batch
            .lazy()
            .unique_stable_generic(Some(key.clone()), UniqueKeepStrategy::Last)
            .with_column(col(cols::DATE).dt().strftime("%Y-%m").alias("__month"))
            .collect()?;
        let mut report = IngestReport {
            rows: batch.height(),
            superseded_in_batch: offered - batch.height(),
            ..Default::default()
        };
        if batch.height() == 0 {
            return Ok(report);
        }
        let _lock = self.store.lock_exclusive().map_err(|e| self.io(e))?;
        let parts = batch.partition_by_stable([cols::TENANT, cols::PLATFORM, "__month"], true)?;
        let file_cols = file_columns();
        let file_key: Vec<Expr> = [cols::ACCOUNT_ID, cols::AD_ID, cols::DATE]
            .iter()
            .map(|c| col(*c))
            .collect();
        // Every partition's new file, written together at the end: all or none.
        let mut writes = Vec::with_capacity(parts.len());
        for part in parts {
            let tenant = part
                .column(cols::TENANT)?
                .str()?
                .get(0)
                .unwrap_or_default()
                .to_string();
            let platform = part
                .column(cols::PLATFORM)?
                .str()?
                .get(0)
                .unwrap_or_default()
                .to_string();
            let month = part
                .column("__month")?
                .str()?
                .get(0)
                .unwrap_or_default()
                .to_string();
            let pkey = PartitionKey {
                tenant,
                platform,
                month,
            };
            let new = part.select(file_cols.iter().copied())?;
            let merged = match self.store.local_path(&pkey) {
                Some(path) => {
                    let old = read_parquet(&path)?;
                    let replaced = old
                        .clone()
                        .lazy()
                        .join(
                            new.clone().lazy().select(file_key.clone()),
                            file_key.clone(),
                            file_key.clone(),
                            JoinArgs::new(JoinType::Semi),
                        )
                        .collect()?
                        .height();
                    report.replaced += replaced;
                    report.inserted += new.height() - replaced;
                    let kept = old.lazy().join(
                        new.clone().lazy().select(file_key.clone()),
                        file_key.clone(),
                        file_key.clone(),
                        JoinArgs::new(JoinType::Anti),
                    );
                    concat([kept, new.lazy()], UnionArgs::default())?
                }
                None => {
                    report.inserted += new.height();
                    new.lazy()
                }
            };
            let mut merged = merged
                .sort(
                    [cols::ACCOUNT_ID, cols::AD_ID, cols::DATE],
                    SortMultipleOptions::default(),
                )
                .collect()?;
            let mut buf = Vec::with_capacity(merged.height() * 48);
            ParquetWriter::new(&mut buf)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut merged)?;
            writes.push((pkey, buf));
            report.partitions += 1;
        }
        self.store.put_all_atomic(&writes).map_err(|e| self.io(e))?;
        Ok(report)
    }

    /// Partitions present, optionally for one tenant.
    pub fn partitions(&self, tenant: Option<&str>) -> Result<Vec<PartitionKey>, WarehouseError> {
        let all = self.store.list().map_err(|e| self.io(e))?;
        Ok(all
            .into_iter()
            .filter(|k| tenant.is_none_or(|t| k.tenant == t))
            .collect())
    }

    /// Runs `f` on a lazy scan of `ad_daily` (all columns, table order; optionally one tenant)
    /// while holding the shared reader lock, so no ingest rewrites a file mid-read. `f` must
    /// collect what it needs before returning.
    pub fn query<T>(
        &self,
        tenant: Option<&str>,
        f: impl FnOnce(LazyFrame) -> PolarsResult<T>,
    ) -> Result<T, WarehouseError> {
        let _lock = self.store.lock_shared().map_err(|e| self.io(e))?;
        Ok(f(self.scan_unlocked(tenant)?)?)
    }

    /// The version of a tenant's rows: its partitions with their stamps, read under the shared
    /// lock. Equal versions mean the same rows; any ingest, restatement or erase of the tenant
    /// (from this process or another) changes it. Cheap (a directory listing and a `stat` per
    /// partition), so callers can check it before reusing what they computed from the rows.
    pub fn version(&self, tenant: &str) -> Result<TenantVersion, WarehouseError> {
        let _lock = self.store.lock_shared().map_err(|e| self.io(e))?;
        self.version_unlocked(tenant)
    }

    fn version_unlocked(&self, tenant: &str) -> Result<TenantVersion, WarehouseError> {
        let mut parts = Vec::new();
        for key in self.partitions(Some(tenant))? {
            if let Some(stamp) = self.store.stamp(&key).map_err(|e| self.io(e))? {
                parts.push((key, stamp));
            }
        }
        Ok(TenantVersion(parts))
    }

    /// All rows (optionally of one tenant) as a frame, read under the shared lock.
    pub fn load(&self, tenant: Option<&str>) -> Result<DataFrame, WarehouseError> {
        self.query(tenant, |lf| lf.collect())
    }

    fn scan_unlocked(&self, tenant: Option<&str>) -> Result<LazyFrame, WarehouseError> {
        let mut frames = Vec::new();
        for key in self.partitions(tenant)? {
            let Some(path) = self.store.local_path(&key) else {
                continue;
            };
            let lf = LazyFrame::scan_parquet(
                PlRefPath::new(path.to_string_lossy().as_ref()),
                ScanArgsParquet::default(),
            )?
            .with_columns([
                lit(key.tenant.clone()).alias(cols::TENANT),
                lit(key.platform.clone()).alias(cols::PLATFORM),
            ])
            .select(cols::ALL.iter().map(|c| col(*c)).collect::<Vec<_>>());
            frames.push(lf);
        }
        if frames.is_empty() {
            return Ok(DataFrame::empty_with_schema(&ad_daily_schema()).lazy());
        }
        Ok(concat(frames, UnionArgs::default())?)
    }

    /// Rows, creatives, dates and spend per tenant and platform.
    pub fn summary(&self, tenant: Option<&str>) -> Result<Summary, WarehouseError> {
        let _lock = self.store.lock_shared().map_err(|e| self.io(e))?;
        summary::summarize(self.scan_unlocked(tenant)?)
    }

    /// Removes every row of a tenant and what was derived from them; returns the partitions
    /// removed.
    pub fn delete_tenant(&self, tenant: &str) -> Result<usize, WarehouseError> {
        let _lock = self.store.lock_exclusive().map_err(|e| self.io(e))?;
        let n = self.store.delete_tenant(tenant).map_err(|e| self.io(e))?;
        let derived = self.derived_dir(tenant);
        match std::fs::remove_dir_all(&derived) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(WarehouseError::Io {
                    path: derived,
                    source: e,
                });
            }
            _ => {}
        }
        Ok(n)
    }
}

/// See [`Warehouse::version`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantVersion(Vec<(PartitionKey, PartitionStamp)>);

impl TenantVersion {
    /// Whether the tenant has no rows.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A SHA-256 (hex) of the version, to store with what was computed from these rows and
    /// compare in a later process: equal versions give equal fingerprints.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (k, s) in &self.0 {
            for part in [&k.tenant, &k.platform, &k.month] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
            h.update(s.bytes.to_le_bytes());
            h.update(s.modified_ns.to_le_bytes());
        }
        format!("{:x}", h.finalize())
    }
}

/// Reads a whole Parquet file.
pub fn read_parquet(path: &Path) -> Result<DataFrame, WarehouseError> {
    let f = std::fs::File::open(path).map_err(|source| WarehouseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ParquetReader::new(f).finish()?)
}
