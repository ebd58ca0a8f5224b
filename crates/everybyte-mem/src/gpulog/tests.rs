//! The GPU-log parser, its alerts and its timestamps.

use super::*;

#[test]
fn stall_full_and_throttle() {
    let mut log = String::from(
        "timestamp, index, memory.used [MiB], memory.total [MiB], utilization.gpu [%], temperature.gpu, clocks_throttle_reasons.active\n",
    );
    for s in 0..60 {
        let util = if (10..40).contains(&s) { 0 } else { 90 };
        let thr = if s >= 50 {
            "0x0000000000000040"
        } else {
            "0x0000000000000000"
        };
        log.push_str(&format!(
            "2024/01/02 03:04:{s:02}.100, 0, 23000 MiB, 24000 MiB, {util} %, {}, {thr}\n",
            if s >= 50 { 88 } else { 70 }
        ));
    }
    let samples = parse(&log).unwrap();
    assert_eq!(samples.len(), 60);
    let f = analyze("gpu.csv", &samples, &Thresholds::default());
    let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["MEM002", "MEM001", "MEM003"]);
    assert!(
        f[1].message
            .contains("idle (0% utilisation) for 30 s from 03:04:10 to 03:04:39"),
        "{}",
        f[1].message
    );
    assert!(
        f[2].message.contains("hardware thermal slowdown"),
        "{}",
        f[2].message
    );
}

#[test]
fn live_alerts_match_the_log_analysis() {
    let th = Thresholds::default();
    let mut m = Monitor::new(th.clone());
    let mut raised = Vec::new();
    let base = parse_time("2024/01/02 03:04:00").unwrap();
    for i in 0..60u32 {
        let s = Sample {
            line: u64::from(i) + 1,
            time: Some(base + f64::from(i)),
            timestamp: format_time(base + f64::from(i)),
            gpu: "0".into(),
            used: Some(23_000 << 20),
            total: Some(24_000 << 20),
            util: Some(if (10..40).contains(&i) { 0.0 } else { 90.0 }),
            temp: Some(70.0),
            throttle: Some(0),
        };
        for f in m.push("nvml", &s) {
            raised.push((i, f.code.clone(), f.message.clone()));
        }
    }
    // Memory alerts once at the start; the stall once it has lasted 20 s.
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert_eq!((raised[0].0, raised[0].1.as_str()), (0, "MEM002"));
    assert!(raised[0].2.contains("since 03:04:00"), "{}", raised[0].2);
    assert_eq!((raised[1].0, raised[1].1.as_str()), (29, "MEM001"));
    assert!(
        raised[1].2.contains("for 20 s from 03:04:10"),
        "{}",
        raised[1].2
    );
}

#[test]
fn timestamps_round_trip() {
    for t in [
        "2024/01/02 03:04:05.123",
        "1999/12/31 23:59:59.000",
        "2028/02/29 00:00:00.500",
    ] {
        assert_eq!(format_time(parse_time(t).unwrap()), t);
    }
}

#[test]
fn bad_logs_are_errors() {
    assert!(parse("").is_err());
    assert!(parse("a,b\n1,2\n").is_err());
    let t = parse_time("2023/10/27 13:41:07.121").unwrap() % 86400.0;
    assert!(
        (t - (13.0 * 3600.0 + 41.0 * 60.0 + 7.121)).abs() < 1e-6,
        "{t}"
    );
}
