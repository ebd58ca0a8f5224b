//! Every GPU-log rule fires on its fixture and no rule fires on the clean one: one test per
//! rule, generated from the rule table's codes.

use everybyte_mem::gpulog::{Thresholds, analyze, parse};
use everybyte_test_support::{Finding, fixture};

fn run(name: &str) -> Vec<Finding> {
    let path = fixture(env!("CARGO_MANIFEST_DIR"), &format!("gpu/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let samples = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    analyze(name, &samples, &Thresholds::default())
}

everybyte_test_support::rule_fixtures! {
    run = run;
    fires = ".csv", ok = "_ok.csv";
    mem001_gpu_stall => "MEM001",
    mem002_gpu_memory_full => "MEM002",
    mem003_gpu_throttling => "MEM003",
}

#[test]
fn every_rule_has_a_fixture_test() {
    let codes: Vec<&str> = everybyte_mem::rules().map(|r| r.code).collect();
    assert_eq!(codes, ["MEM001", "MEM002", "MEM003"]);
}

#[test]
fn a_stall_says_how_long_and_how_much() {
    let stall = run("MEM001.csv");
    assert!(
        stall[0].message.contains(
            "idle (0% utilisation) for 30 s from 10:00:20 to 10:00:49 with 60.00 GiB allocated"
        ),
        "{stall:?}"
    );
}

#[test]
fn throttling_names_the_reason_and_the_temperature() {
    let hot = run("MEM003.csv");
    assert!(
        hot[0].message.contains("hardware thermal slowdown") && hot[0].message.contains("88 °C"),
        "{hot:?}"
    );
}
