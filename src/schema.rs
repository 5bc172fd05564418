//! The unified `ad_daily` table (docs/design.md §3): column names, the row type every connector
//! produces, and the conversion of rows into a Polars `DataFrame` with the exact column types.
//!
//! One row per (tenant, platform, account_id, ad_id, date). Money is in account-currency units
//! (micros already converted), counts are `i64`, conversions may be fractional.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::platforms::Platform;

/// Column names of `ad_daily`, in table order. Use these constants, never string literals.
pub mod cols {
    pub const TENANT: &str = "tenant";
    pub const PLATFORM: &str = "platform";
    pub const ACCOUNT_ID: &str = "account_id";
    pub const AD_ID: &str = "ad_id";
    pub const CAMPAIGN_ID: &str = "campaign_id";
    pub const AD_GROUP_ID: &str = "ad_group_id";
    pub const CAMPAIGN_NAME: &str = "campaign_name";
    pub const AD_GROUP_NAME: &str = "ad_group_name";
    pub const AD_NAME: &str = "ad_name";
    pub const DATE: &str = "date";
    pub const IMPRESSIONS: &str = "impressions";
    pub const CLICKS: &str = "clicks";
    pub const REACH: &str = "reach";
    pub const SPEND: &str = "spend";
    pub const CURRENCY: &str = "currency";
    pub const CONVERSIONS: &str = "conversions";
    pub const CONVERSION_VALUE: &str = "conversion_value";
    pub const VIDEO_VIEWS: &str = "video_views";

    /// All columns in table order.
    pub const ALL: [&str; 18] = [
        TENANT,
        PLATFORM,
        ACCOUNT_ID,
        AD_ID,
        CAMPAIGN_ID,
        AD_GROUP_ID,
        CAMPAIGN_NAME,
        AD_GROUP_NAME,
        AD_NAME,
        DATE,
        IMPRESSIONS,
        CLICKS,
        REACH,
        SPEND,
        CURRENCY,
        CONVERSIONS,
        CONVERSION_VALUE,
        VIDEO_VIEWS,
    ];

    /// The key of a row: re-ingesting the same key replaces the row.
    pub const KEY: [&str; 5] = [TENANT, PLATFORM, ACCOUNT_ID, AD_ID, DATE];
}

/// The Polars schema of `ad_daily` (column → dtype), in table order.
pub fn ad_daily_schema() -> Schema {
    use cols::*;
    Schema::from_iter([
        (TENANT.into(), DataType::String),
        (PLATFORM.into(), DataType::String),
        (ACCOUNT_ID.into(), DataType::String),
        (AD_ID.into(), DataType::String),
        (CAMPAIGN_ID.into(), DataType::String),
        (AD_GROUP_ID.into(), DataType::String),
        (CAMPAIGN_NAME.into(), DataType::String),
        (AD_GROUP_NAME.into(), DataType::String),
        (AD_NAME.into(), DataType::String),
        (DATE.into(), DataType::Date),
        (IMPRESSIONS.into(), DataType::Int64),
        (CLICKS.into(), DataType::Int64),
        (REACH.into(), DataType::Int64),
        (SPEND.into(), DataType::Float64),
        (CURRENCY.into(), DataType::String),
        (CONVERSIONS.into(), DataType::Float64),
        (CONVERSION_VALUE.into(), DataType::Float64),
        (VIDEO_VIEWS.into(), DataType::Int64),
    ])
}

/// One ad-day as a connector produces it (no tenant yet: the tenant is chosen at ingest).
#[derive(Debug, Clone, PartialEq)]
pub struct AdDailyRow {
    pub platform: Platform,
    pub account_id: String,
    pub ad_id: String,
    pub campaign_id: Option<String>,
    pub ad_group_id: Option<String>,
    pub campaign_name: Option<String>,
    pub ad_group_name: Option<String>,
    pub ad_name: Option<String>,
    /// The account's reporting day.
    pub date: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
    /// Unique people reached that day, where the platform reports it per ad-day.
    pub reach: Option<i64>,
    /// Account-currency units (not micros). `None` only for sources without cost.
    pub spend: Option<f64>,
    /// ISO 4217 code of `spend` and `conversion_value`.
    pub currency: Option<String>,
    /// May be fractional (data-driven attribution).
    pub conversions: Option<f64>,
    /// Account-currency units.
    pub conversion_value: Option<f64>,
    pub video_views: Option<i64>,
}

