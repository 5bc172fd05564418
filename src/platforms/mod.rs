//! Connectors: parse what each ad platform really delivers (API report JSON, ads-manager CSV
//! exports) into [`AdDailyRow`]s of the unified `ad_daily` table.
//!
//! Every connector is a plain function `parse(bytes, &ParseOptions) -> Result<Vec<NativeRow>,
//! ParseError>`; [`normalize_columns`] decompresses (gzip, zip), detects the platform when asked
//! to, calls the connector and folds segment rows into one row per ad-day ([`AdDailyColumns`]).
//! The Meta and Google Ads connectors, whose reports are the largest, also read straight into
//! a [`RowSink`] (`parse_into`) so a big report never exists as one struct per row.
//! Field names, units and quirks per platform are documented in each module, with the source.
//! Parsers never panic on arbitrary bytes (property-tested in `tests/it/parsers.rs`).

use std::fmt;
use std::io::Read;

use crate::schema::AdDailyRow;

pub use columns::{AdDailyColumns, RowRef, RowSink};

pub mod columns;
pub mod common;
#[cfg(test)]
mod fuzz_tests;
mod json_scan;
#[cfg(test)]
pub(crate) use fuzz_tests::mutate as fuzz_mutate;
#[cfg(test)]
pub(crate) mod testkit;
pub(crate) mod writer;

pub mod amazon_ads;
pub mod google_ads;
pub mod linkedin;
pub mod meta;
pub mod microsoft_ads;
pub mod pinterest;
pub mod snapchat;
pub mod tiktok;
pub mod x;

/// The platforms OmniFy ingests. `as_str` is the value stored in `ad_daily.platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    GoogleAds,
    Meta,
    LinkedIn,
    TikTok,
    MicrosoftAds,
    Snapchat,
    Pinterest,
    X,
    AmazonAds,
}

impl Platform {
    pub const ALL: [Platform; 9] = [
        Platform::GoogleAds,
        Platform::Meta,
        Platform::LinkedIn,
        Platform::TikTok,
        Platform::MicrosoftAds,
        Platform::Snapchat,
        Platform::Pinterest,
        Platform::X,
        Platform::AmazonAds,
    ];

    /// The canonical name stored in the warehouse.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::GoogleAds => "google_ads",
            Platform::Meta => "meta",
            Platform::LinkedIn => "linkedin",
            Platform::TikTok => "tiktok",
            Platform::MicrosoftAds => "microsoft_ads",
            Platform::Snapchat => "snapchat",
            Platform::Pinterest => "pinterest",
            Platform::X => "x",
            Platform::AmazonAds => "amazon_ads",
        }
    }

    /// Parses a canonical name or a common alias (`google`, `facebook`, `bing`, `twitter`, ...).
    pub fn from_name(name: &str) -> Result<Platform, UnknownPlatform> {
        // The canonical names (what rows and requests nearly always carry) without building
        // a normalised copy.
        if let Some(p) = Platform::ALL.iter().find(|p| p.as_str() == name) {
            return Ok(*p);
        }
        let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let p = match n.as_str() {
            "google_ads" | "google" | "googleads" | "adwords" => Platform::GoogleAds,
            "meta" | "facebook" | "fb" | "instagram" | "meta_ads" | "facebook_ads" => {
                Platform::Meta
            }
            "linkedin" | "linkedin_ads" => Platform::LinkedIn,
            "tiktok" | "tiktok_ads" => Platform::TikTok,
            "microsoft_ads" | "microsoft" | "bing" | "bing_ads" => Platform::MicrosoftAds,
            "snapchat" | "snap" | "snapchat_ads" => Platform::Snapchat,
            "pinterest" | "pinterest_ads" => Platform::Pinterest,
            "x" | "twitter" | "x_ads" | "twitter_ads" => Platform::X,
            "amazon_ads" | "amazon" => Platform::AmazonAds,
            _ => return Err(UnknownPlatform(name.to_string())),
        };
        Ok(p)
    }

    /// Whether this platform's stats payloads lack the account id (it is request scope).
    pub fn payload_lacks_account(self) -> bool {
        matches!(
            self,
            Platform::LinkedIn | Platform::TikTok | Platform::Snapchat | Platform::X
        )
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown platform name; the message lists the accepted names.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown platform `{0}`; expected one of: google_ads, meta, linkedin, tiktok, microsoft_ads, snapchat, pinterest, x, amazon_ads (or auto)"
)]
pub struct UnknownPlatform(pub String);

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A text position: 1-based line (and column when known).
    Line { line: u64, column: Option<u64> },
    /// A record inside a JSON document, as a path, e.g. `data[3]` or `elements[0].dateRange`.
    Path(String),
    /// The file as a whole (empty, wrong kind, missing scope).
    File,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line {
                line,
                column: Some(c),
            } => write!(f, "line {line}, column {c}"),
            Location::Line { line, column: None } => write!(f, "line {line}"),
            Location::Path(p) => write!(f, "record {p}"),
            Location::File => f.write_str("file"),
        }
    }
}

