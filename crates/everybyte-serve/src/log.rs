//! The server's structured log: one line of JSON per event on standard error.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 when the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// One line of JSON on standard error: the server's structured log.
pub fn log(level: &str, event: &str, fields: &[(&str, serde_json::Value)]) {
    let mut m = serde_json::Map::new();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    m.insert(
        "ts".into(),
        serde_json::json!((ts * 1000.0).round() / 1000.0),
    );
    m.insert("level".into(), level.into());
    m.insert("event".into(), event.into());
    for (k, v) in fields {
        m.insert((*k).to_owned(), v.clone());
    }
    let line = serde_json::Value::Object(m).to_string();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{line}");
    }
}
