//! Large scoring bodies taken apart while they arrive. The creatives of a body's `creatives`
//! list are cut out of the bytes as they come in; every [`GROUP`] of them is parsed, checked
//! and turned into the engine's input on another core while the rest of the body is still
//! being received. What is left of the body (its top level, each creative replaced by `0`) is
//! parsed at the end.
//!
//! Only a valid, plain body is scored this way. Anything else — a syntax or validation error,
//! a creative named twice, `ad_ids` next to `creatives`, a top-level key written with escapes,
//! too few or too many creatives — is parsed again whole the usual way, so every answer and
//! every error is the one any other body gets.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

use super::plain_json;
use crate::api::error::ApiError;
use crate::api::extract::{body_error, parse_json};
use crate::api::routes::fatigue::{
    BATCHED_MAX_CREATIVES, BodyBatch, BodyLimits, CheckedRun, HistoryDay, Key, ScoreJson, join_runs,
};
use crate::api::{AppState, blocking};
use crate::features::input::{CreativeId, DayInputBuilder, DayValues};
use crate::platforms::Platform;
use crate::schema::{DateRange, date_to_days};

/// Creatives per group handed out for parsing and checking.
pub(crate) const GROUP: usize = 256;

/// The bytes where the scanner's state can change outside a string (with the backslash,
/// what [`marks`] finds).
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b':' as usize] = true;
    t
};

/// Bit k set when byte k of `bytes` (up to sixteen) is `"`, `\\`, a bracket or `:`.
fn marks(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= 16 {
        return marks_sse2(bytes);
    }
    marks_scalar(bytes)
}

fn marks_scalar(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(16)
        .enumerate()
        .filter(|(_, b)| SPECIAL[**b as usize] || **b == b'\\')
        .fold(0, |m, (k, _)| m | 1 << k)
}

/// [`marks_scalar`] of the first sixteen bytes with SSE2 (part of every x86-64).
#[cfg(target_arch = "x86_64")]
fn marks_sse2(bytes: &[u8]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    assert!(bytes.len() >= 16);
    // SAFETY: SSE2 is part of the x86-64 baseline, and the assert keeps the unaligned
    // 16-byte load inside `bytes`.
    unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
        let is = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        // `[` and `{`, `]` and `}` differ only in bit 5.
        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
        let open = _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8));
        let close = _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8));
        let m = _mm_or_si128(
            _mm_or_si128(open, close),
            _mm_or_si128(_mm_or_si128(is(b'"'), is(b'\\')), is(b':')),
        );
        _mm_movemask_epi8(m) as u32 & 0xFFFF
    }
}

/// Whole creatives cut out of a body, each its own bytes (a slice of the frame that brought
/// it, or a copy for one that spans frames).
pub(crate) struct Group {
    creatives: Vec<Bytes>,
}

impl Group {
    /// [`Group::check`] with a panic turned into `None`, so the body is parsed again whole
    /// and a bug in the fast path costs time, never the process (a panic on a rayon task
    /// would abort it).
    fn check_caught(&self, dates: &DateRange) -> Option<CheckedRun> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.check(dates))).unwrap_or_else(
            |_| {
                tracing::error!("checking a group of a scoring body panicked; parsed again whole");
                None
            },
        )
    }
}

impl Group {
    /// Reads and checks the group's creatives straight into the engine's input: none when
    /// one of them is not valid as is (the whole body is then parsed and checked again for
    /// the answer's errors).
    fn check(&self, dates: &DateRange) -> Option<CheckedRun> {
        #[cfg(test)]
        if self
            .creatives
            .iter()
            .any(|c| c.windows(12).any(|w| w == b"panic-in-che"))
        {
            panic!("a panic injected by a test");
        }
        let mut g = GroupInput {
            dates_ok: *dates,
            input: DayInputBuilder::with_capacity(
                self.creatives.len(),
                self.creatives.iter().map(Bytes::len).sum::<usize>() / 64,
            ),
            wanted: Vec::with_capacity(self.creatives.len()),
            earliest: None,
            latest: None,
            dates: Vec::new(),
        };
        let mut days = Vec::new();
        for bytes in &self.creatives {
            // Written the plain way: read directly; else the general parse.
            if let Some(c) = plain_json::creative(bytes, &mut days) {
                g.begin();
                if !days.iter().all(|d| g.day(d)) {
                    return None;
                }
                g.end(c.platform, c.account_id.to_string(), c.ad_id.to_string())?;
                continue;
            }
            let mut de = serde_json::Deserializer::from_slice(bytes);
            CreativeSeed(&mut g).deserialize(&mut de).ok()?;
            de.end().ok()?;
        }
        Some(CheckedRun {
            errors: Vec::new(),
            failed: false,
            earliest: g.earliest,
            latest: g.latest,
            input: g.input,
            wanted: g.wanted,
        })
    }
}

