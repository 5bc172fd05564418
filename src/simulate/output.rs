//! Writes a simulated [`World`] to disk the way a connector would have received it, plus the
//! truth tables:
//!
//! - `out/<tenant>/<platform>/pullNN_<from>_<to>_<file>`: native reports from
//!   [`write_native`], one set per pull. Pulls are consecutive `pull_window_days` windows, each
//!   re-pulling the last `pull_overlap_days` of the previous one. In every pull but the last,
//!   those overlap days are *preliminary*: conversions (and value) are still maturing and spend
//!   is slightly under-counted, as platforms restate recent days for weeks (docs/connectors.md,
//!   "Cross-cutting guidance", item 5). The next pull carries the final numbers, so the
//!   later file must win on re-ingest.
//! - `out/manifest.json`: every file in ingestion order with its request scope.
//! - `out/truth/ad_daily.csv` (final rows projected with [`carried`], through Polars so the
//!   column types are those of `ad_daily`), `creatives.csv`, `campaigns.csv`,
//!   `campaign_daily.csv` (see `truth.rs`).
//!
//! Every file is written atomically: a temp file in the same directory, fsync, rename.

use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, DataFrame, SerWriter};
use serde::Serialize;

use super::world::{Account, World, stream};
use super::{SimError, truth};
use crate::platforms::{NativeFormat, WriteContext, carried, write_native};
use crate::schema::{AdDailyRow, rows_to_frame};
use rand::Rng;

/// One written report and the request scope it was pulled with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestEntry {
    /// Relative to the dataset root, `/`-separated.
    pub path: String,
    pub tenant: String,
    pub platform: String,
    pub account_id: String,
    pub currency: String,
    pub format: NativeFormat,
    /// 1-based pull number within the account.
    pub pull: usize,
    /// First and last reporting day the pull requested.
    pub window_start: String,
    pub window_end: String,
}

#[derive(Debug, Clone, Serialize)]
struct Manifest<'a> {
    files: &'a [ManifestEntry],
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSummary {
    pub out_dir: PathBuf,
    /// Native report files, in ingestion order.
    pub files: Vec<ManifestEntry>,
    /// Rows of `truth/ad_daily.csv`.
    pub ad_daily_rows: usize,
    /// Rows of `truth/creatives.csv`.
    pub creatives: usize,
    /// Rows of `truth/campaigns.csv`.
    pub campaigns: usize,
    pub tenants: usize,
    pub accounts: usize,
}

/// The pull windows over `days` reported days: inclusive (first, last) day indices.
pub fn pull_windows(days: usize, window: usize, overlap: usize) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    if days == 0 || window == 0 || overlap >= window {
        return out;
    }
    let last = days as i32 - 1;
    let mut s = 0i32;
    loop {
        let e = (s + window as i32 - 1).min(last);
        out.push((s, e));
        if e == last {
            break;
        }
        s = e + 1 - overlap as i32;
    }
    out
}

/// The share of final conversions already attributed `lag` days after the day (0 = the pull's
/// last day): 60% on the day, 95% after a week.
fn maturity(lag: i32) -> f64 {
    1.0 - 0.4 * (-(lag as f64) / 2.6).exp()
}

/// The preliminary version of a final row as a pull `lag` days later reported it.
pub fn preliminary(row: &AdDailyRow, lag: i32) -> AdDailyRow {
    let m = maturity(lag);
    // The small epsilon keeps exact products (10 × 0.6) from flooring one unit low.
    let floor_to = |x: f64, scale: f64| ((x * scale) + 1e-7).floor() / scale;
    let mut r = row.clone();
    let fractional = row.platform == crate::platforms::Platform::GoogleAds;
    if let Some(c) = row.conversions {
        let early = floor_to(c * m, if fractional { 100.0 } else { 1.0 });
        r.conversions = Some(early);
        r.conversion_value = row.conversion_value.map(|v| {
            if c > 0.0 {
                (v * early / c * 100.0).round() / 100.0
            } else {
                v
            }
        });
    }
    // Billing estimates settle upward by up to 3% over a few days.
    r.spend = row
        .spend
        .map(|s| floor_to(s * (1.0 - 0.03 * (-(lag as f64) / 2.0).exp()), 100.0));
    r
}

