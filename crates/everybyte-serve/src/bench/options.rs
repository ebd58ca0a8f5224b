//! What a benchmark run is asked to do, typed, and the parsers of the command-line forms of
//! its durations, shapes and fills, for the binary's argument layer to call.

use std::time::Duration;

use crate::error::ParseError;

pub struct BenchOptions {
    /// `http://HOST:PORT` or `grpc://HOST:PORT`.
    pub url: String,
    pub model: String,
    /// Requests per second, open loop.
    pub rate: Option<f64>,
    /// Requests in flight, closed loop (the default, at 1).
    pub concurrency: Option<usize>,
    pub duration: Duration,
    pub warmup: Duration,
    /// Sizes for the model's dynamic dimensions, per input (`input_ids=1,128`).
    pub shapes: Vec<(String, Vec<i64>)>,
    /// HTTP only: JSON tensors instead of the binary extension.
    pub json: bool,
    /// Outputs to ask for; empty: all of them.
    pub outputs: Vec<String>,
    /// Inputs filled with one value instead of pseudo-random data (`attention_mask=1`).
    pub fills: Vec<(String, f64)>,
    pub timeout: Duration,
    /// Open loop: at most this many requests outstanding; later ones wait, and their wait
    /// counts in their latency.
    pub max_in_flight: usize,
}

/// Parses `--fill name=1`.
pub fn parse_fill(s: &str) -> Result<(String, f64), ParseError> {
    let (name, v) = s.split_once('=').ok_or_else(|| ParseError::FillForm {
        input: s.to_owned(),
    })?;
    let value: f64 = v
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| ParseError::FillValue {
            input: s.to_owned(),
            value: v.to_owned(),
        })?;
    Ok((name.to_owned(), value))
}

/// Parses `10s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v * scale < 1e9)
        .map(|v| Duration::from_secs_f64(v * scale))
        .ok_or_else(|| ParseError::Duration {
            input: s.to_owned(),
        })
}

/// Parses `--shape name=1,128`.
pub fn parse_shape(s: &str) -> Result<(String, Vec<i64>), ParseError> {
    let (name, dims) = s.split_once('=').ok_or_else(|| ParseError::ShapeForm {
        input: s.to_owned(),
    })?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<i64>().ok().filter(|&d| d >= 0))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ParseError::ShapeDims {
            input: s.to_owned(),
        })?;
    Ok((name.to_owned(), dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_or_say_why_not() {
        assert_eq!(
            parse_shape("input_ids=1,128").unwrap(),
            ("input_ids".into(), vec![1, 128])
        );
        assert!(parse_shape("x").is_err());
        assert!(parse_shape("x=1,-2").is_err());
        assert_eq!(
            parse_shape("x=1,-2").unwrap_err().to_string(),
            "--shape x=1,-2: dimensions must be non-negative integers"
        );
        assert_eq!(parse_fill("ids=1").unwrap(), ("ids".into(), 1.0));
        assert_eq!(
            parse_fill("ids=x").unwrap_err().to_string(),
            "--fill ids=x: x is not a number"
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_mins(2));
        assert_eq!(
            parse_duration("10x").unwrap_err().to_string(),
            "10x: not a duration (10s, 500ms, 2m, 1h)"
        );
    }
}