impl AdDailyRow {
    /// A row with the identity set and every metric zero / absent.
    pub fn new(platform: Platform, account_id: String, ad_id: String, date: NaiveDate) -> Self {
        AdDailyRow {
            platform,
            account_id,
            ad_id,
            campaign_id: None,
            ad_group_id: None,
            campaign_name: None,
            ad_group_name: None,
            ad_name: None,
            date,
            impressions: 0,
            clicks: 0,
            reach: None,
            spend: None,
            currency: None,
            conversions: None,
            conversion_value: None,
            video_views: None,
        }
    }
}

/// Days since 1970-01-01, the physical value of a Polars `Date`.
pub fn date_to_days(d: NaiveDate) -> i32 {
    // Days since 0001-01-01 of 1970-01-01; the test below checks it against chrono's
    // subtraction.
    const EPOCH_FROM_CE: i32 = 719_163;
    chrono::Datelike::num_days_from_ce(&d) - EPOCH_FROM_CE
}

/// The dates OmniFy accepts in a row, a history or an `as_of` (both ends included): a date
/// outside is a typo or an attack, and the feature engine fills every calendar day between a
/// creative's first and last, so one absurd date would cost millions of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

impl DateRange {
    /// From `earliest` to `future_days` after today (UTC).
    pub fn until_today_plus(earliest: NaiveDate, future_days: u32) -> DateRange {
        let today = chrono::Utc::now().date_naive();
        DateRange {
            earliest,
            latest: today + chrono::Duration::days(future_days as i64),
        }
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        (self.earliest..=self.latest).contains(&d)
    }

    /// [`DateRange::contains`] for days since 1970-01-01.
    pub fn contains_days(&self, day: i32) -> bool {
        (date_to_days(self.earliest)..=date_to_days(self.latest)).contains(&day)
    }

    /// Why `d` is refused (for messages).
    pub fn refusal(&self, d: NaiveDate) -> String {
        format!(
            "{d} is outside the accepted dates {} to {} (see [limits] earliest_date and future_days)",
            self.earliest, self.latest
        )
    }
}

impl Default for DateRange {
    /// 2000-01-01 to a year after today (UTC): the defaults of `[limits]`.
    fn default() -> Self {
        crate::config::Limits::default().dates()
    }
}

/// The inverse of [`date_to_days`].
pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days as i64)
}

