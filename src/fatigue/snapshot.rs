//! A tenant's fatigue features at its latest data day, materialised next to the warehouse.
//!
//! Scoring from the warehouse means reading the tenant's rows and computing every day's
//! features of every creative (the account medians and the seasonal index read all of them);
//! for a large tenant that dwarfs the model run. The features of each creative's last day do
//! not change until the tenant's rows do, so they are kept on disk per tenant in
//! `<warehouse>/_features/tenant=T/` ([`crate::warehouse::Warehouse::derived_dir`]):
//!
//! - `latest.parquet`: one row per creative — its key, the labels scoring reads (`label.status`,
//!   `label.ratio`, `label.last_active`, …) and one `f64` column per feature, named as the model
//!   inputs;
//! - `latest.json`: what it was built from — the format version and the crate version, the
//!   tenant's [`TenantVersion`] fingerprint, a SHA-256 of the label and feature settings, the
//!   feature names, the day it serves and a SHA-256 of `latest.parquet`.
//!
//! [`at`] reads it when every stamp matches (and the data's checksum does), else computes the
//! features from the rows and, at the latest day, writes them for the next run. A stale,
//! foreign-config, other-build or damaged snapshot is rebuilt, never an error. The files are
//! written atomically, data first, and only while the tenant's rows are still those they were
//! built from (under the warehouse's shared lock, so an erase cannot leave one behind).
//! `omnify score fatigue` and the service's `ad_ids` batches (`api::snapshots`, which also keeps
//! the latest one in memory) both go through [`at`], so they score the same features.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::OnceLock;

use chrono::NaiveDate;
use ndarray::Array2;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::FatigueError;
use super::dataset::{
    CreativeKey, CreativeLabels, DayStatus, INPUT_COLUMNS, Prepared, all_feature_names,
    prepare_input,
};
use super::score::{ScoreRow, input_until, score_prepared};
use super::{FittedModel, JobConfig};
use crate::features::rows::Keep;
use crate::features::{FatigueConfig, MetricKind};
use crate::schema::{cols, days_to_date};
use crate::warehouse::{TenantVersion, Warehouse, valid_tenant};

/// Version of the on-disk layout; a snapshot of another version is rebuilt.
pub const FORMAT_VERSION: u32 = 1;
/// The data file in the tenant's derived folder.
pub const DATA_FILE: &str = "latest.parquet";
/// The stamp file next to it.
pub const STAMP_FILE: &str = "latest.json";

/// A tenant's creatives with the features of their last day on or before `as_of`.
pub struct Snapshot {
    /// The scoring day these features serve.
    pub as_of: NaiveDate,
    /// Each creative's last day on or before `as_of` (one row per creative).
    pub prepared: Prepared,
    by_ad: OnceLock<HashMap<String, Vec<usize>>>,
}

impl Snapshot {
    fn new(as_of: NaiveDate, prepared: Prepared) -> Snapshot {
        Snapshot {
            as_of,
            prepared,
            by_ad: OnceLock::new(),
        }
    }

    /// Ad id → its creatives (indices into `prepared.creatives`; one ad id can exist on
    /// several platforms or accounts). Built on first use: scoring a whole tenant needs none.
    pub fn by_ad(&self) -> &HashMap<String, Vec<usize>> {
        self.by_ad.get_or_init(|| {
            let mut by_ad: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, c) in self.prepared.creatives.iter().enumerate() {
                by_ad.entry(c.key.ad_id.clone()).or_default().push(i);
            }
            by_ad
        })
    }
}

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the tenant's materialised latest-day features.
    Disk,
    /// Computed from the rows at the latest day (and written for the next run).
    Built,
    /// Computed from the rows at another day (nothing written).
    Computed,
}

/// What [`at`] found.
pub struct Found {
    /// The tenant's version read before its rows or snapshot (what the snapshot is valid for).
    pub version: TenantVersion,
    pub origin: Origin,
    /// `None` when the tenant has no rows up to the day asked for.
    pub snapshot: Option<Snapshot>,
}