/// A group's creatives as they are read: the engine's input, their keys and the latest day.
/// Nothing is kept of a creative once read (a plain one's days wait in one reused vector
/// until its checks).
struct GroupInput {
    /// The dates a day may carry.
    dates_ok: DateRange,
    input: DayInputBuilder,
    wanted: Vec<Key>,
    earliest: Option<NaiveDate>,
    latest: Option<NaiveDate>,
    /// The dates of the creative being read (a repeated one fails it).
    dates: Vec<NaiveDate>,
}

impl GroupInput {
    /// Starts reading a creative.
    fn begin(&mut self) {
        self.dates.clear();
    }

    /// One day of the creative being read, with the checks of
    /// [`super::fatigue::check_run`]: false when it fails one.
    fn day(&mut self, d: &HistoryDay) -> bool {
        let bad = |v: Option<f64>| v.is_some_and(|v| !v.is_finite() || v < 0.0);
        if d.impressions < 0
            || d.clicks < 0
            || bad(Some(d.spend))
            || d.reach.is_some_and(|r| r < 0)
            || bad(d.conversions)
            || bad(d.conversion_value)
            || !self.dates_ok.contains(d.date)
        {
            return false;
        }
        self.latest = self.latest.max(Some(d.date));
        self.earliest = Some(self.earliest.map_or(d.date, |e| e.min(d.date)));
        self.dates.push(d.date);
        self.input.push_day(DayValues {
            day: date_to_days(d.date),
            impressions: d.impressions,
            clicks: d.clicks,
            reach: d.reach,
            spend: Some(d.spend),
            conversions: d.conversions,
        });
        true
    }

    /// Ends the creative read (its days given): none when its identifiers or days fail the
    /// checks.
    fn end(&mut self, platform: &str, account: String, ad: String) -> Option<()> {
        let platform = Platform::from_name(platform).ok()?;
        if account.trim().is_empty() || ad.trim().is_empty() || self.dates.is_empty() {
            return None;
        }
        if !self.dates.is_sorted() {
            self.dates.sort_unstable();
        }
        if self.dates.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        self.input.end_creative(CreativeId {
            platform,
            account_id: account.clone(),
            ad_id: ad.clone(),
        });
        self.wanted
            .push((platform.as_str().to_string(), account, ad));
        Some(())
    }
}

/// Reads one creative into a [`GroupInput`]: the fields of
/// [`super::fatigue::CreativeHistory`] in any order, nothing else, each day a [`HistoryDay`],
/// with the checks of [`super::fatigue::check_run`]. It fails on
/// anything the usual parse and check would not take as is (that body is then parsed and
/// checked the usual way, for its errors).
struct CreativeSeed<'g>(&'g mut GroupInput);

/// The keys of a creative.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum CreativeField {
    Platform,
    AccountId,
    AdId,
    History,
}

impl<'de> DeserializeSeed<'de> for CreativeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        const FIELDS: &[&str] = &["platform", "account_id", "ad_id", "history"];
        d.deserialize_struct("CreativeHistory", FIELDS, self)
    }
}

impl<'de> Visitor<'de> for CreativeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a creative with its history")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let g = self.0;
        let refused = || A::Error::custom("left to the usual parse and check");
        let (mut platform, mut account, mut ad, mut history) = (None, None, None, false);
        g.begin();
        while let Some(key) = map.next_key::<CreativeField>()? {
            match key {
                CreativeField::Platform if platform.is_none() => {
                    platform = Some(map.next_value::<String>()?);
                }
                CreativeField::AccountId if account.is_none() => {
                    account = Some(map.next_value::<String>()?);
                }
                CreativeField::AdId if ad.is_none() => ad = Some(map.next_value::<String>()?),
                CreativeField::History if !history => {
                    map.next_value_seed(HistorySeed(&mut *g))?;
                    history = true;
                }
                _ => return Err(refused()),
            }
        }
        let (Some(platform), Some(account), Some(ad), true) = (platform, account, ad, history)
        else {
            return Err(refused());
        };
        g.end(&platform, account, ad).ok_or_else(refused)
    }
}