/// Builds the `ad_daily` frame for `tenant` from connector rows, columns in table order with
/// the exact types of [`ad_daily_schema`].
pub fn rows_to_frame(tenant: &str, rows: &[AdDailyRow]) -> PolarsResult<DataFrame> {
    use cols::*;
    let n = rows.len();
    let opt_str = |f: fn(&AdDailyRow) -> &Option<String>| -> Vec<Option<&str>> {
        rows.iter().map(|r| f(r).as_deref()).collect()
    };
    let columns: Vec<Column> = vec![
        Column::new_scalar(TENANT.into(), Scalar::from(PlSmallStr::from(tenant)), n),
        Column::new(
            PLATFORM.into(),
            rows.iter().map(|r| r.platform.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            ACCOUNT_ID.into(),
            rows.iter()
                .map(|r| r.account_id.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            AD_ID.into(),
            rows.iter().map(|r| r.ad_id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(CAMPAIGN_ID.into(), opt_str(|r| &r.campaign_id)),
        Column::new(AD_GROUP_ID.into(), opt_str(|r| &r.ad_group_id)),
        Column::new(CAMPAIGN_NAME.into(), opt_str(|r| &r.campaign_name)),
        Column::new(AD_GROUP_NAME.into(), opt_str(|r| &r.ad_group_name)),
        Column::new(AD_NAME.into(), opt_str(|r| &r.ad_name)),
        Column::new(
            DATE.into(),
            rows.iter()
                .map(|r| date_to_days(r.date))
                .collect::<Vec<i32>>(),
        )
        .cast(&DataType::Date)?,
        Column::new(
            IMPRESSIONS.into(),
            rows.iter().map(|r| r.impressions).collect::<Vec<i64>>(),
        ),
        Column::new(
            CLICKS.into(),
            rows.iter().map(|r| r.clicks).collect::<Vec<i64>>(),
        ),
        Column::new(
            REACH.into(),
            rows.iter().map(|r| r.reach).collect::<Vec<Option<i64>>>(),
        ),
        Column::new(
            SPEND.into(),
            rows.iter().map(|r| r.spend).collect::<Vec<Option<f64>>>(),
        ),
        Column::new(CURRENCY.into(), opt_str(|r| &r.currency)),
        Column::new(
            CONVERSIONS.into(),
            rows.iter()
                .map(|r| r.conversions)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            CONVERSION_VALUE.into(),
            rows.iter()
                .map(|r| r.conversion_value)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            VIDEO_VIEWS.into(),
            rows.iter()
                .map(|r| r.video_views)
                .collect::<Vec<Option<i64>>>(),
        ),
    ];
    ad_daily_frame(n, columns)
}

/// A frame of `n` rows from `ad_daily` columns, each cast to its [`ad_daily_schema`] type (a
/// column of nulls would otherwise have the Null type).
pub(crate) fn ad_daily_frame(n: usize, mut columns: Vec<Column>) -> PolarsResult<DataFrame> {
    let schema = ad_daily_schema();
    for c in columns.iter_mut() {
        let want = schema.get(c.name().as_str()).ok_or_else(
            || polars_err!(ColumnNotFound: "`{}` is not an ad_daily column", c.name()),
        )?;
        if c.dtype() != want {
            *c = c.cast(want)?;
        }
    }
    DataFrame::new(n, columns)
}

/// The inverse of [`rows_to_frame`] for one tenant's rows: an `ad_daily` frame (as the
/// warehouse returns it) back into rows, in frame order. The tenant column is not read;
/// `platform`, `account_id`, `ad_id`, `date`, `impressions` and `clicks` are required, the
/// other columns may be left out of the frame (read as absent). Errors name the column when a
/// required one is missing, a column is mistyped or holds an unknown platform.
pub fn rows_from_frame(df: &DataFrame) -> PolarsResult<Vec<AdDailyRow>> {
    use cols::*;
    let optional = [
        CAMPAIGN_ID,
        AD_GROUP_ID,
        CAMPAIGN_NAME,
        AD_GROUP_NAME,
        AD_NAME,
        REACH,
        SPEND,
        CURRENCY,
        CONVERSIONS,
        CONVERSION_VALUE,
        VIDEO_VIEWS,
    ];
    let get = |name: &str, dtype: &DataType| -> PolarsResult<Column> {
        match df.column(name) {
            Ok(c) => c.cast(dtype),
            Err(_) if optional.contains(&name) => {
                Ok(Column::full_null(name.into(), df.height(), dtype))
            }
            Err(e) => Err(e),
        }
    };
    let str_col = |name: &str| -> PolarsResult<StringChunked> {
        Ok(get(name, &DataType::String)?.str()?.clone())
    };
    let i64_col = |name: &str| -> PolarsResult<Int64Chunked> {
        Ok(get(name, &DataType::Int64)?.i64()?.clone())
    };
    let f64_col = |name: &str| -> PolarsResult<Float64Chunked> {
        Ok(get(name, &DataType::Float64)?.f64()?.clone())
    };
    let (platform, account, ad) = (str_col(PLATFORM)?, str_col(ACCOUNT_ID)?, str_col(AD_ID)?);
    let (campaign_id, ad_group_id) = (str_col(CAMPAIGN_ID)?, str_col(AD_GROUP_ID)?);
    let (campaign_name, ad_group_name, ad_name) = (
        str_col(CAMPAIGN_NAME)?,
        str_col(AD_GROUP_NAME)?,
        str_col(AD_NAME)?,
    );
    let date = df.column(DATE)?.cast(&DataType::Int32)?;
    let date = date.i32()?;
    let (imps, clicks, reach, views) = (
        i64_col(IMPRESSIONS)?,
        i64_col(CLICKS)?,
        i64_col(REACH)?,
        i64_col(VIDEO_VIEWS)?,
    );
    let (spend, conv, value) = (
        f64_col(SPEND)?,
        f64_col(CONVERSIONS)?,
        f64_col(CONVERSION_VALUE)?,
    );
    let currency = str_col(CURRENCY)?;
    // Iterators, not `get(i)`: a warehouse frame has many chunks.
    let (mut platform, mut account, mut ad) = (platform.iter(), account.iter(), ad.iter());
    let (mut campaign_id, mut ad_group_id) = (campaign_id.iter(), ad_group_id.iter());
    let (mut campaign_name, mut ad_group_name, mut ad_name) =
        (campaign_name.iter(), ad_group_name.iter(), ad_name.iter());
    let mut date = date.iter();
    let (mut imps, mut clicks, mut reach, mut views) =
        (imps.iter(), clicks.iter(), reach.iter(), views.iter());
    let (mut spend, mut conv, mut value) = (spend.iter(), conv.iter(), value.iter());
    let mut currency = currency.iter();
    let owned = |v: Option<Option<&str>>| v.flatten().map(str::to_string);
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let p = platform.next().flatten().unwrap_or_default();
        let p = Platform::from_name(p)
            .map_err(|e| polars_err!(ComputeError: "column `{PLATFORM}` row {i}: {e}"))?;
        let Some(d) = date.next().flatten() else {
            polars_bail!(ComputeError: "column `{DATE}` row {i} is empty");
        };
        let mut r = AdDailyRow::new(
            p,
            owned(account.next()).unwrap_or_default(),
            owned(ad.next()).unwrap_or_default(),
            days_to_date(d),
        );
        r.campaign_id = owned(campaign_id.next());
        r.ad_group_id = owned(ad_group_id.next());
        r.campaign_name = owned(campaign_name.next());
        r.ad_group_name = owned(ad_group_name.next());
        r.ad_name = owned(ad_name.next());
        r.impressions = imps.next().flatten().unwrap_or(0);
        r.clicks = clicks.next().flatten().unwrap_or(0);
        r.reach = reach.next().flatten();
        r.spend = spend.next().flatten();
        r.currency = owned(currency.next());
        r.conversions = conv.next().flatten();
        r.conversion_value = value.next().flatten();
        r.video_views = views.next().flatten();
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_count_from_1970_like_chrono_subtraction() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        assert_eq!(date_to_days(epoch), 0);
        for (y, m, d) in [
            (1969, 12, 31),
            (2000, 2, 29),
            (2024, 3, 1),
            (2026, 11, 26),
            (1, 1, 1),
        ] {
            let day = NaiveDate::from_ymd_opt(y, m, d).expect("date");
            let want = (day - epoch).num_days() as i32;
            assert_eq!(date_to_days(day), want, "{day}");
            assert_eq!(days_to_date(want), day);
        }
    }

    #[test]
    fn rows_survive_a_round_trip_through_a_frame() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).expect("date");
        let mut a = AdDailyRow::new(Platform::Meta, "act_1".into(), "ad_9".into(), day(2));
        a.campaign_id = Some("c1".into());
        a.ad_name = Some("Spring ☀".into());
        a.impressions = 1200;
        a.clicks = 31;
        a.reach = Some(900);
        a.spend = Some(12.5);
        a.currency = Some("EUR".into());
        a.conversions = Some(1.5);
        a.conversion_value = Some(40.0);
        a.video_views = Some(7);
        let b = AdDailyRow::new(Platform::X, "x-acct".into(), "t1".into(), day(3));
        let rows = vec![a, b];
        let df = rows_to_frame("tenant", &rows).expect("frame");
        let mut two = df.clone();
        two.vstack_mut(&df).expect("two chunks");
        let back = rows_from_frame(&two).expect("rows");
        assert_eq!(back.len(), 4);
        assert_eq!(&back[..2], &rows[..]);
        assert_eq!(&back[2..], &rows[..]);
    }

    #[test]
    fn an_unknown_platform_is_named_with_its_row() {
        let rows = vec![AdDailyRow::new(
            Platform::Meta,
            "a".into(),
            "b".into(),
            NaiveDate::from_ymd_opt(2026, 3, 2).expect("date"),
        )];
        let mut df = rows_to_frame("t", &rows).expect("frame");
        df.with_column(Column::new(cols::PLATFORM.into(), ["myspace"]))
            .expect("replace");
        let e = rows_from_frame(&df)
            .expect_err("unknown platform")
            .to_string();
        assert!(e.contains("`platform` row 0"), "{e}");
    }
}
