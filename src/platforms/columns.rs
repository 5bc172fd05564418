//! Folding connector rows into the columns of the `ad_daily` table while a report is parsed.
//!
//! Connectors hand each row they read to a [`RowSink`] as a [`RowRef`] that borrows its text
//! from the report. [`AdDailyColumns`] is the sink used by `normalize` and `ingest`: it keeps
//! one row per (platform, account_id, ad_id, date) as it goes (a repeated (key, segment) is a
//! restated day and replaces the earlier one; rows of different segments are summed, and such
//! an ad-day has no reach because reach is not additive), stores every text value once and
//! each row's text as 4-byte ids, and turns into the frame (or [`AdDailyRow`]s) at the end.
//!
//! Why columns rather than one row struct per line: a million-row report held as row structs
//! (≈ 300 bytes plus eight small heap strings each) outweighed the report itself several times
//! over; here a row costs about 90 bytes until the frame is built.

use std::hash::BuildHasher;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{NativeRow, ParseError, Platform};
use crate::schema::{AdDailyRow, ad_daily_frame, cols, date_to_days, days_to_date};

/// One row as a connector read it, text borrowed from the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowRef<'a> {
    pub platform: Platform,
    pub account_id: &'a str,
    pub ad_id: &'a str,
    pub campaign_id: Option<&'a str>,
    pub ad_group_id: Option<&'a str>,
    pub campaign_name: Option<&'a str>,
    pub ad_group_name: Option<&'a str>,
    pub ad_name: Option<&'a str>,
    pub date: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
    pub reach: Option<i64>,
    /// Account-currency units.
    pub spend: Option<f64>,
    pub currency: Option<&'a str>,
    pub conversions: Option<f64>,
    /// Account-currency units.
    pub conversion_value: Option<f64>,
    pub video_views: Option<i64>,
    /// See [`NativeRow::segment`].
    pub segment: Option<&'a str>,
}

impl NativeRow {
    /// The row as a [`RowRef`] borrowing its strings.
    pub fn as_row_ref(&self) -> RowRef<'_> {
        let r = &self.row;
        RowRef {
            platform: r.platform,
            account_id: &r.account_id,
            ad_id: &r.ad_id,
            campaign_id: r.campaign_id.as_deref(),
            ad_group_id: r.ad_group_id.as_deref(),
            campaign_name: r.campaign_name.as_deref(),
            ad_group_name: r.ad_group_name.as_deref(),
            ad_name: r.ad_name.as_deref(),
            date: r.date,
            impressions: r.impressions,
            clicks: r.clicks,
            reach: r.reach,
            spend: r.spend,
            currency: r.currency.as_deref(),
            conversions: r.conversions,
            conversion_value: r.conversion_value,
            video_views: r.video_views,
            segment: self.segment.as_deref(),
        }
    }
}

impl RowRef<'_> {
    /// An owned copy.
    pub fn to_native(&self) -> NativeRow {
        let s = |v: Option<&str>| v.map(str::to_string);
        NativeRow {
            row: AdDailyRow {
                platform: self.platform,
                account_id: self.account_id.to_string(),
                ad_id: self.ad_id.to_string(),
                campaign_id: s(self.campaign_id),
                ad_group_id: s(self.ad_group_id),
                campaign_name: s(self.campaign_name),
                ad_group_name: s(self.ad_group_name),
                ad_name: s(self.ad_name),
                date: self.date,
                impressions: self.impressions,
                clicks: self.clicks,
                reach: self.reach,
                spend: self.spend,
                currency: s(self.currency),
                conversions: self.conversions,
                conversion_value: self.conversion_value,
                video_views: self.video_views,
            },
            segment: s(self.segment),
        }
    }
}