/// Reads a creative's history, day by day, into the group's input.
struct HistorySeed<'g>(&'g mut GroupInput);

impl<'de> DeserializeSeed<'de> for HistorySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for HistorySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of days")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let g = self.0;
        while let Some(d) = seq.next_element::<HistoryDay>()? {
            if !g.day(&d) {
                return Err(A::Error::custom("left to the usual parse and check"));
            }
        }
        Ok(())
    }
}

/// Follows a JSON body as it arrives (strings, nesting, the key of each top-level member) and
/// cuts out the objects of the top-level `creatives` list. Each frame is scanned where it
/// arrived: a creative inside one frame is handed out as a slice of it, and only what spans
/// frames (a creative cut by a frame's end, the bytes between creatives) is copied.
///
/// Positions are offsets in the whole body.
pub(crate) struct Splitter {
    /// The frame being scanned and its offset.
    cur: Bytes,
    cur_at: usize,
    /// The bytes of earlier frames still needed (from `carry_at` to `cur_at`): the creative
    /// being scanned, or what is not yet in the skeleton.
    carry: Vec<u8>,
    carry_at: usize,
    /// Scanned up to here (one past the last frame's end after a trailing backslash).
    at: usize,
    depth: usize,
    in_str: bool,
    /// Where the open string's text starts.
    str_start: usize,
    /// The last string closed at depth 1 reads `creatives`.
    last_str_creatives: bool,
    /// The current top-level member's key reads `creatives`.
    key_creatives: bool,
    /// Inside the top-level `creatives` list.
    in_list: bool,
    lists: usize,
    /// Start of the creative being scanned.
    open: Option<usize>,
    /// Creatives complete, not yet handed out.
    pieces: Vec<Bytes>,
    /// The body without its creatives (each replaced by `0`).
    skeleton: Vec<u8>,
    /// The body before this is in the skeleton or a creative.
    copied: usize,
    /// Brackets closed that were never opened.
    broken: bool,
    /// Creatives handed out so far.
    handed: usize,
    /// Every frame, in order (the body is parsed whole from them when needed).
    parts: Vec<Bytes>,
}

impl Splitter {
    /// A splitter at the start of a body.
    pub(crate) fn new() -> Splitter {
        Splitter {
            cur: Bytes::new(),
            cur_at: 0,
            carry: Vec::new(),
            carry_at: 0,
            at: 0,
            depth: 0,
            in_str: false,
            str_start: 0,
            last_str_creatives: false,
            key_creatives: false,
            in_list: false,
            lists: 0,
            open: None,
            pieces: Vec::new(),
            skeleton: Vec::new(),
            copied: 0,
            broken: false,
            handed: 0,
            parts: Vec::new(),
        }
    }

    /// Takes the next frame of the body; returns the groups of creatives now complete.
    pub(crate) fn push(&mut self, data: Bytes) -> Vec<Group> {
        if data.is_empty() {
            return Vec::new();
        }
        // What the last frame holds that is still needed joins the carry.
        let prev = std::mem::replace(&mut self.cur, data);
        let prev_at = self.cur_at;
        let end = prev_at + prev.len();
        let keep = self.copied.min(self.open.unwrap_or(usize::MAX));
        if keep >= prev_at {
            let from = keep.min(end);
            self.carry.clear();
            self.carry.extend_from_slice(&prev[from - prev_at..]);
            self.carry_at = from;
        } else {
            // The carry's front is dropped only when that is at least half of it (the rest
            // moves), so a long creative over many frames is not moved again and again.
            let drop = keep - self.carry_at;
            if drop * 2 >= self.carry.len() {
                self.carry.drain(..drop);
                self.carry_at = keep;
            }
            self.carry.extend_from_slice(&prev);
        }
        self.cur_at = end;
        self.parts.push(self.cur.clone());
        self.scan();
        let mut out = Vec::new();
        while self.pieces.len() >= GROUP {
            let rest = self.pieces.split_off(GROUP);
            out.push(self.hand_out(rest));
        }
        out
    }

    /// Appends the body's bytes `a..b` (still in the carry or the frame) to `out`.
    fn copy_range(&self, a: usize, b: usize, out: &mut Vec<u8>) {
        if a >= b {
            return;
        }
        if a < self.cur_at {
            let lo = a - self.carry_at;
            let hi = b.min(self.cur_at) - self.carry_at;
            out.extend_from_slice(&self.carry[lo..hi]);
        }
        if b > self.cur_at {
            out.extend_from_slice(&self.cur[a.max(self.cur_at) - self.cur_at..b - self.cur_at]);
        }
    }

