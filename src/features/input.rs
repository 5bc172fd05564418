//! The input of the row-by-row engine ([`super::rows::compute`]): the nine `ad_daily` columns
//! the labels and features read ([`INPUT_COLUMNS`]) of one tenant's rows, and their rows
//! grouped per creative.
//!
//! Built from a frame, the numeric columns are the frame's own buffers (a frame of several
//! chunks is made contiguous first), read by row index through an index permutation that
//! lists each creative's rows, creatives in key order and each one's rows in day order. No
//! row is copied into a struct of its own: at 10M ad-days that copy took longer than the
//! labels and features themselves.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use std::collections::HashMap;

use crate::platforms::Platform;
use crate::schema::{AdDailyRow, cols as ad, date_to_days};

/// The `ad_daily` columns the labels and features read.
pub const INPUT_COLUMNS: [&str; 9] = [
    ad::PLATFORM,
    ad::ACCOUNT_ID,
    ad::AD_ID,
    ad::DATE,
    ad::IMPRESSIONS,
    ad::CLICKS,
    ad::REACH,
    ad::SPEND,
    ad::CONVERSIONS,
];

/// A creative of the input: (platform, account_id, ad_id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreativeId {
    pub platform: Platform,
    pub account_id: String,
    pub ad_id: String,
}

/// One tenant's ad-days as the engine reads them: the numeric columns (one chunk each) and
/// the rows grouped per creative.
#[derive(Debug, Clone)]
pub struct DayInput {
    /// Distinct creatives, sorted by (platform name, account_id, ad_id).
    creatives: Vec<CreativeId>,
    /// Row indices, creative by creative (in `creatives` order), each creative's rows by day
    /// and, within a day, in input order (so the last row of a repeated day comes last).
    order: Vec<u32>,
    /// Per creative: the end of its rows in `order` (its start is the previous end).
    ends: Vec<usize>,
    day: Int32Chunked,
    impressions: Int64Chunked,
    clicks: Int64Chunked,
    reach: Int64Chunked,
    spend: Float64Chunked,
    conversions: Float64Chunked,
}

/// A numeric column as a slice, with its validity (none: no nulls).
#[derive(Clone, Copy)]
pub(crate) struct Values<'a, T> {
    values: &'a [T],
    validity: Option<&'a Bitmap>,
}

impl<T: Copy> Values<'_, T> {
    /// The value of row `r`, or none when it is null.
    #[inline]
    pub(crate) fn get(&self, r: usize) -> Option<T> {
        match self.validity {
            Some(b) if !b.get_bit(r) => None,
            _ => Some(self.values[r]),
        }
    }
}

fn values<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Values<'_, T::Native> {
    match ca.downcast_iter().next() {
        Some(arr) => Values {
            values: arr.values().as_slice(),
            validity: arr.validity().filter(|b| b.unset_bits() > 0),
        },
        None => Values {
            values: &[],
            validity: None,
        },
    }
}

/// The columns of a [`DayInput`] as slices, what the engine reads per row.
pub(crate) struct Columns<'a> {
    pub day: &'a [i32],
    pub impressions: &'a [i64],
    pub clicks: &'a [i64],
    pub reach: Values<'a, i64>,
    pub spend: Values<'a, f64>,
    pub conversions: Values<'a, f64>,
}