/// Writes the dataset under `out` (created if missing), uncompressed. Deterministic in the
/// world.
pub fn write_dataset(world: &World, out: &Path) -> Result<DatasetSummary, SimError> {
    write_dataset_with(world, out, WriteOptions::default())
}

/// [`write_dataset`] with storage options.
pub fn write_dataset_with(
    world: &World,
    out: &Path,
    opts: WriteOptions,
) -> Result<DatasetSummary, SimError> {
    let pack = |name: String, bytes: &[u8]| -> (String, Vec<u8>) {
        let compressed = bytes.starts_with(&[0x1f, 0x8b]) || bytes.starts_with(b"PK\x03\x04");
        if opts.gzip && !compressed {
            (format!("{name}.gz"), gzip(bytes))
        } else {
            (name, bytes.to_vec())
        }
    };
    let cfg = &world.config;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let windows = pull_windows(cfg.days, cfg.pull_window_days, cfg.pull_overlap_days);
    let mut files = Vec::new();
    let mut accounts = 0;
    for (t, tenant) in world.tenants.iter().enumerate() {
        for (a, acc) in tenant.accounts.iter().enumerate() {
            accounts += 1;
            let dir = out.join(&tenant.name).join(acc.platform.as_str());
            for (k, &(from, to)) in windows.iter().enumerate() {
                let is_last = k + 1 == windows.len();
                let rows = pull_rows(
                    acc,
                    cfg.start,
                    from,
                    to,
                    if is_last { 0 } else { cfg.pull_overlap_days },
                );
                let mut rng = stream(cfg.seed, &[9, t as u64, a as u64, k as u64]);
                let ctx = WriteContext {
                    account_id: acc.account_id.clone(),
                    account_name: acc.account_name.clone(),
                    currency: acc.currency.clone(),
                    utc_offset_minutes: acc.utc_offset_minutes,
                    format: acc.format,
                    seed: rng.r#gen(),
                };
                let label = format!("pull{:02}_{}_{}", k + 1, world.date(from), world.date(to));
                for f in write_native(acc.platform, &rows, &ctx) {
                    let name: String = f
                        .file_name
                        .chars()
                        .map(|c| {
                            if matches!(c, '/' | '\\' | ':') {
                                '_'
                            } else {
                                c
                            }
                        })
                        .collect();
                    let (file_name, bytes) = pack(format!("{label}_{name}"), &f.bytes);
                    write_atomic(&dir.join(&file_name), &bytes)?;
                    files.push(ManifestEntry {
                        path: format!("{}/{}/{}", tenant.name, acc.platform.as_str(), file_name),
                        tenant: tenant.name.clone(),
                        platform: acc.platform.as_str().to_string(),
                        account_id: acc.account_id.clone(),
                        currency: acc.currency.clone(),
                        format: acc.format,
                        pull: k + 1,
                        window_start: world.date(from).to_string(),
                        window_end: world.date(to).to_string(),
                    });
                }
            }
        }
    }
    let manifest =
        serde_json::to_vec_pretty(&Manifest { files: &files }).map_err(|e| SimError::Table {
            path: out.join("manifest.json"),
            message: e.to_string(),
        })?;
    write_atomic(&out.join("manifest.json"), &manifest)?;

    let truth_dir = out.join("truth");
    let (ad_daily, ad_daily_rows) = ad_daily_csv(world).map_err(|message| SimError::Table {
        path: truth_dir.join("ad_daily.csv"),
        message,
    })?;
    let (name, bytes) = pack("ad_daily.csv".into(), &ad_daily);
    write_atomic(&truth_dir.join(name), &bytes)?;

    let mut creatives = Vec::new();
    let mut campaigns = Vec::new();
    let mut campaign_daily = Vec::new();
    for (tenant, acc) in sorted_accounts(world) {
        creatives.extend(truth::creative_records(world, tenant, acc));
        campaigns.extend(truth::campaign_records(tenant, acc));
        campaign_daily.extend(truth::campaign_daily_records(world, tenant, acc));
    }
    let n_creatives = creatives.len();
    let n_campaigns = campaigns.len();
    for (name, header, records) in [
        ("creatives.csv", &truth::CREATIVE_HEADER[..], creatives),
        ("campaigns.csv", &truth::CAMPAIGN_HEADER[..], campaigns),
        (
            "campaign_daily.csv",
            &truth::CAMPAIGN_DAILY_HEADER[..],
            campaign_daily,
        ),
    ] {
        let bytes = csv_bytes(header, &records).map_err(|message| SimError::Table {
            path: truth_dir.join(name),
            message,
        })?;
        let (name, bytes) = pack(name.to_string(), &bytes);
        write_atomic(&truth_dir.join(name), &bytes)?;
    }
    Ok(DatasetSummary {
        out_dir: out.to_path_buf(),
        files,
        ad_daily_rows,
        creatives: n_creatives,
        campaigns: n_campaigns,
        tenants: world.tenants.len(),
        accounts,
    })
}

