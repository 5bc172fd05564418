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

use std::ops::Range;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use bytes::BytesMut;
use chrono::NaiveDate;
use serde::Deserialize;

use super::fatigue::{
    BATCHED_MAX_CREATIVES, BodyBatch, CheckedRun, CreativeHistory, Key, ScoreJson, check_run,
    join_runs,
};
use crate::api::error::ApiError;
use crate::api::extract::{body_error, parse_json};
use crate::api::{AppState, blocking};
use crate::schema::date_to_days;

/// Creatives per group handed out for parsing and checking.
pub(crate) const GROUP: usize = 512;

/// The bytes where the scanner's state can change outside a string.
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

/// Whole creatives cut out of a body: the bytes that hold them, each one's range in those
/// bytes, and the request index of the first.
pub(crate) struct Group {
    bytes: Bytes,
    ranges: Vec<Range<usize>>,
    first: usize,
}

impl Group {
    /// Parses and checks the group's creatives: none when one of them is not valid (the
    /// whole body is then parsed and checked again for the answer's errors).
    fn check(&self) -> Option<CheckedRun> {
        let list: Vec<CreativeHistory> = self
            .ranges
            .iter()
            .map(|r| serde_json::from_slice(&self.bytes[r.clone()]).ok())
            .collect::<Option<_>>()?;
        let run = check_run(&list, self.first, &[], None);
        (!run.failed).then_some(run)
    }
}

/// Follows a JSON body byte by byte (strings, nesting, the key of each top-level member) and
/// cuts out the objects of the top-level `creatives` list.
pub(crate) struct Splitter {
    /// Received bytes not yet handed out.
    buf: BytesMut,
    /// Scanned up to here in `buf` (one past its end after a trailing backslash).
    at: usize,
    depth: usize,
    in_str: bool,
    /// Where the open string's text starts in `buf`.
    str_start: usize,
    /// The last string closed at depth 1 reads `creatives`.
    last_str_creatives: bool,
    /// The current top-level member's key reads `creatives`.
    key_creatives: bool,
    /// Inside the top-level `creatives` list.
    in_list: bool,
    lists: usize,
    /// Start in `buf` of the creative being scanned.
    open: Option<usize>,
    /// Creatives complete in `buf`, not yet handed out.
    pieces: Vec<Range<usize>>,
    /// The body without its creatives (each replaced by `0`).
    skeleton: Vec<u8>,
    /// `buf` before this is in the skeleton or a creative.
    copied: usize,
    /// Brackets closed that were never opened.
    broken: bool,
    /// Creatives handed out so far.
    handed: usize,
    /// Every byte handed out, in order (the body is parsed whole from them when needed).
    parts: Vec<Bytes>,
}

impl Splitter {
    /// A splitter for a body of about `len` bytes.
    pub(crate) fn with_capacity(len: usize) -> Splitter {
        Splitter {
            buf: BytesMut::with_capacity(len),
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

    /// Takes the next bytes of the body; returns the groups of creatives now complete.
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<Group> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            self.scan();
            if self.pieces.len() < GROUP {
                return out;
            }
            out.push(self.hand_out());
        }
    }