    /// The creative `a..b`: a slice of the frame, or a copy when it began in an earlier one.
    fn creative_bytes(&self, a: usize, b: usize) -> Bytes {
        if a >= self.cur_at {
            return self.cur.slice(a - self.cur_at..b - self.cur_at);
        }
        let mut v = Vec::with_capacity(b - a);
        self.copy_range(a, b, &mut v);
        Bytes::from(v)
    }

    /// Scans the frame. Only the marked bytes (quotes, backslashes, brackets, colons: about
    /// one in four) are visited, found sixteen at a time; the state lives in locals meanwhile.
    fn scan(&mut self) {
        if self.broken {
            return;
        }
        let cur = self.cur.clone();
        let buf = &cur[..];
        let off = self.cur_at;
        let n = buf.len();
        // Relative to the frame from here on.
        let mut i = self.at.saturating_sub(off);
        let mut depth = self.depth;
        let mut in_str = self.in_str;
        // The marked bytes of buf[base..base + 16] not yet visited, as bits.
        let mut base = i;
        let mut mask = if i < n { marks(&buf[i..]) } else { 0 };
        'bytes: loop {
            while mask == 0 {
                base += 16;
                if base >= n {
                    break 'bytes;
                }
                mask = marks(&buf[base..]);
            }
            let j = base + mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if j < i {
                // The byte after a backslash.
                continue;
            }
            let b = buf[j];
            i = j + 1;
            if in_str {
                match b {
                    b'\\' => i = j + 2,
                    b'"' => {
                        in_str = false;
                        if depth == 1 {
                            // (It may have begun in an earlier frame.)
                            let mut key = Vec::new();
                            self.copy_range(self.str_start, off + j, &mut key);
                            self.last_str_creatives = key == b"creatives";
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => {
                    in_str = true;
                    self.str_start = off + i;
                }
                b':' if depth == 1 => self.key_creatives = self.last_str_creatives,
                b'[' if depth == 1 && self.key_creatives => {
                    self.in_list = true;
                    self.lists += 1;
                    depth += 1;
                }
                b'{' if depth == 2 && self.in_list => {
                    let mut skeleton = std::mem::take(&mut self.skeleton);
                    self.copy_range(self.copied, off + j, &mut skeleton);
                    skeleton.push(b'0');
                    self.skeleton = skeleton;
                    self.copied = off + j;
                    self.open = Some(off + j);
                    depth += 1;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        self.broken = true;
                        break;
                    }
                    depth -= 1;
                    if depth == 2 && self.in_list {
                        if let Some(start) = self.open.take() {
                            let piece = self.creative_bytes(start, off + i);
                            self.pieces.push(piece);
                            self.copied = off + i;
                        }
                    } else if depth == 1 && self.in_list {
                        self.in_list = false;
                    }
                }
                // A backslash outside a string (invalid JSON: the parse will say so).
                _ => {}
            }
        }
        // All of the frame seen (one past it after a trailing backslash), or stopped at a
        // stray bracket.
        self.at = off + if mask == 0 && base >= n { i.max(n) } else { i };
        self.depth = depth;
        self.in_str = in_str;
    }

    /// Hands out the complete creatives, keeping `rest` for the next group.
    fn hand_out(&mut self, rest: Vec<Bytes>) -> Group {
        let creatives = std::mem::replace(&mut self.pieces, rest);
        self.handed += creatives.len();
        Group { creatives }
    }

    /// The body has ended: its last group, if creatives remain, and what is left to decide.
    pub(crate) fn finish(mut self) -> (Option<Group>, Ended) {
        let last = (!self.pieces.is_empty()).then(|| self.hand_out(Vec::new()));
        // A creative still open, or a string, means a body cut short: parsed whole for the error.
        let plain = !self.broken && self.open.is_none() && !self.in_str && self.lists == 1;
        let end = self.cur_at + self.cur.len();
        let mut skeleton = std::mem::take(&mut self.skeleton);
        self.copy_range(self.copied, end, &mut skeleton);
        (
            last,
            Ended {
                plain,
                skeleton,
                creatives: self.handed,
                parts: self.parts,
            },
        )
    }
}

/// A body split to its end.
pub(crate) struct Ended {
    /// One `creatives` list was found and every bracket closed.
    plain: bool,
    skeleton: Vec<u8>,
    creatives: usize,
    parts: Vec<Bytes>,
}

/// The top level of a body whose creatives were each replaced by `0`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Skeleton {
    #[serde(default)]
    as_of: Option<NaiveDate>,
    #[serde(default)]
    ad_ids: Option<Vec<String>>,
    #[serde(default)]
    creatives: Option<Vec<u8>>,
}