/// Where a connector puts the rows it reads, in file order.
pub trait RowSink {
    fn push(&mut self, row: RowRef<'_>) -> Result<(), ParseError>;

    /// Takes a row a connector already holds as an owned struct.
    fn push_native(&mut self, row: NativeRow) -> Result<(), ParseError> {
        self.push(row.as_row_ref())
    }

    /// A hint that about `additional` more rows follow.
    fn reserve(&mut self, _additional: usize) {}
}

/// The rows as read, unfolded (what a connector's `parse` returns).
impl RowSink for Vec<NativeRow> {
    fn push(&mut self, row: RowRef<'_>) -> Result<(), ParseError> {
        Vec::push(self, row.to_native());
        Ok(())
    }

    fn push_native(&mut self, row: NativeRow) -> Result<(), ParseError> {
        Vec::push(self, row);
        Ok(())
    }

    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }
}

/// Id of an absent text value.
const NONE: u32 = u32::MAX;

/// Interner slots: each column remembers the id it saw last, because consecutive rows of a
/// report mostly repeat the account, campaign and currency.
const SLOT_ACCOUNT: usize = 0;
const SLOT_AD: usize = 1;
const SLOT_NAMES: usize = 2; // .. SLOT_NAMES + NAMES
const SLOT_SEGMENT: usize = SLOT_NAMES + NAMES;
const SLOTS: usize = SLOT_SEGMENT + 1;

/// The text columns besides the key, in [`TEXT_COLUMNS`] order.
const NAMES: usize = 6;
const TEXT_COLUMNS: [&str; NAMES] = [
    cols::CAMPAIGN_ID,
    cols::AD_GROUP_ID,
    cols::CAMPAIGN_NAME,
    cols::AD_GROUP_NAME,
    cols::AD_NAME,
    cols::CURRENCY,
];

/// Every distinct text value of a report once, back to back in one buffer and addressed by a
/// `u32` id (no allocation per value). Lookup is by hash, with a chain through the ids that
/// share one.
struct Interner {
    text: String,
    /// End of each value in `text`.
    ends: Vec<usize>,
    /// Latest id of each hash; `next` links it to the earlier ids with the same hash.
    heads: PlHashMap<u64, u32>,
    next: Vec<u32>,
    hasher: PlRandomState,
    last: [u32; SLOTS],
}

impl Interner {
    fn new() -> Self {
        Interner {
            text: String::new(),
            ends: Vec::new(),
            heads: PlHashMap::default(),
            next: Vec::new(),
            hasher: PlRandomState::default(),
            last: [NONE; SLOTS],
        }
    }

    fn id(&mut self, slot: usize, s: &str) -> Result<u32, ParseError> {
        let last = self.last[slot];
        if last != NONE && self.get(last) == Some(s) {
            return Ok(last);
        }
        let h = self.hasher.hash_one(s);
        let mut at = self.heads.get(&h).copied().unwrap_or(NONE);
        while at != NONE {
            if self.get(at) == Some(s) {
                self.last[slot] = at;
                return Ok(at);
            }
            at = self.next.get(at as usize).copied().unwrap_or(NONE);
        }
        let id = u32::try_from(self.ends.len())
            .ok()
            .filter(|&i| i != NONE)
            .ok_or_else(|| ParseError::file("report has more than 4 billion distinct values"))?;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        self.next.push(self.heads.insert(h, id).unwrap_or(NONE));
        self.last[slot] = id;
        Ok(id)
    }

    fn opt_id(&mut self, slot: usize, s: Option<&str>) -> Result<u32, ParseError> {
        match s {
            Some(s) => self.id(slot, s),
            None => Ok(NONE),
        }
    }

    fn get(&self, id: u32) -> Option<&str> {
        let i = id as usize;
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0),
            None => 0,
        };
        self.text.get(start..end)
    }
}

/// A row's values besides its key: what a later row of the same ad-day replaces or adds to.
#[derive(Debug, Clone, Copy)]
struct Values {
    segment: u32,
    names: [u32; NAMES],
    impressions: i64,
    clicks: i64,
    reach: Option<i64>,
    spend: Option<f64>,
    conversions: Option<f64>,
    conversion_value: Option<f64>,
    video_views: Option<i64>,
}