/// The rows a pull over days `[from, to]` returns; its last `preliminary_days` days are
/// reported before they are final (see [`preliminary`]).
pub(super) fn pull_rows(
    acc: &Account,
    start: chrono::NaiveDate,
    from: i32,
    to: i32,
    preliminary_days: usize,
) -> Vec<AdDailyRow> {
    acc.rows
        .iter()
        .filter_map(|r| {
            let day = (r.date - start).num_days() as i32;
            if day < from || day > to {
                return None;
            }
            let lag = to - day;
            if (lag as usize) < preliminary_days {
                Some(preliminary(r, lag))
            } else {
                Some(r.clone())
            }
        })
        .collect()
}

/// (tenant name, account) sorted by tenant name, then platform name, then account id.
fn sorted_accounts(world: &World) -> Vec<(&str, &Account)> {
    let mut v: Vec<(&str, &Account)> = world
        .tenants
        .iter()
        .flat_map(|t| t.accounts.iter().map(move |a| (t.name.as_str(), a)))
        .collect();
    v.sort_by(|x, y| {
        (x.0, x.1.platform.as_str(), &x.1.account_id).cmp(&(
            y.0,
            y.1.platform.as_str(),
            &y.1.account_id,
        ))
    });
    v
}

/// `truth/ad_daily.csv`: final rows projected with `carried`, sorted by tenant, platform,
/// account id, ad id, date, written through Polars with the `ad_daily` column types.
fn ad_daily_csv(world: &World) -> Result<(Vec<u8>, usize), String> {
    let mut frame: Option<DataFrame> = None;
    let mut by_tenant: Vec<(&str, Vec<AdDailyRow>)> = Vec::new();
    for (tenant, acc) in sorted_accounts(world) {
        let rows = acc
            .rows
            .iter()
            .map(|r| carried(acc.platform, acc.format, r));
        match by_tenant.last_mut() {
            Some((t, v)) if *t == tenant => v.extend(rows),
            _ => by_tenant.push((tenant, rows.collect())),
        }
    }
    let mut n = 0;
    for (tenant, mut rows) in by_tenant {
        rows.sort_by(|x, y| {
            (x.platform.as_str(), &x.account_id, &x.ad_id, x.date).cmp(&(
                y.platform.as_str(),
                &y.account_id,
                &y.ad_id,
                y.date,
            ))
        });
        n += rows.len();
        let df = rows_to_frame(tenant, &rows).map_err(|e| e.to_string())?;
        frame = Some(match frame {
            None => df,
            Some(f) => f.vstack(&df).map_err(|e| e.to_string())?,
        });
    }
    let mut df = match frame {
        Some(f) => f,
        None => rows_to_frame("", &[]).map_err(|e| e.to_string())?,
    };
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .n_threads(1)
        .finish(&mut df)
        .map_err(|e| e.to_string())?;
    Ok((buf, n))
}

fn csv_bytes(header: &[&str], records: &[Vec<String>]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| e.to_string())?;
    for r in records {
        w.write_record(r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| SimError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Gzip-compresses `bytes` (deterministic: no timestamp or name in the header).
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// How [`write_dataset_with`] stores files.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Gzip every report and truth file (`.gz` appended; reports that platforms already deliver
    /// compressed — Amazon's gzip, Microsoft's zip — are left as they are). The connectors open
    /// gzip transparently, so ingestion is unchanged; it keeps the committed sample small.
    pub gzip: bool,
}