impl Ended {
    /// The request: its checked histories when the body is valid and plain (`runs`: the
    /// groups' checks, in order), else the body parsed whole the usual way.
    pub(crate) fn resolve(
        self,
        runs: Vec<Option<CheckedRun>>,
        lim: BodyLimits,
    ) -> Result<ScoreJson, ApiError> {
        if let Some(batch) = self.batch(runs, lim) {
            return Ok(ScoreJson::Histories(Box::new(batch)));
        }
        let whole: Vec<u8> = self.parts.concat();
        parse_json(&whole).map(ScoreJson::Request)
    }

    fn batch(&self, runs: Vec<Option<CheckedRun>>, lim: BodyLimits) -> Option<BodyBatch> {
        if !self.plain
            || self.creatives <= BATCHED_MAX_CREATIVES
            || self.creatives > lim.max_creatives
        {
            return None;
        }
        let top: Skeleton = serde_json::from_slice(&self.skeleton).ok()?;
        // Every element of the list was a creative cut out (anything else is left in place).
        if top.ad_ids.is_some() || top.creatives.map(|c| c.len()) != Some(self.creatives) {
            return None;
        }
        let all = join_runs(runs.into_iter().collect::<Option<Vec<_>>>()?)?;
        if all.failed {
            return None;
        }
        // A creative named twice (the check of each group cannot see the others).
        if !distinct(&all.wanted) {
            return None;
        }
        // Dates past the limits: the usual parse names the field.
        if lim.check_as_of(top.as_of).is_err()
            || lim.check_span(all.earliest, all.latest, top.as_of).is_err()
        {
            return None;
        }
        let as_of = top.as_of.or(all.latest)?;
        let input = match top.as_of {
            Some(day) => all.input.keep_until(date_to_days(day)),
            None => all.input,
        };
        Some(BodyBatch {
            input: input.finish(),
            wanted: all.wanted,
            as_of,
        })
    }
}

/// Whether no creative is named twice.
fn distinct(keys: &[Key]) -> bool {
    let mut seen =
        polars::prelude::PlHashSet::with_capacity_and_hasher(keys.len(), Default::default());
    keys.iter()
        .all(|(p, a, d)| seen.insert((p.as_str(), a.as_str(), d.as_str())))
}

/// Reads a large scoring body, cutting its creatives out as they arrive and checking them on
/// the other cores meanwhile.
pub(crate) async fn read(req: Request, st: &Arc<AppState>) -> Result<ScoreJson, ApiError> {
    use axum::RequestExt;
    use http_body_util::BodyExt;
    let mut body = req.into_limited_body();
    let mut split = Splitter::new();
    let mut checks = Vec::new();
    let lim = BodyLimits::of(&st.cfg);
    let spawn = |g| spawn_check(g, lim.dates);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(body_error)?.into_data() {
            checks.extend(split.push(data).into_iter().map(spawn));
        }
    }
    let (last, ended) = split.finish();
    checks.extend(last.map(spawn));
    let mut runs = Vec::with_capacity(checks.len());
    for c in checks {
        runs.push(
            c.await
                .map_err(|_| ApiError::internal("a creatives check ended without an answer"))?,
        );
    }
    blocking(move || ended.resolve(runs, lim)).await
}

/// Checks a group on the compute pool; the answer comes back through the channel.
fn spawn_check(g: Group, dates: DateRange) -> tokio::sync::oneshot::Receiver<Option<CheckedRun>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(g.check_caught(&dates));
    });
    rx
}

/// [`read`] for a body already received whole (sent without a declared length).
pub(crate) fn split_whole(bytes: Bytes, lim: BodyLimits) -> Result<ScoreJson, ApiError> {
    split_chunks(std::iter::once(bytes), lim)
}