/// A parse or validation failure: where, which field, and why. Shown as one line, e.g.
/// `line 12, field `Cost`: expected a number, got "abc"`; the caller prefixes the file name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ParseError {
    pub location: Location,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location)?;
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ParseError {
    pub fn new(location: Location, field: Option<&str>, message: impl Into<String>) -> Self {
        ParseError {
            location,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    /// A problem with the file as a whole.
    pub fn file(message: impl Into<String>) -> Self {
        ParseError::new(Location::File, None, message)
    }

    /// A JSON syntax/shape error from serde_json, located by line and column.
    pub fn json(err: &serde_json::Error) -> Self {
        ParseError::new(
            Location::Line {
                line: err.line() as u64,
                column: Some(err.column() as u64),
            },
            None,
            format!("invalid JSON: {err}"),
        )
    }
}

/// Meta conversion events: each event is a list of `action_type` aliases of the same event,
/// in order of preference. Per row, the first alias present is taken for each event (aliases
/// are never added up) and the events are summed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConversionEvents(pub Vec<Vec<String>>);

impl Default for ConversionEvents {
    /// Purchases: `omni_purchase` (all surfaces), else `purchase`, else the pixel event.
    fn default() -> Self {
        ConversionEvents(vec![vec![
            "omni_purchase".into(),
            "purchase".into(),
            "offsite_conversion.fb_pixel_purchase".into(),
        ]])
    }
}

/// What a connector needs besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Account id from the request scope (`--account-id`); used only where the payload lacks it.
    pub account_id: Option<String>,
    /// ISO 4217 currency from the account entity (`--currency`); used only where the payload
    /// lacks it.
    pub currency: Option<String>,
    /// Which Meta `action_type`s count as conversions (and, via `action_values`, value).
    pub conversion_events: ConversionEvents,
}

impl ParseOptions {
    /// The account id for a payload that does not carry one, or an error naming the flag.
    pub fn require_account_id(&self, platform: Platform) -> Result<String, ParseError> {
        self.scope_account_id(platform).map(str::to_string)
    }

    /// The currency for a payload that does not carry one, or an error naming the flag.
    pub fn require_currency(&self, platform: Platform) -> Result<String, ParseError> {
        self.scope_currency(platform).map(str::to_string)
    }

    /// [`ParseOptions::require_account_id`], borrowed.
    pub fn scope_account_id(&self, platform: Platform) -> Result<&str, ParseError> {
        self.account_id.as_deref().ok_or_else(|| {
            ParseError::file(format!(
                "{platform} reports do not carry the account id; pass --account-id <ID> (the account the report was requested for)"
            ))
        })
    }

    /// [`ParseOptions::require_currency`], borrowed.
    pub fn scope_currency(&self, platform: Platform) -> Result<&str, ParseError> {
        self.currency.as_deref().ok_or_else(|| {
            ParseError::file(format!(
                "{platform} reports do not carry the account currency; pass --currency <ISO code, e.g. USD>"
            ))
        })
    }
}

/// One row as the platform delivered it, before rows split by extra dimensions (device,
/// network, placement...) are folded into one ad-day.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeRow {
    pub row: AdDailyRow,
    /// The values of the extra dimensions that split an ad-day, joined; `None` when the report
    /// has none. Two rows with the same key and the same segment are a restatement (last wins);
    /// rows with different segments are summed.
    pub segment: Option<String>,
}

impl From<AdDailyRow> for NativeRow {
    fn from(row: AdDailyRow) -> Self {
        NativeRow { row, segment: None }
    }
}

/// The report formats a platform's writer can produce (the simulator writes every platform's
/// history in the formats the platforms really deliver, so ingestion is always exercised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeFormat {
    /// The platform API's per-ad daily report (JSON, possibly paged into several files).
    ApiJson,
    /// The ads-manager / UI CSV export where the platform has one (Google Ads UI CSV, Meta Ads
    /// Manager CSV, Microsoft report CSV). Platforms without one fall back to `ApiJson`.
    UiCsv,
}