impl DayInput {
    /// The rows of an `ad_daily` frame of one tenant (the tenant column is not read).
    /// `platform`, `account_id`, `ad_id`, `date`, `impressions` and `clicks` are required;
    /// `reach`, `spend` and `conversions` may be left out (read as absent). Null impressions
    /// or clicks read as 0. Errors name the column when a required one is missing or
    /// mistyped, a date is empty or a platform unknown.
    pub fn from_frame(df: &DataFrame) -> PolarsResult<DayInput> {
        let get = |name: &str, dtype: &DataType| -> PolarsResult<Column> {
            match df.column(name) {
                Ok(c) => c.cast(dtype),
                Err(_) if [ad::REACH, ad::SPEND, ad::CONVERSIONS].contains(&name) => {
                    Ok(Column::full_null(name.into(), df.height(), dtype))
                }
                Err(e) => Err(e),
            }
        };
        let text = |name: &str| -> PolarsResult<StringChunked> {
            Ok(get(name, &DataType::String)?.str()?.clone())
        };
        let count = |name: &str| -> PolarsResult<Int64Chunked> {
            let c = get(name, &DataType::Int64)?.i64()?.rechunk().into_owned();
            Ok(if c.null_count() > 0 {
                c.fill_null_with_values(0)?
            } else {
                c
            })
        };
        let num_i = |name: &str| -> PolarsResult<Int64Chunked> {
            Ok(get(name, &DataType::Int64)?.i64()?.rechunk().into_owned())
        };
        let num_f = |name: &str| -> PolarsResult<Float64Chunked> {
            Ok(get(name, &DataType::Float64)?.f64()?.rechunk().into_owned())
        };
        let day = df
            .column(ad::DATE)?
            .cast(&DataType::Int32)?
            .i32()?
            .rechunk()
            .into_owned();
        if day.null_count() > 0 {
            let r = day.iter().position(|d| d.is_none()).unwrap_or_default();
            polars_bail!(ComputeError: "column `{}` row {r} is empty", ad::DATE);
        }
        let (platform, account, ad_id) =
            (text(ad::PLATFORM)?, text(ad::ACCOUNT_ID)?, text(ad::AD_ID)?);
        let keys = platform
            .iter()
            .zip(account.iter())
            .zip(ad_id.iter())
            .map(|((p, a), i)| {
                (
                    p.unwrap_or_default(),
                    a.unwrap_or_default(),
                    i.unwrap_or_default(),
                )
            });
        let (creatives, order, ends) = group(keys, values(&day).values)?;
        Ok(DayInput {
            creatives,
            order,
            ends,
            day,
            impressions: count(ad::IMPRESSIONS)?,
            clicks: count(ad::CLICKS)?,
            reach: num_i(ad::REACH)?,
            spend: num_f(ad::SPEND)?,
            conversions: num_f(ad::CONVERSIONS)?,
        })
    }

    /// The same input from connector rows (any order; a repeated (creative, date) keeps its
    /// last row).
    pub fn from_rows(rows: &[AdDailyRow]) -> DayInput {
        let day = Int32Chunked::from_vec(
            ad::DATE.into(),
            rows.iter().map(|r| date_to_days(r.date)).collect(),
        );
        let keys = rows
            .iter()
            .map(|r| (r.platform.as_str(), r.account_id.as_str(), r.ad_id.as_str()));
        let (creatives, order, ends) =
            group(keys, values(&day).values).expect("connector rows name known platforms");
        let ints = |name: &str, f: fn(&AdDailyRow) -> Option<i64>| {
            Int64Chunked::from_iter_options(name.into(), rows.iter().map(f))
        };
        let floats = |name: &str, f: fn(&AdDailyRow) -> Option<f64>| {
            Float64Chunked::from_iter_options(name.into(), rows.iter().map(f))
        };
        DayInput {
            creatives,
            order,
            ends,
            day,
            impressions: ints(ad::IMPRESSIONS, |r| Some(r.impressions)),
            clicks: ints(ad::CLICKS, |r| Some(r.clicks)),
            reach: ints(ad::REACH, |r| r.reach),
            spend: floats(ad::SPEND, |r| r.spend),
            conversions: floats(ad::CONVERSIONS, |r| r.conversions),
        }
    }

    /// The latest day of the input (days since 1970-01-01), if any.
    pub fn last_day(&self) -> Option<i32> {
        self.day.max()
    }

    /// The distinct creatives, in key order.
    pub fn creatives(&self) -> &[CreativeId] {
        &self.creatives
    }

    /// The row indices of creative `c`, in day order.
    pub(crate) fn rows_of(&self, c: usize) -> &[u32] {
        let start = if c == 0 { 0 } else { self.ends[c - 1] };
        &self.order[start..self.ends[c]]
    }

