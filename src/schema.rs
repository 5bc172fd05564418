//! The unified `ad_daily` table (DESIGN.md §3): column names, the row type every connector
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
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
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
    let mut columns = columns;
    // A frame of all-null optional columns would otherwise infer the Null dtype.
    let schema = ad_daily_schema();
    for c in columns.iter_mut() {
        let want = schema
            .get(c.name().as_str())
            .expect("schema has every column");
        if c.dtype() != want {
            *c = c.cast(want)?;
        }
    }
    DataFrame::new(n, columns)
}
