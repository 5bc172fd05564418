//! Turning files into validated `ad_daily` frames, before anything is written: native platform
//! reports (through the connectors), files already in the unified schema (Parquet or CSV, how
//! data scientists bring their own history), whole folders, and simulator manifests (which carry
//! each file's tenant and request scope: account id and currency).
//!
//! Every file is parsed and validated first; one bad file fails the whole batch with a one-line
//! reason naming the file, the place and the field, and nothing is written.

use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::platforms::{self, ConversionEvents, ParseError, ParseOptions, Platform, Unpack};
use crate::schema::{DateRange, cols};
use crate::warehouse::{ValidationError, valid_tenant, validate_frame};

/// Largest input file read (native reports are held in memory while parsed).
pub const MAX_FILE_BYTES: u64 = 8 << 30;

/// A failure while reading inputs; `Display` is the one-line reason shown to users.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: {source}")]
    Parse {
        file: String,
        #[source]
        source: ParseError,
    },
    #[error("{file}: {source}")]
    Invalid {
        file: String,
        #[source]
        source: ValidationError,
    },
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{0}")]
    Usage(String),
}

/// One file to read, with the scope that applies to it.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub tenant: String,
    /// `None` = detect from content.
    pub platform: Option<Platform>,
    pub account_id: Option<String>,
    pub currency: Option<String>,
}

/// Options shared by every file of a batch.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub conversion_events: ConversionEvents,
    /// Dates a row may carry (`[limits]`); a row outside fails the batch.
    pub dates: DateRange,
    /// Bounds on gzip and zip inputs (`[limits]`); a file past them fails the batch.
    pub unpack: Unpack,
}

impl LoadOptions {
    /// The options a configuration sets.
    pub fn from_config(cfg: &crate::config::Config) -> LoadOptions {
        LoadOptions {
            conversion_events: cfg.conversion_events.clone(),
            dates: cfg.limits.dates(),
            unpack: cfg.limits.unpack(),
        }
    }
}

/// Which kind of content a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    UnifiedParquet,
    UnifiedCsv,
    Native,
}

/// A manifest entry (written by `omnify simulate`; a connector's request scope per file).
#[derive(Debug, Clone, serde::Deserialize)]
struct ManifestEntry {
    path: PathBuf,
    tenant: String,
    platform: String,
    account_id: Option<String>,
    currency: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Manifest {
    files: Vec<ManifestEntry>,
}

/// Reads a manifest (`{"files":[{"path","tenant","platform","account_id","currency"}...]}`);
/// paths are relative to the manifest's folder. Order is ingestion order.
pub fn read_manifest(path: &Path) -> Result<Vec<InputFile>, IngestError> {
    let file = path.display().to_string();
    let bytes = fs::read(path).map_err(|e| IngestError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| IngestError::Parse {
        file: file.clone(),
        source: ParseError::json(&e),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    m.files
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let platform = Platform::from_name(&e.platform).map_err(|err| IngestError::Parse {
                file: file.clone(),
                source: ParseError::new(
                    platforms::Location::Path(format!("files[{i}]")),
                    Some("platform"),
                    err.to_string(),
                ),
            })?;
            Ok(InputFile {
                path: base.join(e.path),
                tenant: e.tenant,
                platform: Some(platform),
                account_id: e.account_id,
                currency: e.currency,
            })
        })
        .collect()
}

/// Expands folders (recursively, sorted, hidden files skipped) into the files they hold.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(p)
                .map_err(|e| IngestError::Read {
                    file: p.display().to_string(),
                    message: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    !p.file_name()
                        .map(|n| n.to_string_lossy().starts_with('.'))
                        .unwrap_or(true)
                })
                .collect();
            entries.sort();
            out.extend(expand_paths(&entries)?);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(IngestError::Read {
                file: p.display().to_string(),
                message: "no such file or folder".into(),
            });
        }
    }
    Ok(out)
}