    pub(crate) fn columns(&self) -> Columns<'_> {
        Columns {
            day: values(&self.day).values,
            impressions: values(&self.impressions).values,
            clicks: values(&self.clicks).values,
            reach: values(&self.reach),
            spend: values(&self.spend),
            conversions: values(&self.conversions),
        }
    }
}

/// Per creative (key order): its (day, impressions, clicks, reach, spend, conversions) rows as
/// the engine reads them (what tests compare inputs by).
#[cfg(test)]
pub(crate) type Read = Vec<(
    String,
    Vec<(i32, i64, i64, Option<i64>, Option<f64>, Option<f64>)>,
)>;

#[cfg(test)]
impl DayInput {
    pub(crate) fn read(&self) -> Read {
        let cols = self.columns();
        self.creatives()
            .iter()
            .enumerate()
            .map(|(c, id)| {
                let name = format!("{}/{}/{}", id.platform.as_str(), id.account_id, id.ad_id);
                let rows = self
                    .rows_of(c)
                    .iter()
                    .map(|&r| {
                        let r = r as usize;
                        (
                            cols.day[r],
                            cols.impressions[r],
                            cols.clicks[r],
                            cols.reach.get(r),
                            cols.spend.get(r),
                            cols.conversions.get(r),
                        )
                    })
                    .collect();
                (name, rows)
            })
            .collect()
    }
}

/// One day of a creative for [`DayInputBuilder::push`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayValues {
    /// Days since 1970-01-01.
    pub day: i32,
    pub impressions: i64,
    pub clicks: i64,
    pub reach: Option<i64>,
    pub spend: Option<f64>,
    pub conversions: Option<f64>,
}

/// Builds a [`DayInput`] from rows that already come creative by creative (a scoring request's
/// histories): no key is looked up per row and no row struct is kept, unlike
/// [`DayInput::from_rows`].
#[derive(Debug, Default)]
pub struct DayInputBuilder {
    creatives: Vec<CreativeId>,
    /// Per pushed creative: the end of its rows in the columns.
    ends: Vec<usize>,
    day: Vec<i32>,
    impressions: Vec<i64>,
    clicks: Vec<i64>,
    reach: Optional<i64>,
    spend: Optional<f64>,
    conversions: Optional<f64>,
}

/// An optional column being built: its values (0 where absent) and which are present.
#[derive(Debug, Default)]
struct Optional<T> {
    values: Vec<T>,
    present: polars_arrow::bitmap::MutableBitmap,
    absent: usize,
}

impl<T: Copy + Default> Optional<T> {
    fn with_capacity(n: usize) -> Self {
        Optional {
            values: Vec::with_capacity(n),
            present: polars_arrow::bitmap::MutableBitmap::with_capacity(n),
            absent: 0,
        }
    }

    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.present.push(v.is_some());
        self.absent += usize::from(v.is_none());
    }

    fn get(&self, r: usize) -> Option<T> {
        self.present.get(r).then(|| self.values[r])
    }

    /// The parts joined in order (the values copied on all cores).
    fn concat(parts: Vec<Optional<T>>) -> Optional<T>
    where
        T: Send + Sync,
    {
        let values = concat_par(&parts.iter().map(|p| &p.values[..]).collect::<Vec<_>>());
        let absent = parts.iter().map(|p| p.absent).sum();
        // All present or all absent (the usual cases) without walking the bits.
        let mut present = polars_arrow::bitmap::MutableBitmap::with_capacity(values.len());
        if absent == 0 || absent == values.len() {
            present.extend_constant(values.len(), absent == 0);
        } else {
            for p in parts {
                let bits: Bitmap = p.present.into();
                present.extend_from_bitmap(&bits);
            }
        }
        Optional {
            values,
            present,
            absent,
        }
    }

    /// The values and, when any is absent, the validity.
    fn finish(self) -> (Vec<T>, Option<Bitmap>) {
        let validity = (self.absent > 0).then(|| self.present.into());
        (self.values, validity)
    }
}

