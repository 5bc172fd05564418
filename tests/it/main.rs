//! Integration tests, one binary (every extra test binary would link the whole graph again).

mod api_e2e;
mod budget;
mod cli;
mod common;
mod parsers;
mod pipeline;
mod report;
mod warehouse;