impl Values {
    /// The ad-day of several segments, in order of each segment's first appearance: counts and
    /// money summed, reach dropped, names and currency from the first segment that has them.
    fn fold(parts: &[Values]) -> Values {
        let mut it = parts.iter();
        let Some(first) = it.next() else {
            return Values {
                segment: NONE,
                names: [NONE; NAMES],
                impressions: 0,
                clicks: 0,
                reach: None,
                spend: None,
                conversions: None,
                conversion_value: None,
                video_views: None,
            };
        };
        let mut acc = *first;
        acc.reach = None;
        for p in it {
            acc.impressions = acc.impressions.saturating_add(p.impressions);
            acc.clicks = acc.clicks.saturating_add(p.clicks);
            acc.spend = add_opt(acc.spend, p.spend);
            acc.conversions = add_opt(acc.conversions, p.conversions);
            acc.conversion_value = add_opt(acc.conversion_value, p.conversion_value);
            acc.video_views = match (acc.video_views, p.video_views) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            };
            for (slot, v) in acc.names.iter_mut().zip(p.names) {
                if *slot == NONE {
                    *slot = v;
                }
            }
        }
        acc
    }
}

fn add_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// A nullable column under construction: values and a validity flag per row.
#[derive(Default)]
struct OptColumn<T> {
    values: Vec<T>,
    valid: Vec<bool>,
}

impl<T: Copy + Default> OptColumn<T> {
    fn reserve(&mut self, n: usize) {
        self.values.reserve(n);
        self.valid.reserve(n);
    }

    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.valid.push(v.is_some());
    }

    fn get(&self, i: usize) -> Option<T> {
        match self.valid.get(i) {
            Some(true) => self.values.get(i).copied(),
            _ => None,
        }
    }

    fn set(&mut self, i: usize, v: Option<T>) {
        if let (Some(slot), Some(ok)) = (self.values.get_mut(i), self.valid.get_mut(i)) {
            *slot = v.unwrap_or_default();
            *ok = v.is_some();
        }
    }
}

macro_rules! opt_series {
    ($chunked:ty, $dtype:expr, $name:expr, $col:expr) => {{
        let OptColumn { values, valid } = $col;
        if !valid.is_empty() && valid.iter().all(|&v| !v) {
            // A metric the report does not carry: stored once, not per row.
            Column::full_null($name.into(), valid.len(), &$dtype)
        } else if valid.iter().all(|&v| v) {
            <$chunked>::from_vec($name.into(), values).into_column()
        } else {
            <$chunked>::from_iter_options(
                $name.into(),
                values.into_iter().zip(valid).map(|(v, ok)| ok.then_some(v)),
            )
            .into_column()
        }
    }};
}

/// The `ad_daily` rows of one report, one per (platform, account_id, ad_id, date), kept as
/// columns. Row order is the first appearance of each key.
#[derive(Default)]
pub struct AdDailyColumns {
    strings: Option<Interner>,
    /// Row of each key (scope, ad id, days since 1970-01-01); the scope numbers each
    /// (platform, account id) pair, which keeps an entry at 16 bytes.
    index: PlHashMap<(u32, u32, i32), u32>,
    scopes: PlHashMap<(Platform, u32), u32>,
    last_scope: Option<((Platform, u32), u32)>,
    platform: Vec<Platform>,
    account_id: Vec<u32>,
    ad_id: Vec<u32>,
    names: [Vec<u32>; NAMES],
    date: Vec<i32>,
    impressions: Vec<i64>,
    clicks: Vec<i64>,
    reach: OptColumn<i64>,
    spend: OptColumn<f64>,
    conversions: OptColumn<f64>,
    conversion_value: OptColumn<f64>,
    video_views: OptColumn<i64>,
    /// Segment of each row's first part.
    segment: Vec<u32>,
    /// The parts of rows made of several segments, in order of first appearance.
    parts: PlHashMap<u32, Vec<Values>>,
}