/// The stamp stored in [`STAMP_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stamp {
    format: u32,
    /// The crate version that wrote it (the feature engine can change between releases).
    engine: String,
    tenant: String,
    /// [`TenantVersion::fingerprint`] of the rows it was built from.
    rows: String,
    /// [`config_hash`] of the settings it was built with.
    config: String,
    feature_names: Vec<String>,
    as_of: NaiveDate,
    creatives: usize,
    /// SHA-256 (hex) of [`DATA_FILE`].
    data_sha256: String,
}

/// SHA-256 (hex) of the label and feature settings: everything in the fatigue config that
/// changes the features or the labels scoring reads.
pub fn config_hash(cfg: &FatigueConfig) -> String {
    let text = serde_json::to_vec(&(&cfg.labels, &cfg.features))
        .expect("label and feature settings serialise");
    format!("{:x}", Sha256::digest(&text))
}

/// The features of `tenant`'s creatives at `as_of` (default: its latest data day). At the
/// latest day they come from the tenant's materialised snapshot when it is current, else from
/// the rows, and are then written for the next run (a failed write is logged, not returned:
/// the scores do not depend on it); at another day they are computed from the rows up to it.
/// Blocking.
pub fn at(
    warehouse: &Warehouse,
    tenant: &str,
    as_of: Option<NaiveDate>,
    cfg: &FatigueConfig,
) -> Result<Found, FatigueError> {
    // Read before the rows: an ingest in between leaves an older version with newer rows,
    // which only costs one more rebuild.
    let version = warehouse.version(tenant)?;
    if version.is_empty() {
        return Ok(Found {
            version,
            origin: Origin::Computed,
            snapshot: None,
        });
    }
    let config = config_hash(cfg);
    if let Some(s) = read_current(warehouse, tenant, as_of, &version, &config) {
        return Ok(Found {
            version,
            origin: Origin::Disk,
            snapshot: Some(s),
        });
    }
    let df = warehouse.query(Some(tenant), |lf| {
        lf.select(INPUT_COLUMNS.map(col)).collect()
    })?;
    let last = df.column(cols::DATE)?.cast(&DataType::Int32)?.i32()?.max();
    let Some(last) = last.map(days_to_date) else {
        return Ok(Found {
            version,
            origin: Origin::Computed,
            snapshot: None,
        });
    };
    let as_of = as_of.unwrap_or(last);
    let input = input_until(&df, as_of)?;
    drop(df);
    if input.last_day().is_none() {
        return Ok(Found {
            version,
            origin: Origin::Computed,
            snapshot: None,
        });
    }
    let prepared = prepare_input(tenant, &input, cfg, Keep::Last)?;
    drop(input);
    let snapshot = Snapshot::new(as_of, prepared);
    let origin = if as_of == last {
        if let Err(e) = write(warehouse, tenant, &version, &config, &snapshot) {
            tracing::warn!(tenant, error = %e, "could not keep the latest-day feature snapshot");
        }
        Origin::Built
    } else {
        Origin::Computed
    };
    Ok(Found {
        version,
        origin,
        snapshot: Some(snapshot),
    })
}

/// The tenant's snapshot if it is on disk, intact, serves `as_of` (any day when `None`) and
/// was built from `version` with `config` by this build; `None` (logged when something was
/// there but damaged) otherwise.
/// Scores of `tenant`'s active creatives at `as_of` (default: its latest data day) from its
/// features as [`at`] finds them: what `omnify score fatigue` prints and reports show. `None`
/// when the tenant has no rows at all; no scores when it has rows but none up to that day.
/// Blocking.
pub fn score_tenant(
    warehouse: &Warehouse,
    tenant: &str,
    as_of: Option<NaiveDate>,
    model: &FittedModel,
    version: &str,
    job: &JobConfig,
) -> Result<Option<Vec<ScoreRow>>, FatigueError> {
    let found = at(warehouse, tenant, as_of, &job.base)?;
    Ok(match found.snapshot {
        Some(snap) => Some(
            score_prepared(
                std::slice::from_ref(&snap.prepared),
                snap.as_of,
                model,
                version,
                job,
            )?
            .pop()
            .unwrap_or_default(),
        ),
        None if found.version.is_empty() => None,
        None => Some(Vec::new()),
    })
}

