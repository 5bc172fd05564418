//! The request-body codec: large scoring bodies split into their creatives while they arrive
//! ([`score_body`]), and the direct reader of plainly written creatives ([`plain_json`]) that
//! the splitter hands each one to. Both answer exactly as `serde_json` would (tests compare
//! them on generated bodies); anything they do not read plainly goes to `serde_json`.

pub(crate) mod plain_json;
pub(crate) mod score_body;