impl AdDailyColumns {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of ad-day rows so far.
    pub fn len(&self) -> usize {
        self.date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.date.is_empty()
    }

    fn strings(&mut self) -> &mut Interner {
        self.strings.get_or_insert_with(Interner::new)
    }

    fn values(&self, row: usize) -> Values {
        Values {
            segment: self.segment.get(row).copied().unwrap_or(NONE),
            names: std::array::from_fn(|k| self.names[k].get(row).copied().unwrap_or(NONE)),
            impressions: self.impressions.get(row).copied().unwrap_or(0),
            clicks: self.clicks.get(row).copied().unwrap_or(0),
            reach: self.reach.get(row),
            spend: self.spend.get(row),
            conversions: self.conversions.get(row),
            conversion_value: self.conversion_value.get(row),
            video_views: self.video_views.get(row),
        }
    }

    fn set_values(&mut self, row: usize, v: &Values) {
        for (col, id) in self.names.iter_mut().zip(v.names) {
            if let Some(slot) = col.get_mut(row) {
                *slot = id;
            }
        }
        if let Some(slot) = self.impressions.get_mut(row) {
            *slot = v.impressions;
        }
        if let Some(slot) = self.clicks.get_mut(row) {
            *slot = v.clicks;
        }
        self.reach.set(row, v.reach);
        self.spend.set(row, v.spend);
        self.conversions.set(row, v.conversions);
        self.conversion_value.set(row, v.conversion_value);
        self.video_views.set(row, v.video_views);
    }

    /// A later row of an existing ad-day: replaces the part of the same segment (a restated
    /// day, last wins) or becomes a new part; the row is then the fold of its parts.
    fn merge(&mut self, row: u32, v: Values) {
        let i = row as usize;
        let folded = match self.parts.get_mut(&row) {
            Some(parts) => {
                match parts.iter_mut().find(|p| p.segment == v.segment) {
                    Some(p) => *p = v,
                    None => parts.push(v),
                }
                Values::fold(parts)
            }
            None if self.segment.get(i) == Some(&v.segment) => v,
            None => {
                let parts = vec![self.values(i), v];
                let folded = Values::fold(&parts);
                self.parts.insert(row, parts);
                folded
            }
        };
        self.set_values(i, &folded);
    }

    /// The rows as [`AdDailyRow`]s.
    pub fn into_rows(self) -> Vec<AdDailyRow> {
        let Some(strings) = &self.strings else {
            return Vec::new();
        };
        let text = |id: u32| strings.get(id).map(str::to_string);
        (0..self.len())
            .map(|i| {
                let v = self.values(i);
                let [
                    campaign_id,
                    ad_group_id,
                    campaign_name,
                    ad_group_name,
                    ad_name,
                    currency,
                ] = v.names.map(text);
                AdDailyRow {
                    platform: self.platform[i],
                    account_id: text(self.account_id[i]).unwrap_or_default(),
                    ad_id: text(self.ad_id[i]).unwrap_or_default(),
                    campaign_id,
                    ad_group_id,
                    campaign_name,
                    ad_group_name,
                    ad_name,
                    date: days_to_date(self.date[i]),
                    impressions: v.impressions,
                    clicks: v.clicks,
                    reach: v.reach,
                    spend: v.spend,
                    currency,
                    conversions: v.conversions,
                    conversion_value: v.conversion_value,
                    video_views: v.video_views,
                }
            })
            .collect()
    }