/// Brings `tenant`'s materialised features up to date when it has some built with `cfg`'s
/// settings that its rows have since outgrown — what an ingest does, so the next scoring run
/// reads them instead of paying the rebuild. A tenant without them, or with them built under
/// other settings (someone scores it with another specification), is left alone; a damaged
/// stamp is rebuilt. Returns whether it rebuilt them. Blocking.
pub fn refresh_if_kept(
    warehouse: &Warehouse,
    tenant: &str,
    cfg: &FatigueConfig,
) -> Result<bool, FatigueError> {
    if !valid_tenant(tenant) {
        return Ok(false);
    }
    let Ok(bytes) = std::fs::read(warehouse.derived_dir(tenant).join(STAMP_FILE)) else {
        return Ok(false);
    };
    if serde_json::from_slice::<Stamp>(&bytes).is_ok_and(|s| s.config != config_hash(cfg)) {
        return Ok(false);
    }
    Ok(at(warehouse, tenant, None, cfg)?.origin == Origin::Built)
}

fn read_current(
    warehouse: &Warehouse,
    tenant: &str,
    as_of: Option<NaiveDate>,
    version: &TenantVersion,
    config: &str,
) -> Option<Snapshot> {
    if !valid_tenant(tenant) {
        return None;
    }
    let dir = warehouse.derived_dir(tenant);
    let stamp = match std::fs::read(dir.join(STAMP_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(tenant, error = %e, "feature snapshot unreadable; rebuilding it");
            return None;
        }
    };
    let want = |s: &Stamp| {
        s.format == FORMAT_VERSION
            && s.engine == env!("CARGO_PKG_VERSION")
            && s.tenant == tenant
            && s.rows == version.fingerprint()
            && s.config == config
            && s.feature_names == all_feature_names()
            && as_of.is_none_or(|d| d == s.as_of)
    };
    match serde_json::from_slice::<Stamp>(&stamp) {
        Ok(s) if want(&s) => match std::fs::read(dir.join(DATA_FILE))
            .map_err(|e| FatigueError::Io(e.to_string()))
            .and_then(|data| decode(tenant, &s, &data))
        {
            Ok(snap) => Some(snap),
            Err(e) => {
                tracing::warn!(tenant, error = %e, "feature snapshot damaged; rebuilding it");
                None
            }
        },
        // Built from other rows, settings or by another build, or for another day: the normal
        // way to go stale.
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(tenant, error = %e, "feature snapshot stamp damaged; rebuilding it");
            None
        }
    }
}

/// Writes `snapshot` (built from `version` with `config`) as the tenant's latest-day features,
/// unless its rows changed meanwhile.
fn write(
    warehouse: &Warehouse,
    tenant: &str,
    version: &TenantVersion,
    config: &str,
    snapshot: &Snapshot,
) -> Result<(), FatigueError> {
    let data = encode(&snapshot.prepared)?;
    let stamp = Stamp {
        format: FORMAT_VERSION,
        engine: env!("CARGO_PKG_VERSION").to_string(),
        tenant: tenant.to_string(),
        rows: version.fingerprint(),
        config: config.to_string(),
        feature_names: snapshot.prepared.feature_names.clone(),
        as_of: snapshot.as_of,
        creatives: snapshot.prepared.creatives.len(),
        data_sha256: format!("{:x}", Sha256::digest(&data)),
    };
    let stamp = serde_json::to_vec_pretty(&stamp).map_err(|e| FatigueError::Io(e.to_string()))?;
    // Data first: a reader that sees the new stamp finds the data it describes, and one that
    // sees the old stamp with new data rejects it by its checksum.
    warehouse.write_derived(tenant, version, &[(DATA_FILE, &data), (STAMP_FILE, &stamp)])?;
    Ok(())
}

