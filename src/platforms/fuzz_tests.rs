//! Generator fuzzing of every connector: documented-format payloads (`tests/fixtures/`, written
//! from the platforms' documentation) mutated at random — bytes flipped, inserted, deleted,
//! spans duplicated or cut, numbers and quotes swapped in — and parsed with the platform named
//! and detected. A connector may refuse any of them, never panic. The gzip and zip readers get
//! the same with their containers. Deterministic (ChaCha from a fixed seed); a short run is part
//! of the tests, and `OMNIFY_FUZZ_SECONDS=600` runs each target for that long instead
//! (docs/benchmarks.md, "Reliability", has the last long run).

use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ParseOptions, Platform, decompress_within, normalize_columns};

/// The seed payloads of each platform.
fn corpus() -> Vec<(Platform, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for p in Platform::ALL {
        let dir = root.join(p.as_str());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            out.push((p, std::fs::read(&f).unwrap()));
        }
    }
    out
}

/// Tokens that steer a parser into its edge cases.
const SPLICE: [&[u8]; 14] = [
    b"\"",
    b"\\",
    b"\\u0000",
    b"-1",
    b"1e308",
    b"NaN",
    b"null",
    b"[]",
    b"{}",
    b",",
    b"\n",
    b"\r\n",
    b"9999-99-99",
    b"\xff\xfe",
];

/// One random mutation of `seed`.
pub(crate) fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.gen_range(1..=8) {
        let n = b.len();
        let at = if n == 0 { 0 } else { rng.gen_range(0..n) };
        match rng.gen_range(0..7) {
            0 if n > 0 => b[at] ^= 1 << rng.gen_range(0..8),
            1 => b.insert(at, rng.r#gen()),
            2 if n > 0 => {
                let len = rng.gen_range(1..=64.min(n - at));
                b.drain(at..at + len);
            }
            3 if n > 0 => {
                let len = rng.gen_range(1..=256.min(n - at));
                let span = b[at..at + len].to_vec();
                let to = rng.gen_range(0..=b.len());
                b.splice(to..to, span);
            }
            4 => b.truncate(at),
            5 => {
                let t = SPLICE[rng.gen_range(0..SPLICE.len())];
                b.splice(at..at, t.iter().copied());
            }
            _ if n > 0 => {
                // A digit run replaced by a long or signed number.
                let t = if rng.gen_bool(0.5) {
                    &b"-0"[..]
                } else {
                    &b"184467440737095516160"[..]
                };
                if b[at].is_ascii_digit() {
                    b.splice(at..at + 1, t.iter().copied());
                }
            }
            _ => {}
        }
    }
    b
}

/// Cases per target: a time budget from `OMNIFY_FUZZ_SECONDS`, else `default` cases.
fn budget(default: usize) -> (usize, Option<Duration>) {
    match std::env::var("OMNIFY_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(s) => (usize::MAX, Some(Duration::from_secs(s))),
        None => (default, None),
    }
}

#[test]
fn every_connector_refuses_mangled_reports_without_panicking() {
    let corpus = corpus();
    assert!(corpus.len() >= 20, "{} seed payloads", corpus.len());
    let opts = ParseOptions {
        account_id: Some("1".into()),
        currency: Some("USD".into()),
        ..ParseOptions::default()
    };
    for p in Platform::ALL {
        let seeds: Vec<&Vec<u8>> = corpus
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, b)| b)
            .collect();
        assert!(!seeds.is_empty(), "no seed payload for {}", p.as_str());
        let (cases, time) = budget(300);
        let mut rng = ChaCha8Rng::seed_from_u64(0xF022 + p as u64);
        let t0 = Instant::now();
        let mut n = 0usize;
        while n < cases && time.is_none_or(|t| t0.elapsed() < t) {
            let seed = seeds[n % seeds.len()];
            // Mutate the payload, not its container: a gzip seed is unpacked first.
            let plain = decompress_within(seed, Default::default())
                .unwrap()
                .into_owned();
            let bytes = mutate(&mut rng, &plain);
            let caught = std::panic::catch_unwind(|| {
                let _ = normalize_columns(Some(p), &bytes, &opts);
                let _ = normalize_columns(None, &bytes, &opts);
            });
            if caught.is_err() {
                let dir = std::env::temp_dir().join("omnify-fuzz-crashes");
                std::fs::create_dir_all(&dir).unwrap();
                let f = dir.join(format!("{}-{n}.bin", p.as_str()));
                std::fs::write(&f, &bytes).unwrap();
                panic!(
                    "{} panicked on case {n}; input saved as {}",
                    p.as_str(),
                    f.display()
                );
            }
            n += 1;
        }
        if time.is_some() {
            eprintln!(
                "{}: {n} cases in {:.0?}, 0 panics",
                p.as_str(),
                t0.elapsed()
            );
        }
    }
}

#[test]
fn mangled_gzip_and_zip_containers_are_refused_cleanly() {
    let corpus = corpus();
    let containers: Vec<&Vec<u8>> = corpus
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b.starts_with(&[0x1f, 0x8b]) || b.starts_with(b"PK\x03\x04"))
        .collect();
    assert!(containers.len() >= 2);
    let (cases, time) = budget(500);
    let mut rng = ChaCha8Rng::seed_from_u64(0x61B);
    let t0 = Instant::now();
    let mut n = 0usize;
    while n < cases && time.is_none_or(|t| t0.elapsed() < t) {
        let mut bytes = mutate(&mut rng, containers[n % containers.len()]);
        // Keep the magic so the container reader, not the passthrough, sees it.
        if bytes.len() < 4 {
            bytes = containers[n % containers.len()].clone();
        }
        let limits = super::Unpack {
            max_bytes: 64 << 20,
            max_ratio: 200,
        };
        let caught =
            std::panic::catch_unwind(|| decompress_within(&bytes, limits).map(|c| c.len()));
        assert!(caught.is_ok(), "the container reader panicked on case {n}");
        n += 1;
    }
    if time.is_some() {
        eprintln!("containers: {n} cases in {:.0?}, 0 panics", t0.elapsed());
    }
}