    /// The `ad_daily` frame for `tenant`, columns in table order with the exact types of
    /// [`crate::schema::ad_daily_schema`]: the same frame as [`crate::schema::rows_to_frame`] of
    /// [`AdDailyColumns::into_rows`]. A text column holding one value on every row (platform,
    /// and usually account and currency) is a scalar column, stored once.
    pub fn into_frame(self, tenant: &str) -> PolarsResult<DataFrame> {
        let n = self.len();
        let AdDailyColumns {
            strings,
            index,
            scopes,
            last_scope: _,
            platform,
            account_id,
            ad_id,
            names,
            date,
            impressions,
            clicks,
            reach,
            spend,
            conversions,
            conversion_value,
            video_views,
            segment,
            parts,
        } = self;
        drop((index, scopes, segment, parts));
        let strings = strings.unwrap_or_else(Interner::new);
        let text = |name: &str, ids: Vec<u32>| -> Column {
            text_column(name, ids.iter().map(|&id| strings.get(id)), n)
        };
        let [
            campaign_id,
            ad_group_id,
            campaign_name,
            ad_group_name,
            ad_name,
            currency,
        ] = names;
        let columns = vec![
            Column::new_scalar(
                cols::TENANT.into(),
                Scalar::from(PlSmallStr::from(tenant)),
                n,
            ),
            text_column(cols::PLATFORM, platform.iter().map(|p| Some(p.as_str())), n),
            text(cols::ACCOUNT_ID, account_id),
            text(cols::AD_ID, ad_id),
            text(TEXT_COLUMNS[0], campaign_id),
            text(TEXT_COLUMNS[1], ad_group_id),
            text(TEXT_COLUMNS[2], campaign_name),
            text(TEXT_COLUMNS[3], ad_group_name),
            text(TEXT_COLUMNS[4], ad_name),
            Int32Chunked::from_vec(cols::DATE.into(), date)
                .into_column()
                .cast(&DataType::Date)?,
            Int64Chunked::from_vec(cols::IMPRESSIONS.into(), impressions).into_column(),
            Int64Chunked::from_vec(cols::CLICKS.into(), clicks).into_column(),
            opt_series!(Int64Chunked, DataType::Int64, cols::REACH, reach),
            opt_series!(Float64Chunked, DataType::Float64, cols::SPEND, spend),
            text(TEXT_COLUMNS[5], currency),
            opt_series!(
                Float64Chunked,
                DataType::Float64,
                cols::CONVERSIONS,
                conversions
            ),
            opt_series!(
                Float64Chunked,
                DataType::Float64,
                cols::CONVERSION_VALUE,
                conversion_value
            ),
            opt_series!(
                Int64Chunked,
                DataType::Int64,
                cols::VIDEO_VIEWS,
                video_views
            ),
        ];
        ad_daily_frame(n, columns)
    }
}

/// A text column of `n` values: a scalar column when every value is the same present text.
fn text_column<'s>(
    name: &str,
    mut values: impl Iterator<Item = Option<&'s str>> + Clone,
    n: usize,
) -> Column {
    let all = values.clone();
    if let Some(Some(first)) = values.next()
        && values.all(|v| v == Some(first))
    {
        return Column::new_scalar(name.into(), Scalar::from(PlSmallStr::from(first)), n);
    }
    // Sized up front: a million views regrown by doubling briefly cost half as much again.
    let mut b = StringChunkedBuilder::new(name.into(), n);
    for v in all {
        b.append_option(v);
    }
    b.finish().into_column()
}