/// Everything a writer needs besides the rows: the request scope of the report.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub account_id: String,
    pub account_name: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The account's UTC offset in minutes (day boundaries are local midnight).
    pub utc_offset_minutes: i32,
    pub format: NativeFormat,
    /// Seed for writer-side choices (page sizes, segment splits, which optional quirks appear),
    /// so the same input gives the same bytes.
    pub seed: u64,
}

/// One written report file: a suggested file name (with extension) and its bytes.
#[derive(Debug, Clone)]
pub struct NativeFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Writes rows of one account in the platform's native format. Parsing the result with
/// [`normalize`] (given the same account id / currency as request scope) gives back
/// `carried(row)` for every row, up to money rounding of 1e-6.
pub fn write_native(
    platform: Platform,
    rows: &[AdDailyRow],
    ctx: &WriteContext,
) -> Vec<NativeFile> {
    match platform {
        Platform::GoogleAds => google_ads::write(rows, ctx),
        Platform::Meta => meta::write(rows, ctx),
        Platform::LinkedIn => linkedin::write(rows, ctx),
        Platform::TikTok => tiktok::write(rows, ctx),
        Platform::MicrosoftAds => microsoft_ads::write(rows, ctx),
        Platform::Snapchat => snapchat::write(rows, ctx),
        Platform::Pinterest => pinterest::write(rows, ctx),
        Platform::X => x::write(rows, ctx),
        Platform::AmazonAds => amazon_ads::write(rows, ctx),
    }
}

/// What of a row the platform's native report (in `format`) can carry: fields the platform
/// does not deliver (names and hierarchy absent from stats payloads, reach where it is not
/// reported per ad-day, video views, ...) are set to `None`.
pub fn carried(platform: Platform, format: NativeFormat, row: &AdDailyRow) -> AdDailyRow {
    match platform {
        Platform::GoogleAds => google_ads::carried(row, format),
        Platform::Meta => meta::carried(row, format),
        Platform::LinkedIn => linkedin::carried(row, format),
        Platform::TikTok => tiktok::carried(row, format),
        Platform::MicrosoftAds => microsoft_ads::carried(row, format),
        Platform::Snapchat => snapchat::carried(row, format),
        Platform::Pinterest => pinterest::carried(row, format),
        Platform::X => x::carried(row, format),
        Platform::AmazonAds => amazon_ads::carried(row, format),
    }
}

/// Bounds on what a gzip or zip input may inflate to (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unpack {
    /// Largest inflated size, bytes.
    pub max_bytes: u64,
    /// Largest ratio of inflated to compressed size.
    pub max_ratio: u64,
}

impl Default for Unpack {
    fn default() -> Self {
        crate::config::Limits::default().unpack()
    }
}

impl Unpack {
    /// What `packed` compressed bytes may inflate to: at most `max_bytes`, and `max_ratio`
    /// times their size (but never less than 1 MiB, so a small report is not refused for
    /// compressing well).
    pub fn cap(&self, packed: usize) -> u64 {
        let by_ratio = (packed as u64).saturating_mul(self.max_ratio).max(1 << 20);
        self.max_bytes.min(by_ratio)
    }

    /// Reads `r` to its end, refusing (never truncating) past [`Unpack::cap`].
    fn read(&self, r: impl Read, packed: usize, what: &str) -> Result<Vec<u8>, ParseError> {
        let cap = self.cap(packed);
        let mut out = Vec::new();
        r.take(cap.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| ParseError::file(format!("{what} is corrupt or truncated: {e}")))?;
        if out.len() as u64 > cap {
            return Err(self.refusal(what, packed));
        }
        Ok(out)
    }

    fn refusal(&self, what: &str, packed: usize) -> ParseError {
        ParseError::file(format!(
            "{what} inflates past {} bytes from {packed} compressed: refused as a possible \
             compression bomb (limits: {} bytes, {}x; see [limits] max_unpacked_bytes and \
             max_unpack_ratio)",
            self.cap(packed),
            self.max_bytes,
            self.max_ratio
        ))
    }
}

