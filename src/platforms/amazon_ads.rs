//! Connector for amazon_ads — placeholder until the connector lands: it recognises nothing and
//! rejects every file with a clear message.

use super::{NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions, WriteContext};
use crate::schema::AdDailyRow;

/// Whether the text looks like a amazon_ads report.
pub fn looks_like(_head: &str) -> bool {
    false
}

/// Parses a amazon_ads report.
pub fn parse(_bytes: &[u8], _opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    Err(ParseError::file(
        "the amazon_ads connector is not built yet",
    ))
}

/// Writes rows in amazon_ads's native format.
pub fn write(_rows: &[AdDailyRow], _ctx: &WriteContext) -> Vec<NativeFile> {
    Vec::new()
}

/// What a amazon_ads report carries of a row.
pub fn carried(row: &AdDailyRow, _format: NativeFormat) -> AdDailyRow {
    row.clone()
}