/// The pieces joined in order into one vector, each copied on its own core.
fn concat_par<T: Copy + Send + Sync>(pieces: &[&[T]]) -> Vec<T> {
    use rayon::prelude::*;
    let total = pieces.iter().map(|p| p.len()).sum();
    let mut out: Vec<T> = Vec::with_capacity(total);
    let mut rest = &mut out.spare_capacity_mut()[..total];
    let mut slots = Vec::with_capacity(pieces.len());
    for p in pieces {
        let (mine, tail) = rest.split_at_mut(p.len());
        slots.push(mine);
        rest = tail;
    }
    slots.into_par_iter().zip(pieces).for_each(|(slot, piece)| {
        for (d, s) in slot.iter_mut().zip(piece.iter()) {
            d.write(*s);
        }
    });
    // SAFETY: the slots cover out[..total] exactly (the pieces' lengths sum to `total`), and
    // every one of them was written above.
    unsafe { out.set_len(total) };
    out
}

impl DayInputBuilder {
    pub fn with_capacity(creatives: usize, rows: usize) -> DayInputBuilder {
        DayInputBuilder {
            creatives: Vec::with_capacity(creatives),
            ends: Vec::with_capacity(creatives),
            day: Vec::with_capacity(rows),
            impressions: Vec::with_capacity(rows),
            clicks: Vec::with_capacity(rows),
            reach: Optional::with_capacity(rows),
            spend: Optional::with_capacity(rows),
            conversions: Optional::with_capacity(rows),
        }
    }

    /// Adds one creative and its days (any order; a repeated day keeps its last row, as in
    /// [`DayInput::from_rows`]). A creative without days is left out. The caller gives each
    /// creative once: the same key pushed twice is two creatives to the engine.
    pub fn push(&mut self, id: CreativeId, days: impl IntoIterator<Item = DayValues>) {
        for d in days {
            self.push_day(d);
        }
        self.end_creative(id);
    }

    /// One day of the creative being pushed (its id comes after its days, in
    /// [`DayInputBuilder::end_creative`]).
    pub fn push_day(&mut self, d: DayValues) {
        self.day.push(d.day);
        self.impressions.push(d.impressions);
        self.clicks.push(d.clicks);
        self.reach.push(d.reach);
        self.spend.push(d.spend);
        self.conversions.push(d.conversions);
    }

    /// Ends the creative whose days were pushed since the last one ended; one without days
    /// is left out.
    pub fn end_creative(&mut self, id: CreativeId) {
        if self.day.len() > self.ends.last().copied().unwrap_or(0) {
            self.creatives.push(id);
            self.ends.push(self.day.len());
        }
    }

    /// The creatives of `parts` (built apart, e.g. on several cores), in order; the columns
    /// are copied on all cores (a batch's are megabytes).
    pub fn concat(parts: Vec<DayInputBuilder>) -> DayInputBuilder {
        let column = |f: fn(&DayInputBuilder) -> &[i64]| {
            concat_par(&parts.iter().map(f).collect::<Vec<_>>())
        };
        let (impressions, clicks) = (column(|p| &p.impressions), column(|p| &p.clicks));
        let day = concat_par(&parts.iter().map(|p| &p.day[..]).collect::<Vec<_>>());
        let mut creatives = Vec::with_capacity(parts.iter().map(|p| p.creatives.len()).sum());
        let mut ends = Vec::with_capacity(creatives.capacity());
        let (mut reach, mut spend, mut conversions) = (Vec::new(), Vec::new(), Vec::new());
        let mut base = 0;
        for p in parts {
            creatives.extend(p.creatives);
            ends.extend(p.ends.iter().map(|e| base + e));
            base += p.day.len();
            reach.push(p.reach);
            spend.push(p.spend);
            conversions.push(p.conversions);
        }
        DayInputBuilder {
            creatives,
            ends,
            day,
            impressions,
            clicks,
            reach: Optional::concat(reach),
            spend: Optional::concat(spend),
            conversions: Optional::concat(conversions),
        }
    }