/// Columns of the data file before the features: the creative's key, then the labels of its
/// last day and of the creative (a feature never has one of these names).
const KEY_COLUMNS: [&str; 14] = [
    "platform",
    "account_id",
    "ad_id",
    "label.day",
    "label.status",
    "label.ratio",
    "label.last_active",
    "label.onset",
    "label.onset_unadjusted",
    "label.censor",
    "label.metric",
    "label.stopped",
    "label.insufficient",
    "label.left_truncated",
];

/// The data file of a frame holding one row per creative, in creative order.
fn encode(p: &Prepared) -> Result<Vec<u8>, FatigueError> {
    let n = p.creatives.len();
    if p.creative.len() != n || p.creative.iter().enumerate().any(|(i, &c)| c != i) {
        return Err(FatigueError::Data(
            "a feature snapshot holds exactly one row per creative".into(),
        ));
    }
    if let Some(clash) = p
        .feature_names
        .iter()
        .find(|f| KEY_COLUMNS.contains(&f.as_str()))
    {
        return Err(FatigueError::Data(format!(
            "feature `{clash}` clashes with a snapshot column"
        )));
    }
    let cr = &p.creatives;
    let strs = |f: &dyn Fn(&CreativeLabels) -> &str| cr.iter().map(f).collect::<Vec<&str>>();
    let days = |f: &dyn Fn(&CreativeLabels) -> Option<i32>| cr.iter().map(f).collect::<Vec<_>>();
    let flags = |f: &dyn Fn(&CreativeLabels) -> bool| cr.iter().map(f).collect::<Vec<bool>>();
    let mut columns = vec![
        Column::new("platform".into(), strs(&|c| &c.key.platform)),
        Column::new("account_id".into(), strs(&|c| &c.key.account_id)),
        Column::new("ad_id".into(), strs(&|c| &c.key.ad_id)),
        Column::new("label.day".into(), p.day.clone()),
        Column::new(
            "label.status".into(),
            p.status.iter().map(|s| s.as_str()).collect::<Vec<&str>>(),
        ),
        Column::new("label.ratio".into(), p.ratio.clone()),
        Column::new("label.last_active".into(), days(&|c| c.last_active)),
        Column::new("label.onset".into(), days(&|c| c.onset)),
        Column::new(
            "label.onset_unadjusted".into(),
            days(&|c| c.onset_unadjusted),
        ),
        Column::new(
            "label.censor".into(),
            cr.iter().map(|c| c.censor).collect::<Vec<i32>>(),
        ),
        Column::new(
            "label.metric".into(),
            cr.iter()
                .map(|c| c.metric.map(MetricKind::as_str))
                .collect::<Vec<Option<&str>>>(),
        ),
        Column::new("label.stopped".into(), flags(&|c| c.stopped)),
        Column::new("label.insufficient".into(), flags(&|c| c.insufficient)),
        Column::new("label.left_truncated".into(), flags(&|c| c.left_truncated)),
    ];
    for (j, name) in p.feature_names.iter().enumerate() {
        columns.push(Column::new(name.into(), p.x.column(j).to_vec()));
    }
    let mut df = DataFrame::new(n, columns)?;
    let mut buf = Vec::with_capacity(n * (p.feature_names.len() + KEY_COLUMNS.len()) * 8);
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Uncompressed)
        .finish(&mut df)?;
    Ok(buf)
}