impl RowSink for AdDailyColumns {
    fn push(&mut self, r: RowRef<'_>) -> Result<(), ParseError> {
        let strings = self.strings();
        let account = strings.id(SLOT_ACCOUNT, r.account_id)?;
        let ad = strings.id(SLOT_AD, r.ad_id)?;
        let text = [
            r.campaign_id,
            r.ad_group_id,
            r.campaign_name,
            r.ad_group_name,
            r.ad_name,
            r.currency,
        ];
        let mut names = [NONE; NAMES];
        for (k, (slot, t)) in names.iter_mut().zip(text).enumerate() {
            *slot = strings.opt_id(SLOT_NAMES + k, t)?;
        }
        let v = Values {
            segment: strings.opt_id(SLOT_SEGMENT, r.segment)?,
            names,
            impressions: r.impressions,
            clicks: r.clicks,
            reach: r.reach,
            spend: r.spend,
            conversions: r.conversions,
            conversion_value: r.conversion_value,
            video_views: r.video_views,
        };
        let date = date_to_days(r.date);
        let next = u32::try_from(self.len())
            .map_err(|_| ParseError::file("report has more than 4 billion rows"))?;
        let scope = match self.last_scope {
            Some((key, scope)) if key == (r.platform, account) => scope,
            _ => {
                let n = u32::try_from(self.scopes.len()).unwrap_or(NONE);
                let scope = *self.scopes.entry((r.platform, account)).or_insert(n);
                self.last_scope = Some(((r.platform, account), scope));
                scope
            }
        };
        let row = *self.index.entry((scope, ad, date)).or_insert(next);
        if row != next {
            self.merge(row, v);
            return Ok(());
        }
        self.platform.push(r.platform);
        self.account_id.push(account);
        self.ad_id.push(ad);
        for (col, id) in self.names.iter_mut().zip(v.names) {
            col.push(id);
        }
        self.date.push(date);
        self.impressions.push(v.impressions);
        self.clicks.push(v.clicks);
        self.reach.push(v.reach);
        self.spend.push(v.spend);
        self.conversions.push(v.conversions);
        self.conversion_value.push(v.conversion_value);
        self.video_views.push(v.video_views);
        self.segment.push(v.segment);
        Ok(())
    }