    /// The same creatives with only their days up to `last` (days since 1970-01-01): what
    /// pushing them with the later days left out builds (a creative left without days is left
    /// out).
    pub fn keep_until(self, last: i32) -> DayInputBuilder {
        if self.day.iter().all(|&d| d <= last) {
            return self;
        }
        let mut out = DayInputBuilder::with_capacity(self.creatives.len(), self.day.len());
        let mut start = 0;
        for (id, &end) in self.creatives.into_iter().zip(&self.ends) {
            let days = (start..end)
                .filter(|&r| self.day[r] <= last)
                .map(|r| DayValues {
                    day: self.day[r],
                    impressions: self.impressions[r],
                    clicks: self.clicks[r],
                    reach: self.reach.get(r),
                    spend: self.spend.get(r),
                    conversions: self.conversions.get(r),
                });
            out.push(id, days);
            start = end;
        }
        out
    }

    /// The input: creatives in key order, each one's rows by day (a stable sort).
    pub fn finish(self) -> DayInput {
        let mut spans: Vec<_> = self
            .creatives
            .into_iter()
            .zip(std::iter::once(0).chain(self.ends.iter().copied()))
            .zip(&self.ends)
            .map(|((id, start), &end)| (id, start..end))
            .collect();
        type Span = (CreativeId, std::ops::Range<usize>);
        let by_key = |(a, _): &Span, (b, _): &Span| {
            (a.platform.as_str(), &a.account_id, &a.ad_id).cmp(&(
                b.platform.as_str(),
                &b.account_id,
                &b.ad_id,
            ))
        };
        if !spans.is_sorted_by(|a, b| by_key(a, b).is_le()) {
            spans.sort_by(by_key);
        }
        let mut order: Vec<u32> = Vec::with_capacity(self.day.len());
        let mut ends = Vec::with_capacity(spans.len());
        for (_, rows) in &spans {
            let from = order.len();
            order.extend(rows.start as u32..rows.end as u32);
            let rows = &mut order[from..];
            if !rows.is_sorted_by_key(|&r| self.day[r as usize]) {
                rows.sort_by_key(|&r| self.day[r as usize]);
            }
            ends.push(order.len());
        }
        let creatives = spans.into_iter().map(|(id, _)| id).collect();
        let (reach, reach_ok) = self.reach.finish();
        let (spend, spend_ok) = self.spend.finish();
        let (conversions, conversions_ok) = self.conversions.finish();
        DayInput {
            creatives,
            order,
            ends,
            day: Int32Chunked::from_vec(ad::DATE.into(), self.day),
            impressions: Int64Chunked::from_vec(ad::IMPRESSIONS.into(), self.impressions),
            clicks: Int64Chunked::from_vec(ad::CLICKS.into(), self.clicks),
            reach: Int64Chunked::from_vec_validity(ad::REACH.into(), reach, reach_ok),
            spend: Float64Chunked::from_vec_validity(ad::SPEND.into(), spend, spend_ok),
            conversions: Float64Chunked::from_vec_validity(
                ad::CONVERSIONS.into(),
                conversions,
                conversions_ok,
            ),
        }
    }
}