/// The snapshot in `data`, checked against its `stamp`.
fn decode(tenant: &str, stamp: &Stamp, data: &[u8]) -> Result<Snapshot, FatigueError> {
    let bad = |why: &str| FatigueError::Data(format!("feature snapshot: {why}"));
    if format!("{:x}", Sha256::digest(data)) != stamp.data_sha256 {
        return Err(bad("checksum mismatch"));
    }
    let df = ParquetReader::new(Cursor::new(data)).finish()?;
    let n = stamp.creatives;
    if df.height() != n || df.width() != KEY_COLUMNS.len() + stamp.feature_names.len() {
        return Err(bad("shape differs from its stamp"));
    }
    let strs = |name: &str| -> Result<Vec<String>, FatigueError> {
        df.column(name)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string).ok_or_else(|| bad("null key")))
            .collect()
    };
    let opt_days = |name: &str| -> Result<Vec<Option<i32>>, FatigueError> {
        Ok(df.column(name)?.i32()?.iter().collect())
    };
    let days = |name: &str| -> Result<Vec<i32>, FatigueError> {
        opt_days(name)?
            .into_iter()
            .map(|v| v.ok_or_else(|| bad("null day")))
            .collect()
    };
    let flags = |name: &str| -> Result<Vec<bool>, FatigueError> {
        df.column(name)?
            .bool()?
            .iter()
            .map(|v| v.ok_or_else(|| bad("null flag")))
            .collect()
    };
    let (platform, account, ad) = (strs("platform")?, strs("account_id")?, strs("ad_id")?);
    let (last_active, onset) = (opt_days("label.last_active")?, opt_days("label.onset")?);
    let onset_unadjusted = opt_days("label.onset_unadjusted")?;
    let censor = days("label.censor")?;
    let (stopped, insufficient) = (flags("label.stopped")?, flags("label.insufficient")?);
    let left_truncated = flags("label.left_truncated")?;
    let metric = df
        .column("label.metric")?
        .str()?
        .iter()
        .map(|m| {
            m.map(|m| MetricKind::from_name(m).ok_or_else(|| bad("unknown metric")))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut creatives = Vec::with_capacity(n);
    for (i, ((platform, account_id), ad_id)) in
        platform.into_iter().zip(account).zip(ad).enumerate()
    {
        creatives.push(CreativeLabels {
            key: CreativeKey {
                tenant: tenant.to_string(),
                platform,
                account_id,
                ad_id,
            },
            onset: onset[i],
            onset_unadjusted: onset_unadjusted[i],
            metric: metric[i],
            stopped: stopped[i],
            censor: censor[i],
            last_active: last_active[i],
            insufficient: insufficient[i],
            left_truncated: left_truncated[i],
        });
    }
    let status = df
        .column("label.status")?
        .str()?
        .iter()
        .map(|s| {
            s.and_then(DayStatus::from_name)
                .ok_or_else(|| bad("unknown status"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The file holds the matrix by column, the model reads it by row.
    let k = stamp.feature_names.len();
    let columns = stamp
        .feature_names
        .iter()
        .map(|name| Ok(df.column(name)?.f64()?.rechunk().into_owned()))
        .collect::<Result<Vec<_>, FatigueError>>()?;
    let columns = columns
        .iter()
        .map(|c| c.cont_slice().map_err(|_| bad("null feature")))
        .collect::<Result<Vec<&[f64]>, _>>()?;
    let mut flat = vec![0.0; n * k];
    for (i, row) in flat.chunks_exact_mut(k).enumerate() {
        for (v, c) in row.iter_mut().zip(&columns) {
            *v = c[i];
        }
    }
    let x = Array2::from_shape_vec((n, k), flat).map_err(|e| bad(&e.to_string()))?;
    Ok(Snapshot::new(
        stamp.as_of,
        Prepared {
            feature_names: stamp.feature_names.clone(),
            creatives,
            creative: (0..n).collect(),
            day: days("label.day")?,
            status,
            ratio: df.column("label.ratio")?.f64()?.iter().collect(),
            x,
        },
    ))
}
