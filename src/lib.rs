//! OmniFy: turns ad-platform history into decisions — which creatives will fatigue in the next
//! 7–14 days, and where next week's budget should move.
//!
//! Layers, lowest first (dependencies point one way): [`platforms`] (connectors) →
//! [`warehouse`] (Parquet `ad_daily`) → features → fatigue / budget → registry → jobs →
//! api / cli / report. Nothing below `api` imports axum; nothing below `cli` imports clap.

pub mod alerts;
pub mod api;
pub mod bootstrap;
pub mod budget;
pub mod cli;
pub mod config;
pub mod fatigue;
pub mod features;
pub mod fsutil;
pub mod ingest;
pub mod jobs;
pub mod mcp;
pub mod platforms;
pub mod registry;
pub mod report;
pub mod schema;
pub mod simulate;
pub mod state;
pub mod warehouse;

// Linked into every build, so the memory release after a snapshot rebuild can ask mimalloc
// (the binary's allocator) to return its free pages (`api::server::release_free_memory`).
extern crate mimalloc as _;

/// Frees `v` on the compute pool: a large nested collection (thousands of vectors and
/// strings) takes milliseconds to free, which whoever waits for the answer need not wait for.
pub fn free_apart<T: Send + 'static>(v: T) {
    rayon::spawn(move || drop(v));
}