/// Groups rows by creative: the distinct creatives in key order, the row indices creative by
/// creative (each one's by day, input order within a day: a stable sort) and each
/// creative's end in that list. `keys` yields (platform, account_id, ad_id) per row.
fn group<'a>(
    keys: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    day: &[i32],
) -> PolarsResult<(Vec<CreativeId>, Vec<u32>, Vec<usize>)> {
    // Creatives by their key as spelled in the input (looked up on every row where the key
    // changes: rows often come day by day across creatives), and by their platform's
    // canonical name (two spellings of a platform are one creative).
    let mut spelled: PlHashMap<(&str, &str, &str), u32> = PlHashMap::default();
    let mut ids: HashMap<(Platform, &str, &str), u32> = HashMap::new();
    let mut of_row: Vec<u32> = Vec::with_capacity(day.len());
    let mut prev: Option<((&str, &str, &str), u32)> = None;
    for (r, key) in keys.enumerate() {
        let id = match prev {
            Some((k, id)) if k == key => id,
            _ => match spelled.get(&key) {
                Some(id) => *id,
                None => {
                    let p = Platform::from_name(key.0).map_err(
                        |e| polars_err!(ComputeError: "column `{}` row {r}: {e}", ad::PLATFORM),
                    )?;
                    let next = ids.len() as u32;
                    let id = *ids.entry((p, key.1, key.2)).or_insert(next);
                    spelled.insert(key, id);
                    id
                }
            },
        };
        prev = Some((key, id));
        of_row.push(id);
    }
    let mut keyed: Vec<((Platform, &str, &str), u32)> = ids.into_iter().collect();
    keyed
        .sort_unstable_by(|(a, _), (b, _)| (a.0.as_str(), a.1, a.2).cmp(&(b.0.as_str(), b.1, b.2)));
    // Rank of each id in key order, then a counting sort of the rows by rank (stable).
    let mut rank = vec![0u32; keyed.len()];
    for (k, (_, id)) in keyed.iter().enumerate() {
        rank[*id as usize] = k as u32;
    }
    let mut ends = vec![0usize; keyed.len()];
    for id in of_row.iter_mut() {
        *id = rank[*id as usize];
        ends[*id as usize] += 1;
    }
    let mut total = 0;
    for e in ends.iter_mut() {
        total += *e;
        *e = total;
    }
    let mut next: Vec<usize> = std::iter::once(0)
        .chain(ends.iter().copied())
        .take(ends.len())
        .collect();
    let mut order = vec![0u32; of_row.len()];
    for (r, &k) in of_row.iter().enumerate() {
        order[next[k as usize]] = r as u32;
        next[k as usize] += 1;
    }
    drop(of_row);
    let mut start = 0;
    for &end in &ends {
        let rows = &mut order[start..end];
        if !rows.is_sorted_by_key(|&r| day[r as usize]) {
            rows.sort_by_key(|&r| day[r as usize]);
        }
        start = end;
    }
    let creatives = keyed
        .into_iter()
        .map(|((platform, account_id, ad_id), _)| CreativeId {
            platform,
            account_id: account_id.to_string(),
            ad_id: ad_id.to_string(),
        })
        .collect();
    Ok((creatives, order, ends))
}

#[cfg(test)]
mod tests {
    use super::Read;
    use super::*;
    use crate::features::testutil::{day, row};
    use crate::schema::rows_to_frame;

    fn read(input: &DayInput) -> Read {
        input.read()
    }

    fn rows() -> Vec<AdDailyRow> {
        let mut b2 = row("a1", "b", 2, 200, 4, Some(2.0), None);
        b2.reach = Some(150);
        let mut other = row("a0", "z", 1, 5, 0, None, None);
        other.platform = Platform::GoogleAds;
        vec![
            row("a1", "b", 3, 300, 6, Some(3.0), Some(1.0)),
            b2,
            row("a1", "a", 1, 100, 2, Some(1.0), Some(0.5)),
            // A restated day: both rows kept, in input order (the engine keeps the last).
            row("a1", "b", 3, 310, 7, Some(3.5), Some(1.0)),
            other,
            row("a1", "a", 2, 120, 3, None, Some(0.0)),
        ]
    }