/// Decides whether bytes are a unified-schema file or a native platform report.
pub fn classify(bytes: &[u8]) -> FileKind {
    if bytes.starts_with(b"PAR1") {
        return FileKind::UnifiedParquet;
    }
    let head = platforms::common::text_head(bytes, 4096);
    let first = head.lines().next().unwrap_or("");
    let cells: Vec<String> = platforms::common::split_line(first, b',');
    let has = |c: &str| cells.iter().any(|x| x == c);
    if has(cols::AD_ID) && has(cols::DATE) && has(cols::IMPRESSIONS) && has(cols::ACCOUNT_ID) {
        FileKind::UnifiedCsv
    } else {
        FileKind::Native
    }
}

/// Reads one file into a validated `ad_daily` frame.
pub fn load_file(input: &InputFile, opts: &LoadOptions) -> Result<DataFrame, IngestError> {
    load_file_kind(input, opts).map(|(df, _)| df)
}

/// [`load_file`], also saying what kind of file it was.
fn load_file_kind(
    input: &InputFile,
    opts: &LoadOptions,
) -> Result<(DataFrame, FileKind), IngestError> {
    let file = input.path.display().to_string();
    let read_err = |message: String| IngestError::Read {
        file: file.clone(),
        message,
    };
    if !valid_tenant(&input.tenant) {
        return Err(IngestError::Usage(format!(
            "invalid tenant {:?}: use 1-64 letters, digits, '_' or '-'",
            input.tenant
        )));
    }
    let meta = fs::metadata(&input.path).map_err(|e| read_err(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(read_err(format!(
            "file is {} bytes; the limit is {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    let raw = fs::read(&input.path).map_err(|e| read_err(e.to_string()))?;
    load_bytes_kind(input, raw, opts)
}

/// Reads one report already in memory (an upload) into a validated `ad_daily` frame;
/// `input.path` only names it in messages.
pub fn load_bytes(
    input: &InputFile,
    raw: Vec<u8>,
    opts: &LoadOptions,
) -> Result<DataFrame, IngestError> {
    load_bytes_kind(input, raw, opts).map(|(df, _)| df)
}

fn load_bytes_kind(
    input: &InputFile,
    raw: Vec<u8>,
    opts: &LoadOptions,
) -> Result<(DataFrame, FileKind), IngestError> {
    let file = input.path.display().to_string();
    let read_err = |message: String| IngestError::Read {
        file: file.clone(),
        message,
    };
    if !valid_tenant(&input.tenant) {
        return Err(IngestError::Usage(format!(
            "invalid tenant {:?}: use 1-64 letters, digits, '_' or '-'",
            input.tenant
        )));
    }
    // gzip/zip downloads of unified files are opened like native ones; anything else is used
    // as read (no second copy of a large report).
    let unpacked = match platforms::decompress_within(&raw, opts.unpack).map_err(|source| {
        IngestError::Parse {
            file: file.clone(),
            source,
        }
    })? {
        std::borrow::Cow::Owned(v) => Some(v),
        std::borrow::Cow::Borrowed(_) => None,
    };
    let bytes = match unpacked {
        Some(v) => {
            drop(raw);
            v
        }
        None => raw,
    };
    if bytes.is_empty() {
        return Err(IngestError::Parse {
            file,
            source: ParseError::file("file is empty"),
        });
    }
    let invalid = |source: ValidationError| IngestError::Invalid {
        file: file.clone(),
        source,
    };
    let kind = classify(&bytes);
    let df = match kind {
        FileKind::UnifiedParquet => {
            let df = ParquetReader::new(std::io::Cursor::new(bytes))
                .finish()
                .map_err(|e| read_err(format!("unreadable Parquet: {e}")))?;
            validate_frame(df, Some(&input.tenant), &opts.dates).map_err(invalid)
        }
        FileKind::UnifiedCsv => {
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .into_reader_with_file_handle(std::io::Cursor::new(bytes))
                .finish()
                .map_err(|e| read_err(format!("unreadable CSV: {e}")))?;
            validate_frame(df, Some(&input.tenant), &opts.dates).map_err(invalid)
        }
        FileKind::Native => {
            let popts = ParseOptions {
                account_id: input.account_id.clone(),
                currency: input.currency.clone(),
                conversion_events: opts.conversion_events.clone(),
            };
            let (_, columns) = platforms::normalize_columns(input.platform, &bytes, &popts)
                .map_err(|source| IngestError::Parse {
                    file: file.clone(),
                    source,
                })?;
            // Free the report before building the frame: peak memory is what the bytes and
            // the columns hold at once, then what the columns and the frame hold.
            drop(bytes);
            if columns.is_empty() {
                tracing::warn!(file = %file, "report holds no ad-day rows");
            }
            let df = columns
                .into_frame(&input.tenant)
                .map_err(|e| read_err(format!("building rows: {e}")))?;
            validate_frame(df, None, &opts.dates).map_err(invalid)
        }
    }?;
    Ok((df, kind))
}

/// Reads every file (in order) into one frame; later files restate earlier ones at ingest.
/// Fails on the first bad file, before anything is written.
pub fn load_all(inputs: &[InputFile], opts: &LoadOptions) -> Result<DataFrame, IngestError> {
    load_all_with_progress(inputs, opts, |_| {})
}

/// [`load_all`], calling `progress(files_done)` after each file (for progress bars).
pub fn load_all_with_progress(
    inputs: &[InputFile],
    opts: &LoadOptions,
    progress: impl FnMut(usize),
) -> Result<DataFrame, IngestError> {
    let (frames, _) = load_frames(inputs, opts, progress)?;
    combine(frames)
}

/// Reads every file (in order) into one frame with one row per key (tenant, platform,
/// account_id, ad_id, date): where a key repeats, the last row read wins (a later file
/// restates an earlier one). A single native report already has one row per key (its
/// connector folds segments and restated days), so it skips the dedupe pass, which copies the
/// whole frame. Calls `progress(files_done)` after each file.
pub fn load_latest_with_progress(
    inputs: &[InputFile],
    opts: &LoadOptions,
    progress: impl FnMut(usize),
) -> Result<DataFrame, IngestError> {
    let (frames, all_native) = load_frames(inputs, opts, progress)?;
    if frames.len() == 1 && all_native {
        return combine(frames);
    }
    combine(frames)?
        .lazy()
        .unique_stable_generic(
            Some(cols::KEY.iter().map(|c| col(*c)).collect()),
            UniqueKeepStrategy::Last,
        )
        .collect()
        .map_err(|e| IngestError::Usage(format!("combining inputs: {e}")))
}

/// Every file's frame in order, and whether all of them were native reports.
fn load_frames(
    inputs: &[InputFile],
    opts: &LoadOptions,
    mut progress: impl FnMut(usize),
) -> Result<(Vec<DataFrame>, bool), IngestError> {
    let mut frames = Vec::with_capacity(inputs.len());
    let mut all_native = true;
    for (i, input) in inputs.iter().enumerate() {
        let (df, kind) = load_file_kind(input, opts)?;
        tracing::debug!(file = %input.path.display(), rows = df.height(), "parsed");
        all_native &= kind == FileKind::Native;
        frames.push(df);
        progress(i + 1);
    }
    Ok((frames, all_native))
}

/// The frames one after another.
fn combine(mut frames: Vec<DataFrame>) -> Result<DataFrame, IngestError> {
    match frames.len() {
        0 => Err(IngestError::Usage("no input files".into())),
        1 => Ok(frames.pop().unwrap_or_default()),
        _ => concat(
            frames.into_iter().map(DataFrame::lazy).collect::<Vec<_>>(),
            UnionArgs::default(),
        )
        .and_then(|lf| lf.collect())
        .map_err(|e| IngestError::Usage(format!("combining inputs: {e}"))),
    }
}