/// The body given in pieces, split and checked (the groups on all cores).
pub(crate) fn split_chunks(
    chunks: impl IntoIterator<Item = Bytes>,
    lim: BodyLimits,
) -> Result<ScoreJson, ApiError> {
    use rayon::prelude::*;
    let mut split = Splitter::new();
    let mut groups = Vec::new();
    for c in chunks {
        groups.extend(split.push(c));
    }
    let (last, ended) = split.finish();
    groups.extend(last);
    let runs = groups
        .par_iter()
        .map(|g| g.check_caught(&lim.dates))
        .collect();
    ended.resolve(runs, lim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes::fatigue::{ScoreRequest, check_creatives};
    use crate::features::input::Read;

    /// What the body comes to: checked histories, or the request parsed whole, or the error.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Histories(Read, Vec<Key>, NaiveDate),
        Request(String),
        Error(String),
    }

    fn outcome(r: Result<ScoreJson, ApiError>) -> Outcome {
        match r {
            Ok(ScoreJson::Histories(b)) => Outcome::Histories(b.input.read(), b.wanted, b.as_of),
            Ok(ScoreJson::Request(req)) => Outcome::Request(format!("{req:?}")),
            Err(e) => Outcome::Error(serde_json::to_string(&e.problem()).unwrap()),
        }
    }

    fn limits(max: usize) -> BodyLimits {
        BodyLimits {
            max_creatives: max,
            ..BodyLimits::default()
        }
    }

    /// The usual path: the body parsed whole, then (valid histories only) checked as the
    /// handler checks them.
    fn usual(body: &str, max: usize) -> (Outcome, Option<Outcome>) {
        let parsed = parse_json::<ScoreRequest>(body.as_bytes());
        let checked = match &parsed {
            Ok(ScoreRequest {
                ad_ids: None,
                creatives: Some(c),
                as_of,
            }) => check_creatives(c, limits(max), *as_of)
                .ok()
                .map(|b| Outcome::Histories(b.input.read(), b.wanted, b.as_of)),
            _ => None,
        };
        (outcome(parsed.map(ScoreJson::Request)), checked)
    }

    /// Splits `body` in pieces of each size: a valid body of histories (`fast`) comes out
    /// checked, equal to the usual path's check; any other comes out as the usual path parses
    /// it (the request or the error).
    fn check(body: &str, max: usize, fast: bool) {
        let (parsed, checked) = usual(body, max);
        for size in [1, 7, 4096, body.len().max(1)] {
            let chunks = body.as_bytes().chunks(size).map(Bytes::copy_from_slice);
            let got = outcome(split_chunks(chunks, limits(max)));
            if fast {
                assert!(
                    matches!(got, Outcome::Histories(..)),
                    "size {size}: {got:?}"
                );
                assert_eq!(Some(&got), checked.as_ref(), "size {size}");
            } else {
                assert_eq!(got, parsed, "size {size}");
            }
        }
    }

    /// A creative as clients write it, in one of three spellings: escapes and brackets in
    /// its ids, keys in any order, optional fields given, null or left out, whitespace
    /// between tokens, days out of order.
    fn creative(i: usize) -> String {
        let day = |d: usize| {
            format!(
                r#"{{"clicks": 3, "date": "2026-03-0{d}", "impressions": {}, "spend": 1.5,
                    "reach": {}, "conversions": null}}"#,
                90 + i,
                if i.is_multiple_of(2) { "40" } else { "null" }
            )
        };
        match i % 3 {
            0 => format!(
                r#"{{"history": [{}], "ad_id": "ad \"{i}\" {{\"platform\":[", "platform": "meta", "account_id": "é{i}"}}"#,
                day(1 + i % 9)
            ),
            1 => format!(
                r#"{{ "platform" : "tiktok" , "account_id":"a", "ad_id":"x{i}",
                    "history":[ {}, {} ] }}"#,
                day(1 + i % 8),
                day(2 + i % 8)
            ),
            _ => format!(
                r#"{{"platform":"snap","account_id":"b]","ad_id":"y\\{i}","history":[{},{}]}}"#,
                day(9),
                day(1 + i % 5)
            ),
        }
    }

    fn list(n: usize) -> Vec<String> {
        (0..n).map(creative).collect()
    }

    /// The marks found sixteen bytes at a time are those found byte by byte, for every byte
    /// value at every position.
    #[test]
    fn marks_of_a_block_are_those_of_its_bytes() {
        for v in 0..=255u8 {
            for k in 0..16 {
                let mut block = [b'a'; 16];
                block[k] = v;
                let want = if SPECIAL[v as usize] || v == b'\\' {
                    1 << k
                } else {
                    0
                };
                assert_eq!(marks(&block), want, "byte {v} at {k}");
                assert_eq!(marks_scalar(&block), want, "byte {v} at {k}");
            }
        }
        assert_eq!(marks(b"{\"a\\\":[1]}"), 0b11_0111_1011);
    }

    #[test]
    fn valid_bodies_split_as_they_arrive_equal_the_usual_check() {
        let c = list(1100).join(",\n ");
        // The day to score at after the list, cutting later days (some creatives have none
        // left), before it, and left to the data.
        check(
            &format!(r#"{{"creatives": [{c}], "as_of": "2026-03-05"}}"#),
            10_000,
            true,
        );
        check(
            &format!(r#" {{ "as_of":"2026-03-02" , "creatives":[{c}] }} "#),
            10_000,
            true,
        );
        check(
            &format!(r#"{{"ad_ids": null, "creatives": [{c}]}}"#),
            10_000,
            true,
        );
        // Platform aliases, optional fields given or left out.
        let mut v = list(700);
        v[5] = v[5].replacen("\"tiktok\"", "\"TikTok Ads\"", 1);
        v[6] = v[6].replacen("\"meta\"", "\"facebook\"", 1);
        v[8] = v[8].replacen("\"conversions\": null", "\"conversion_value\": 2.5", 1);
        v[9] = v[9].replacen("\"reach\": null,", "", 1);
        check(
            &format!(r#"{{"creatives": [{}]}}"#, v.join(",")),
            10_000,
            true,
        );
        // Exactly one group, and one creative past it.
        check(
            &format!(r#"{{"creatives": [{}]}}"#, list(GROUP).join(",")),
            10_000,
            true,
        );
        check(
            &format!(r#"{{"creatives":[{}]}}"#, list(GROUP + 1).join(",")),
            10_000,
            true,
        );
    }

    #[test]
    fn other_bodies_are_parsed_whole_with_the_usual_answer() {
        let c = list(600);
        let body = |items: &[String]| format!(r#"{{"creatives": [{}]}}"#, items.join(","));
        let with = |k: usize, from: &str, to: &str| {
            let mut v = c.clone();
            assert!(v[k].contains(from), "{}", v[k]);
            v[k] = v[k].replacen(from, to, 1);
            body(&v)
        };
        // Syntax and shape errors (400 or 422 with the field path).
        check(
            &with(550, "\"spend\": 1.5", "\"spend\": \"lots\""),
            10_000,
            false,
        );
        check(&with(7, "\"clicks\"", "\"klicks\""), 10_000, false);
        // The list inside a top level that is wrong around it: an unknown key, the list
        // twice, an element not a creative (after or before), cut short, a brace too many,
        // never closed.
        let list = c.join(",");
        for (before, after) in [
            (r#"{"creatives": ["#, r#"], "extra": 1}"#),
            (r#"{"creatives": ["#, r#"], "creatives": []}"#),
            (r#"{"creatives": ["#, ", 5]}"),
            (r#"{"creatives": [5, "#, "]}"),
            (r#"{"creatives": ["#, "]"),
            (r#"{"creatives": ["#, "]}}"),
            (r#"{"creatives": ["#, "] "),
        ] {
            check(&format!("{before}{list}{after}"), 10_000, false);
        }
        // Valid JSON the handler answers: a failed check, a creative named twice in
        // different groups, ad ids next to creatives, a key spelled with an escape, more
        // creatives than allowed, too few to split.
        check(
            &with(590, "\"spend\": 1.5", "\"spend\": -1.5"),
            10_000,
            false,
        );
        check(&with(598, "\"x598\"", "\"x4\""), 10_000, false);
        check(
            &format!(r#"{{"ad_ids": ["a"], "creatives": [{}]}}"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"\u0063reatives": [{}]}}"#, c.join(",")),
            10_000,
            false,
        );
        check(&body(&c), 599, false);
        check(&body(&c[..BATCHED_MAX_CREATIVES]), 10_000, false);
        // What the check refuses: each kind, so no creative the usual check refuses is read
        // straight into the input.
        check(&with(301, "\"tiktok\"", "\"myspace\""), 10_000, false);
        check(&with(304, "\"x304\"", "\"  \""), 10_000, false);
        check(
            &with(307, "\"account_id\":\"a\"", "\"account_id\":\"\""),
            10_000,
            false,
        );
        check(&with(316, "2026-03-06", "2026-03-05"), 10_000, false);
        check(&with(302, "2026-03-03", "2026-03-09"), 10_000, false);
        check(&with(100, "\"clicks\": 3", "\"clicks\": -3"), 10_000, false);
        check(
            &with(100, "\"impressions\": 190", "\"impressions\": -1"),
            10_000,
            false,
        );
        check(&with(102, "\"reach\": 40", "\"reach\": -40"), 10_000, false);
        let value = "\"conversions\": null, \"conversion_value\": -1";
        check(&with(103, "\"conversions\": null", value), 10_000, false);
        check(
            &with(103, "\"conversions\": null", "\"conversions\": -2"),
            10_000,
            false,
        );
        let mut empty = c.clone();
        empty[200] = r#"{"platform":"meta","account_id":"a","ad_id":"e","history":[]}"#.into();
        check(&body(&empty), 10_000, false);
        // And what the parse refuses: a key twice, an unknown or missing one, a bad date.
        let twice = "\"account_id\":\"a\", \"platform\": \"meta\"";
        check(&with(307, "\"account_id\":\"a\"", twice), 10_000, false);
        check(
            &with(310, "\"history\":[", "\"histories\":["),
            10_000,
            false,
        );
        check(&with(313, "\"ad_id\":\"x313\",", ""), 10_000, false);
        check(&with(106, "2026-03-0", "2026-02-3"), 10_000, false);
        check(r#"{"ad_ids": ["a", "b"]}"#, 10_000, false);
        check(r#"{"creatives": null}"#, 10_000, false);
        check("", 10_000, false);
    }

    /// Generator fuzzing of the splitter and the plain reader against `serde_json`: valid
    /// bodies mutated at random (bytes flipped, inserted, deleted, spans moved, tokens spliced
    /// in) and cut into random pieces must come out exactly as the usual path answers them —
    /// the checked histories, the request parsed whole, or the same error. A short run here;
    /// `OMNIFY_FUZZ_SECONDS=600` runs this long instead.
    #[test]
    fn mutated_bodies_split_as_serde_json_reads_them() {
        use rand::{Rng, SeedableRng};
        let (cases, time) = match std::env::var("OMNIFY_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(s) => (usize::MAX, Some(std::time::Duration::from_secs(s))),
            None => (150, None),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5B1);
        let seeds = [
            format!(r#"{{"creatives": [{}]}}"#, list(40).join(",")),
            format!(
                r#"{{"as_of": "2026-03-04", "creatives":[{}]}}"#,
                list(20).join(",\n")
            ),
        ];
        let t0 = std::time::Instant::now();
        let mut n = 0usize;
        while n < cases && time.is_none_or(|t| t0.elapsed() < t) {
            let raw = crate::platforms::fuzz_mutate(&mut rng, seeds[n % 2].as_bytes());
            let body = String::from_utf8_lossy(&raw).into_owned();
            let (parsed, checked) = usual(&body, 10_000);
            let size = rng.gen_range(1..=body.len().max(1));
            let chunks = body.as_bytes().chunks(size).map(Bytes::copy_from_slice);
            let got = outcome(split_chunks(chunks, limits(10_000)));
            match &got {
                Outcome::Histories(..) => {
                    assert_eq!(Some(&got), checked.as_ref(), "case {n}: {body}")
                }
                _ => assert_eq!(got, parsed, "case {n}: {body}"),
            }
            // The plain reader of one creative: when it reads one, serde_json reads the same.
            let one = list(3)[n % 3].clone();
            let raw = crate::platforms::fuzz_mutate(&mut rng, one.as_bytes());
            let mut days = Vec::new();
            if let Some(c) = plain_json::creative(&raw, &mut days) {
                let general: crate::api::routes::fatigue::CreativeHistory =
                    serde_json::from_slice(&raw).unwrap_or_else(|e| {
                        panic!("case {n}: read plainly, refused by serde_json ({e}): {one}")
                    });
                assert_eq!(c.platform, general.platform, "case {n}");
                assert_eq!(c.account_id, general.account_id, "case {n}");
                assert_eq!(c.ad_id, general.ad_id, "case {n}");
                assert_eq!(days.len(), general.history.len(), "case {n}");
                for (a, b) in days.iter().zip(&general.history) {
                    assert_eq!(
                        (a.date, a.impressions, a.clicks, a.spend.to_bits(), a.reach),
                        (b.date, b.impressions, b.clicks, b.spend.to_bits(), b.reach),
                        "case {n}"
                    );
                }
            }
            n += 1;
        }
        if time.is_some() {
            eprintln!("bodies: {n} cases in {:.0?}, 0 disagreements", t0.elapsed());
        }
    }
}