    #[test]
    fn rows_are_grouped_by_creative_in_key_order_then_by_day() {
        let d = |n| date_to_days(day(n));
        let got = read(&DayInput::from_rows(&rows()));
        let want: Read = vec![
            (
                "google_ads/a0/z".into(),
                vec![(d(1), 5, 0, None, None, None)],
            ),
            (
                "meta/a1/a".into(),
                vec![
                    (d(1), 100, 2, None, Some(1.0), Some(0.5)),
                    (d(2), 120, 3, None, None, Some(0.0)),
                ],
            ),
            (
                "meta/a1/b".into(),
                vec![
                    (d(2), 200, 4, Some(150), Some(2.0), None),
                    (d(3), 300, 6, None, Some(3.0), Some(1.0)),
                    (d(3), 310, 7, None, Some(3.5), Some(1.0)),
                ],
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn the_builder_reads_as_the_same_rows_grouped() {
        // The rows of `rows()`, pushed creative by creative out of key order and with one
        // creative's days out of order; a creative without days is left out.
        let mut per: Vec<(CreativeId, Vec<DayValues>)> = Vec::new();
        for r in rows().iter().rev() {
            let id = CreativeId {
                platform: r.platform,
                account_id: r.account_id.clone(),
                ad_id: r.ad_id.clone(),
            };
            let v = DayValues {
                day: date_to_days(r.date),
                impressions: r.impressions,
                clicks: r.clicks,
                reach: r.reach,
                spend: r.spend,
                conversions: r.conversions,
            };
            match per.iter_mut().find(|(i, _)| *i == id) {
                Some((_, days)) => days.insert(0, v),
                None => per.push((id, vec![v])),
            }
        }
        per.iter_mut()
            .find(|(i, _)| i.ad_id == "b")
            .expect("creative b")
            .1
            .swap(1, 2);
        let mut b = DayInputBuilder::with_capacity(per.len() + 1, 8);
        b.push(
            CreativeId {
                platform: Platform::Meta,
                account_id: "a1".into(),
                ad_id: "empty".into(),
            },
            [],
        );
        // The same creatives pushed into two builders, joined.
        let mut second = DayInputBuilder::with_capacity(2, 4);
        for (k, (id, days)) in per.into_iter().enumerate() {
            if k < 1 {
                b.push(id, days);
            } else {
                second.push(id, days);
            }
        }
        let b = DayInputBuilder::concat(vec![b, second]);
        assert_eq!(read(&b.finish()), read(&DayInput::from_rows(&rows())));
    }

    #[test]
    fn a_frame_reads_as_its_rows_whatever_its_chunks() {
        let rows = rows();
        let want = read(&DayInput::from_rows(&rows));
        let one = rows_to_frame("t", &rows).expect("frame");
        assert_eq!(read(&DayInput::from_frame(&one).expect("input")), want);
        // The same rows in three chunks, as a warehouse read returns them.
        let mut chunked = rows_to_frame("t", &rows[..2]).expect("frame");
        chunked
            .vstack_mut(&rows_to_frame("t", &rows[2..3]).expect("frame"))
            .expect("vstack");
        chunked
            .vstack_mut(&rows_to_frame("t", &rows[3..]).expect("frame"))
            .expect("vstack");
        assert!(chunked.first_col_n_chunks() > 1);
        assert_eq!(read(&DayInput::from_frame(&chunked).expect("input")), want);
    }

    #[test]
    fn absent_columns_and_null_counts_read_as_absent_and_zero() {
        let rows = rows();
        let df = rows_to_frame("t", &rows)
            .expect("frame")
            .select([
                ad::PLATFORM,
                ad::ACCOUNT_ID,
                ad::AD_ID,
                ad::DATE,
                ad::CLICKS,
            ])
            .expect("select");
        let n = df.height();
        let mut df = df;
        df.with_column(Column::full_null(
            ad::IMPRESSIONS.into(),
            n,
            &DataType::Int64,
        ))
        .expect("null impressions");
        let got = read(&DayInput::from_frame(&df).expect("input"));
        assert!(!got.is_empty());
        for (_, days) in &got {
            for &(_, imps, _, reach, spend, conv) in days {
                assert_eq!((imps, reach, spend, conv), (0, None, None, None));
            }
        }
    }

    #[test]
    fn bad_frames_name_the_column() {
        let df = rows_to_frame("t", &rows()).expect("frame");
        let mut odd = df.clone();
        odd.with_column(Column::new(
            ad::PLATFORM.into(),
            vec!["meta", "meta", "meta", "meta", "myspace", "meta"],
        ))
        .expect("platforms");
        let e = DayInput::from_frame(&odd)
            .expect_err("unknown platform")
            .to_string();
        assert!(e.contains("platform") && e.contains("row 4"), "{e}");
        let e = DayInput::from_frame(&df.drop(ad::CLICKS).expect("drop"))
            .expect_err("no clicks")
            .to_string();
        assert!(e.contains(ad::CLICKS), "{e}");
    }
}
