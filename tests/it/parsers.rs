//! Every parser survives arbitrary bytes: random input, and every fixture truncated, with bytes
//! flipped, or with spliced garbage. A parser may reject input, never panic.

use std::path::PathBuf;

use omnify::ingest::classify;
use omnify::platforms::{self, ParseOptions, Platform};
use proptest::prelude::*;

fn all_fixtures() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    crate::common::snapshot(&root)
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

fn scoped() -> ParseOptions {
    ParseOptions {
        account_id: Some("123".into()),
        currency: Some("USD".into()),
        ..Default::default()
    }
}

fn run_every_parser(bytes: &[u8]) {
    let opts = scoped();
    let _ = classify(bytes);
    let _ = platforms::normalize(None, bytes, &opts);
    let _ = platforms::normalize(None, bytes, &ParseOptions::default());
    for p in Platform::ALL {
        let _ = platforms::normalize(Some(p), bytes, &opts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        run_every_parser(&bytes);
    }

    #[test]
    fn random_text_never_panics(text in "[-{}\\[\\]\":,0-9a-zA-Z_.\n ]{0,512}") {
        run_every_parser(text.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let fixtures = all_fixtures();
        prop_assume!(!fixtures.is_empty());
        let base = &fixtures[pick.index(fixtures.len())];
        // Truncated at a random point.
        let truncated = &base[..cut.index(base.len() + 1)];
        run_every_parser(truncated);
        // Bytes flipped at random places.
        let mut flipped = base.clone();
        if !flipped.is_empty() {
            for (at, b) in &flips {
                let i = at.index(flipped.len());
                flipped[i] = *b;
            }
        }
        run_every_parser(&flipped);
    }
}