/// Returns the payload inside a gzip file (Amazon's GZIP_JSON) or a zip archive holding one
/// report file (Microsoft's download), within the default [`Unpack`] bounds; other bytes are
/// returned as they are.
pub fn decompress(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, ParseError> {
    decompress_within(bytes, Unpack::default())
}

/// [`decompress`] within `limits`: an input that would inflate past them is refused whole.
pub fn decompress_within(
    bytes: &[u8],
    limits: Unpack,
) -> Result<std::borrow::Cow<'_, [u8]>, ParseError> {
    use std::borrow::Cow;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::MultiGzDecoder::new(bytes);
        return limits.read(gz, bytes.len(), "gzip data").map(Cow::Owned);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| ParseError::file(format!("zip archive is corrupt or truncated: {e}")))?;
        let files: Vec<usize> = (0..zip.len())
            .filter(|&i| zip.by_index(i).map(|f| f.is_file()).unwrap_or(false))
            .collect();
        if files.len() != 1 {
            return Err(ParseError::file(format!(
                "zip archive holds {} files; expected exactly one report file",
                files.len()
            )));
        }
        let f = zip
            .by_index(files[0])
            .map_err(|e| ParseError::file(format!("zip entry unreadable: {e}")))?;
        // The declared size refuses most bombs before inflating anything; the read itself
        // is bounded too, since the declaration can lie.
        if f.size() > limits.cap(bytes.len()) {
            return Err(limits.refusal("zip entry", bytes.len()));
        }
        return limits.read(f, bytes.len(), "zip entry").map(Cow::Owned);
    }
    Ok(Cow::Borrowed(bytes))
}

/// Guesses the platform from the content of a (decompressed) report.
pub fn detect(bytes: &[u8]) -> Result<Platform, ParseError> {
    let head = common::text_head(bytes, 64 * 1024);
    // Order matters only where signatures could overlap; each check looks for keys that
    // only one platform uses.
    type Sniffer = fn(&str) -> bool;
    let checks: [(Platform, Sniffer); 9] = [
        (Platform::GoogleAds, google_ads::looks_like),
        (Platform::Meta, meta::looks_like),
        (Platform::LinkedIn, linkedin::looks_like),
        (Platform::TikTok, tiktok::looks_like),
        (Platform::MicrosoftAds, microsoft_ads::looks_like),
        (Platform::Snapchat, snapchat::looks_like),
        (Platform::Pinterest, pinterest::looks_like),
        (Platform::X, x::looks_like),
        (Platform::AmazonAds, amazon_ads::looks_like),
    ];
    for (p, f) in checks {
        if f(&head) {
            return Ok(p);
        }
    }
    Err(ParseError::file(
        "could not recognise the platform from the content; pass --platform <name>",
    ))
}

/// Calls the platform's connector on already-decompressed bytes (no folding).
pub fn parse_native(
    platform: Platform,
    bytes: &[u8],
    opts: &ParseOptions,
) -> Result<Vec<NativeRow>, ParseError> {
    match platform {
        Platform::GoogleAds => google_ads::parse(bytes, opts),
        Platform::Meta => meta::parse(bytes, opts),
        Platform::LinkedIn => linkedin::parse(bytes, opts),
        Platform::TikTok => tiktok::parse(bytes, opts),
        Platform::MicrosoftAds => microsoft_ads::parse(bytes, opts),
        Platform::Snapchat => snapchat::parse(bytes, opts),
        Platform::Pinterest => pinterest::parse(bytes, opts),
        Platform::X => x::parse(bytes, opts),
        Platform::AmazonAds => amazon_ads::parse(bytes, opts),
    }
}

/// Calls the platform's connector on already-decompressed bytes, folding its rows into `out`.
/// Meta and Google Ads read straight into the columns; the other connectors go through their
/// row structs.
pub fn parse_native_into(
    platform: Platform,
    bytes: &[u8],
    opts: &ParseOptions,
    out: &mut AdDailyColumns,
) -> Result<(), ParseError> {
    match platform {
        Platform::GoogleAds => google_ads::parse_into(bytes, opts, out),
        Platform::Meta => meta::parse_into(bytes, opts, out),
        p => {
            for r in parse_native(p, bytes, opts)? {
                out.push_native(r)?;
            }
            Ok(())
        }
    }
}

/// Parses one native report into ad-day columns: decompress, detect (when `platform` is
/// `None`), parse, fold segments and restated days (see [`AdDailyColumns`]). Returns the
/// platform used.
pub fn normalize_columns(
    platform: Option<Platform>,
    bytes: &[u8],
    opts: &ParseOptions,
) -> Result<(Platform, AdDailyColumns), ParseError> {
    let bytes = decompress(bytes)?;
    let platform = match platform {
        Some(p) => p,
        None => detect(&bytes)?,
    };
    let mut out = AdDailyColumns::new();
    parse_native_into(platform, &bytes, opts, &mut out)?;
    Ok((platform, out))
}

/// [`normalize_columns`] as rows.
pub fn normalize(
    platform: Option<Platform>,
    bytes: &[u8],
    opts: &ParseOptions,
) -> Result<(Platform, Vec<AdDailyRow>), ParseError> {
    let (platform, columns) = normalize_columns(platform, bytes, opts)?;
    Ok((platform, columns.into_rows()))
}