    fn reserve(&mut self, n: usize) {
        self.index.reserve(n);
        self.platform.reserve(n);
        self.account_id.reserve(n);
        self.ad_id.reserve(n);
        for c in self.names.iter_mut() {
            c.reserve(n);
        }
        self.date.reserve(n);
        self.impressions.reserve(n);
        self.clicks.reserve(n);
        self.reach.reserve(n);
        self.spend.reserve(n);
        self.conversions.reserve(n);
        self.conversion_value.reserve(n);
        self.video_views.reserve(n);
        self.segment.reserve(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::normalize_columns;
    use crate::platforms::testkit::{fixture_bytes, scope_opts};
    use crate::schema::rows_to_frame;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
    }

    fn native(ad: &str, segment: Option<&str>, impressions: i64) -> NativeRow {
        let mut row = AdDailyRow::new(Platform::GoogleAds, "1".into(), ad.into(), day(1));
        row.impressions = impressions;
        NativeRow {
            row,
            segment: segment.map(str::to_string),
        }
    }

    #[test]
    fn folds_segments_and_restated_days() {
        let mut a_mobile = native("A", Some("MOBILE"), 100);
        a_mobile.row.clicks = 10;
        a_mobile.row.reach = Some(80);
        a_mobile.row.spend = Some(1.5);
        a_mobile.row.conversions = Some(1.0);
        let mut b = native("B", None, 50);
        b.row.reach = Some(40);
        let mut a_desktop = native("A", Some("DESKTOP"), 30);
        a_desktop.row.clicks = 3;
        a_desktop.row.reach = Some(20);
        a_desktop.row.spend = Some(0.25);
        a_desktop.row.conversion_value = Some(2.0);
        a_desktop.row.video_views = Some(5);
        a_desktop.row.campaign_name = Some("Brand".into());
        let mut a_mobile_again = native("A", Some("MOBILE"), 120);
        a_mobile_again.row.clicks = 12;
        a_mobile_again.row.reach = Some(90);
        a_mobile_again.row.spend = Some(2.0);
        a_mobile_again.row.conversions = Some(2.0);
        let mut b_again = native("B", None, 55);
        b_again.row.reach = Some(44);
        let mut a_next_day = native("A", None, 7);
        a_next_day.row.date = day(2);

        let mut c = AdDailyColumns::new();
        for r in [a_mobile, b, a_desktop, a_mobile_again, b_again, a_next_day] {
            c.push_native(r).unwrap();
        }
        let rows = c.into_rows();
        assert_eq!(rows.len(), 3);
        // A on 09-01: the restated MOBILE part (120 impressions) replaces the first one, plus
        // DESKTOP's 30 = 150; clicks 12+3 = 15; spend 2.0+0.25 = 2.25; conversions 2+none = 2;
        // value none+2.0 = 2.0; video none+5 = 5; no reach (two segments); the campaign name
        // comes from the segment that has one.
        let a = &rows[0];
        assert_eq!((a.ad_id.as_str(), a.date), ("A", day(1)));
        assert_eq!((a.impressions, a.clicks, a.reach), (150, 15, None));
        assert_eq!((a.spend, a.conversions), (Some(2.25), Some(2.0)));
        assert_eq!((a.conversion_value, a.video_views), (Some(2.0), Some(5)));
        assert_eq!(a.campaign_name.as_deref(), Some("Brand"));
        // B: restated without segments, last wins and keeps its reach.
        let b = &rows[1];
        assert_eq!(
            (b.ad_id.as_str(), b.impressions, b.reach),
            ("B", 55, Some(44))
        );
        assert_eq!((rows[2].ad_id.as_str(), rows[2].date), ("A", day(2)));
    }

    /// Every native fixture gives the same frame through the columns as through the rows, and
    /// the rows equal what the connector's own `parse` returns once folded.
    #[test]
    fn frame_equals_the_frame_of_the_rows() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut checked = 0;
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap().path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            if Platform::from_name(&name).is_err() {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let file = f.unwrap().file_name().to_string_lossy().into_owned();
                let bytes = fixture_bytes(&name, &file);
                let Ok((p, columns)) = normalize_columns(None, &bytes, &scope_opts()) else {
                    continue;
                };
                let (_, again) = normalize_columns(None, &bytes, &scope_opts()).unwrap();
                let rows = again.into_rows();
                let want = rows_to_frame("t1", &rows).unwrap();
                let got = columns.into_frame("t1").unwrap();
                assert_eq!(got.schema(), want.schema(), "{name}/{file}");
                assert!(got.equals_missing(&want), "{name}/{file}:\n{got}\n{want}");
                // The row-struct path of the same connector folds to the same rows.
                let unpacked = crate::platforms::decompress(&bytes).unwrap();
                let mut via_rows = AdDailyColumns::new();
                for r in crate::platforms::parse_native(p, &unpacked, &scope_opts()).unwrap() {
                    via_rows.push_native(r).unwrap();
                }
                assert_eq!(via_rows.into_rows(), rows, "{name}/{file}");
                checked += 1;
            }
        }
        assert!(checked >= 15, "{checked} fixtures");
    }

    #[test]
    fn varying_and_empty_columns() {
        // Two accounts and currencies: not scalar; the same frame as the rows give.
        let mut c = AdDailyColumns::new();
        let mut rows = Vec::new();
        for (acc, cur) in [("1", Some("USD")), ("2", None)] {
            let mut r = native("A", None, 10);
            r.row.account_id = acc.into();
            r.row.currency = cur.map(str::to_string);
            rows.push(r.row.clone());
            c.push_native(r).unwrap();
        }
        let want = rows_to_frame("t1", &rows).unwrap();
        assert!(c.into_frame("t1").unwrap().equals_missing(&want));
        // No rows: the empty table with every column typed.
        let empty = AdDailyColumns::new().into_frame("t1").unwrap();
        assert_eq!(empty.height(), 0);
        assert_eq!(
            empty.schema().as_ref(),
            rows_to_frame("t1", &[]).unwrap().schema().as_ref()
        );
    }
}