    /// Scans `buf` until its end or until a group of creatives is complete.
    fn scan(&mut self) {
        let buf = &self.buf[..];
        let n = buf.len();
        let mut i = self.at;
        while i < n && !self.broken && self.pieces.len() < GROUP {
            if self.in_str {
                while i < n && buf[i] != b'"' && buf[i] != b'\\' {
                    i += 1;
                }
                if i >= n {
                    break;
                }
                if buf[i] == b'\\' {
                    i += 2;
                    continue;
                }
                self.in_str = false;
                if self.depth == 1 {
                    self.last_str_creatives = &buf[self.str_start..i] == b"creatives";
                }
                i += 1;
                continue;
            }
            while i < n && !SPECIAL[buf[i] as usize] {
                i += 1;
            }
            if i >= n {
                break;
            }
            match buf[i] {
                b'"' => {
                    self.in_str = true;
                    self.str_start = i + 1;
                }
                b':' if self.depth == 1 => self.key_creatives = self.last_str_creatives,
                b'[' if self.depth == 1 && self.key_creatives => {
                    self.in_list = true;
                    self.lists += 1;
                    self.depth += 1;
                }
                b'{' if self.depth == 2 && self.in_list => {
                    self.skeleton.extend_from_slice(&buf[self.copied..i]);
                    self.skeleton.push(b'0');
                    self.copied = i;
                    self.open = Some(i);
                    self.depth += 1;
                }
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    if self.depth == 0 {
                        self.broken = true;
                        break;
                    }
                    self.depth -= 1;
                    if self.depth == 2 && self.in_list {
                        if let Some(start) = self.open.take() {
                            self.pieces.push(start..i + 1);
                            self.copied = i + 1;
                        }
                    } else if self.depth == 1 && self.in_list {
                        self.in_list = false;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.at = i;
    }

    /// Hands out the complete creatives in `buf` (and the bytes before them).
    fn hand_out(&mut self) -> Group {
        let end = self.pieces.last().map_or(0, |r| r.end);
        let bytes = self.buf.split_to(end).freeze();
        self.at -= end;
        self.copied -= end;
        if let Some(o) = self.open.as_mut() {
            *o -= end;
        }
        let ranges: Vec<Range<usize>> = self.pieces.drain(..).collect();
        let first = self.handed;
        self.handed += ranges.len();
        self.parts.push(bytes.clone());
        Group {
            bytes,
            ranges,
            first,
        }
    }

    /// The body has ended: its last group, if creatives remain, and what is left to decide.
    pub(crate) fn finish(mut self) -> (Option<Group>, Ended) {
        let last = (!self.pieces.is_empty()).then(|| self.hand_out());
        // A creative still open, or a string, means a body cut short: parsed whole for the error.
        let plain = !self.broken && self.open.is_none() && !self.in_str && self.lists == 1;
        self.skeleton.extend_from_slice(&self.buf[self.copied..]);
        self.parts.push(self.buf.freeze());
        (
            last,
            Ended {
                plain,
                skeleton: self.skeleton,
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
        max: usize,
    ) -> Result<ScoreJson, ApiError> {
        if let Some(batch) = self.batch(runs, max) {
            return Ok(ScoreJson::Histories(Box::new(batch)));
        }
        let whole: Vec<u8> = self.parts.concat();
        parse_json(&whole).map(ScoreJson::Request)
    }

    fn batch(&self, runs: Vec<Option<CheckedRun>>, max: usize) -> Option<BodyBatch> {
        if !self.plain || self.creatives <= BATCHED_MAX_CREATIVES || self.creatives > max {
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

/// Reads a large scoring body (`len` bytes declared), cutting its creatives out as they arrive
/// and checking them on the other cores meanwhile.
pub(crate) async fn read(
    req: Request,
    st: &Arc<AppState>,
    len: usize,
) -> Result<ScoreJson, ApiError> {
    use axum::RequestExt;
    use http_body_util::BodyExt;
    let mut body = req.into_limited_body();
    let mut split = Splitter::with_capacity(len.min(st.cfg.api.batch_body_limit_bytes));
    let mut checks = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(body_error)?.into_data() {
            checks.extend(split.push(&data).into_iter().map(spawn_check));
        }
    }
    let (last, ended) = split.finish();
    checks.extend(last.map(spawn_check));
    let mut runs = Vec::with_capacity(checks.len());
    for c in checks {
        runs.push(
            c.await
                .map_err(|_| ApiError::internal("a creatives check ended without an answer"))?,
        );
    }
    let max = st.cfg.api.max_batch_creatives;
    blocking(move || ended.resolve(runs, max)).await
}

/// Checks a group on the compute pool; the answer comes back through the channel.
fn spawn_check(g: Group) -> tokio::sync::oneshot::Receiver<Option<CheckedRun>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(g.check());
    });
    rx
}

/// [`read`] for a body already received whole (sent without a declared length).
pub(crate) fn split_whole(bytes: &[u8], max: usize) -> Result<ScoreJson, ApiError> {
    split_chunks(std::iter::once(bytes), max)
}

/// The body given in pieces, split and checked (the groups on all cores).
pub(crate) fn split_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    max: usize,
) -> Result<ScoreJson, ApiError> {
    use rayon::prelude::*;
    let mut split = Splitter::with_capacity(0);
    let mut groups = Vec::new();
    for c in chunks {
        groups.extend(split.push(c));
    }
    let (last, ended) = split.finish();
    groups.extend(last);
    let runs = groups.par_iter().map(Group::check).collect();
    ended.resolve(runs, max)
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

    /// The usual path: the body parsed whole, then (valid histories only) checked as the
    /// handler checks them.
    fn usual(body: &str, max: usize) -> (Outcome, Option<Outcome>) {
        let parsed = parse_json::<ScoreRequest>(body.as_bytes());
        let checked = match &parsed {
            Ok(ScoreRequest {
                ad_ids: None,
                creatives: Some(c),
                as_of,
            }) => check_creatives(c, max, *as_of)
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
            let got = outcome(split_chunks(body.as_bytes().chunks(size), max));
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
        check(
            &format!(r#"{{"creatives": [{}], "extra": 1}}"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"creatives": [{}], "creatives": []}}"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"creatives": [{}, 5]}}"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"creatives": [5, {}]}}"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"creatives": [{}]"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"creatives": [{}]}}}}"#, c.join(",")),
            10_000,
            false,
        );
        check(
            &format!(r#"{{"creatives": [{}] "#, c.join(",")),
            10_000,
            false,
        );
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
        check(r#"{"ad_ids": ["a", "b"]}"#, 10_000, false);
        check(r#"{"creatives": null}"#, 10_000, false);
        check("", 10_000, false);
    }
}
