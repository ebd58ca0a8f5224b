//! Every GPU-log rule fires on its fixture and no rule fires on the clean one.

use everybyte_mem::gpulog::{Thresholds, analyze, parse};

fn run(name: &str) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("resources/fixtures/gpu")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    analyze(name, &parse(&text).unwrap(), &Thresholds::default())
        .into_iter()
        .map(|f| (f.code, f.message))
        .collect()
}

#[test]
fn each_rule_fires_and_the_clean_logs_are_clean() {
    for rule in everybyte_mem::RULES {
        let fires = run(&format!("{}.csv", rule.code));
        assert!(
            fires.iter().any(|(c, _)| c == rule.code),
            "{} did not fire: {fires:?}",
            rule.code
        );
        let ok = run(&format!("{}_ok.csv", rule.code));
        assert!(ok.is_empty(), "{}_ok.csv must be clean: {ok:?}", rule.code);
    }
    let stall = run("MEM001.csv");
    assert!(
        stall[0].1.contains(
            "idle (0% utilisation) for 30 s from 10:00:20 to 10:00:49 with 60.00 GiB allocated"
        ),
        "{stall:?}"
    );
    let hot = run("MEM003.csv");
    assert!(
        hot[0].1.contains("hardware thermal slowdown") && hot[0].1.contains("88 °C"),
        "{hot:?}"
    );
}
