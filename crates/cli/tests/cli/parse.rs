//! Reading the CLI's table and CSV output back by header name (shared by the output tests).

use std::collections::HashMap;

/// The table's body rows by header name (the caption above it and the warnings below skipped).
pub fn table_rows(table: &str) -> Vec<HashMap<String, String>> {
    let split = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut lines = table.lines().filter(|l| l.starts_with('|'));
    let header = split(lines.next().expect("header"));
    lines
        .skip(1)
        .map(|l| header.iter().cloned().zip(split(l)).collect())
        .collect()
}

/// CSV rows by header name.
pub fn csv_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    rdr.records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.expect("record").iter().map(str::to_string))
                .collect()
        })
        .collect()
}
