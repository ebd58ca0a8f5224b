//! The binary, run as a user runs it.

use std::io::Write;
use std::process::Stdio;

use crate::util::{CRASH_LOG, Dir, stderr, stdout};

#[test]
fn help_version_and_completions() {
    let dir = Dir::new();
    let out = dir.command().arg("--help").output().unwrap();
    assert!(out.status.success());
    for sub in ["audit", "triage", "rules", "rule", "completions"] {
        assert!(stdout(&out).contains(sub), "--help lacks {sub}");
    }
    let out = dir.command().arg("--version").output().unwrap();
    assert_eq!(
        stdout(&out).trim(),
        format!("everybyte {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = dir.command().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            stdout(&out).contains("triage"),
            "{shell} completion lacks subcommands"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    let out = dir.command().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = dir.command().args(["rule", "LOG999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown rule `LOG999`"));
    let out = dir
        .command()
        .args(["triage", "--select", "NOPE", "x.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--select: unknown rule code or prefix `NOPE`"),
        "{}",
        stderr(&out)
    );
    let out = dir
        .command()
        .args(["audit", "no-such-dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rules_and_rule_docs() {
    let dir = Dir::new();
    let out = dir.command().arg("rules").output().unwrap();
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("LOG001") && l.contains("cuda-oom-capacity"))
    );
    assert!(text.lines().any(|l| l.starts_with("IO001")));
    let out = dir.command().args(["rule", "LOG001"]).output().unwrap();
    let doc = stdout(&out);
    for section in [
        "## What it checks",
        "## Why it matters",
        "## Example",
        "## Fix",
    ] {
        assert!(doc.contains(section), "rule doc lacks {section}");
    }
    assert!(doc.contains("7.59 GiB short"));
    let out = dir
        .command()
        .args(["rule", "cuda-oom-fragmentation", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "LOG002");
    assert_eq!(v["severity"], "error");
}

fn triage_stdin(dir: &Dir, args: &[&str], input: &str) -> std::process::Output {
    let mut child = dir
        .command()
        .arg("triage")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn triage_seed_from_stdin() {
    let dir = Dir::new();
    let out = triage_stdin(&dir, &["--color", "never"], CRASH_LOG);
    assert_eq!(out.status.code(), Some(1), "error findings exit 1");
    insta::assert_snapshot!("triage_seed_text", stdout(&out));
}

#[test]
fn triage_clean_input_exits_0() {
    let dir = Dir::new();
    let out = triage_stdin(&dir, &[], "epoch 1 step 10 loss: 0.51\nall good\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("No findings"), "{}", stdout(&out));
}

#[test]
fn json_format_is_stable() {
    let dir = Dir::new();
    let out = triage_stdin(&dir, &["--format", "json"], CRASH_LOG);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["tool"]["name"], "everybyte");
    let f = &v["findings"][1];
    for key in [
        "code", "severity", "message", "path", "line", "column", "help",
    ] {
        assert!(f.get(key).is_some(), "finding lacks {key}");
    }
    assert_eq!(f["code"], "LOG001");
    assert_eq!(f["path"], "<stdin>");
    assert_eq!(f["line"], 2);
    // The SIGTERM after the OOM is its knock-on: reported, at info level, and marked.
    assert_eq!(v["summary"]["errors"], 2);
    assert_eq!(v["summary"]["by_code"]["LOG004"], 1);
    let kill = &v["findings"][2];
    assert_eq!(kill["code"], "LOG004");
    assert_eq!(kill["severity"], "info");
    assert_eq!(kill["data"]["knock_on"], true);
    assert!(
        v["context"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "GPU")
    );
}

#[test]
fn color_only_when_asked_and_never_with_no_color() {
    let dir = Dir::new();
    let out = triage_stdin(&dir, &["--color", "always"], CRASH_LOG);
    assert!(stdout(&out).contains("\x1b["));
    let out = triage_stdin(&dir, &[], CRASH_LOG);
    assert!(!stdout(&out).contains("\x1b["), "not a terminal: no colour");
    let mut child = dir
        .command()
        .args(["triage", "--format", "json", "--color", "always"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(CRASH_LOG.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!stdout(&out).contains("\x1b["), "JSON is never coloured");
}

#[test]
fn output_file_is_written_atomically() {
    let dir = Dir::new();
    let log = dir.create("crash.log", CRASH_LOG);
    let report = dir.path().join("report.json");
    std::fs::write(&report, "old").unwrap();
    let out = dir
        .command()
        .args(["triage", "--format", "json", "--output"])
        .arg(&report)
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 3);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "a temporary file was left behind: {names:?}"
    );

    // A report into a directory that does not exist fails with exit 2 and names the path.
    let out = dir
        .command()
        .args(["triage", "-o", "missing/dir/r.json"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing/dir"), "{}", stderr(&out));
}

#[test]
fn unreadable_input_is_a_finding_and_the_rest_is_read() {
    let dir = Dir::new();
    let log = dir.create("crash.log", CRASH_LOG);
    let out = dir
        .command()
        .args(["triage", "--format", "concise", "nope.log"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("nope.log: IO001 error cannot read"), "{text}");
    assert!(text.contains("LOG001"), "{text}");
}

#[test]
fn gzip_logs_are_read() {
    let dir = Dir::new();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(CRASH_LOG.as_bytes()).unwrap();
    dir.create("crash.log.gz", enc.finish().unwrap());
    let out = dir
        .command()
        .args(["triage", "--format", "concise", "crash.log.gz"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("crash.log.gz:2:28: LOG001"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn select_ignore_and_fail_on() {
    let dir = Dir::new();
    dir.create("crash.log", CRASH_LOG);
    let run = |args: &[&str]| {
        dir.command()
            .args(["triage", "--format", "concise"])
            .args(args)
            .arg("crash.log")
            .output()
            .unwrap()
    };
    let out = run(&["--select", "LOG00", "--ignore", "LOG003,LOG004"]);
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    let out = run(&["--select", "LOG007"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[test]
fn config_file_and_its_errors() {
    let dir = Dir::new();
    dir.create("crash.log", CRASH_LOG);
    dir.create(
        "pyproject.toml",
        "[project]\nname = 'x'\n\n[tool.everybyte]\nignore = ['LOG003']\n",
    );
    let out = dir
        .command()
        .args(["triage", "--format", "concise", "crash.log"])
        .output()
        .unwrap();
    assert!(!stdout(&out).contains("LOG003"), "{}", stdout(&out));
    assert!(stdout(&out).contains("LOG001"));

    dir.create("everybyte.toml", "[triage]\nlink-windw = 5\n");
    let out = dir
        .command()
        .args(["triage", "crash.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("everybyte.toml") && err.contains("link-windw"),
        "{err}"
    );

    dir.create("everybyte.toml", "select = ['LOG', 'XYZ9']\n");
    let out = dir
        .command()
        .args(["triage", "crash.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("everybyte.toml") && err.contains("select[1]") && err.contains("XYZ9"),
        "{err}"
    );
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let dir = Dir::new();
    dir.create("logs/crash.log", CRASH_LOG);
    dir.create(
        "logs/pod describe.txt",
        "  Warning  Unhealthy  3m  kubelet  Liveness probe failed: Get \"http://10.0.0.7:8080/healthz\": context deadline exceeded\n",
    );
    let sarif = dir.path().join("out.sarif");
    let out = dir
        .command()
        .args(["audit", ".", "--format", "sarif", "-o"])
        .arg(&sarif)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().any(
        |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == "logs/pod%20describe.txt"
    ));
    let schema =
        crate::util::workspace_root().join("crates/everybyte/tests/data/sarif-schema-2.1.0.json");
    let script =
        crate::util::workspace_root().join("crates/everybyte/tests/data/validate_sarif.py");
    let check = std::process::Command::new(crate::util::test_python())
        .arg(script)
        .arg(schema)
        .arg(&sarif)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "SARIF invalid:\n{}{}",
        stdout(&check),
        stderr(&check)
    );
    assert!(
        stdout(&check).contains("0 schema errors"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn github_annotations() {
    let dir = Dir::new();
    let out = triage_stdin(&dir, &["--format", "github"], CRASH_LOG);
    let text = stdout(&out);
    assert!(
        text.starts_with("::error title=everybyte (LOG003),file=<stdin>,line=1,col=51::"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3);
}

#[test]
fn audit_of_the_example_project() {
    let root = crate::util::workspace_root();
    let dir = Dir::new();
    let out = dir
        .command()
        .current_dir(&root)
        .args(["audit", "examples/wreckage", "--format", "concise"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    // The example's crash log: segfault, capacity OOM short by 7.59 GiB, SIGTERM after the OOM.
    assert!(
        text.contains("logs/crash.log:18:28: LOG001 error"),
        "{text}"
    );
    assert!(text.contains("short by 7.59 GiB"), "{text}");
    insta::assert_snapshot!("audit_wreckage_concise", text);
}

#[test]
fn sarif_of_the_example_audit_validates() {
    let dir = Dir::new();
    let sarif = dir.path().join("wreckage.sarif");
    let out = dir
        .command()
        .current_dir(crate::util::workspace_root())
        .args(["audit", "examples/wreckage", "--format", "sarif", "-o"])
        .arg(&sarif)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let schema =
        crate::util::workspace_root().join("crates/everybyte/tests/data/sarif-schema-2.1.0.json");
    let script =
        crate::util::workspace_root().join("crates/everybyte/tests/data/validate_sarif.py");
    let check = std::process::Command::new(crate::util::test_python())
        .arg(script)
        .arg(schema)
        .arg(&sarif)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "SARIF invalid:\n{}{}",
        stdout(&check),
        stderr(&check)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 50);
    assert!(
        results.iter().all(|r| r.get("ruleIndex").is_some()),
        "every result points into the rules table"
    );
}

#[test]
fn inline_suppressions_silence_and_stale_ones_are_reported() {
    let dir = Dir::new();
    let src = crate::util::workspace_root();
    let pod =
        std::fs::read_to_string(src.join("crates/everybyte-deploy/resources/fixtures/K8S006.yaml"))
            .unwrap()
            .replace(
                "imagePullPolicy: Always",
                "imagePullPolicy: Always  # everybyte: ignore[K8S006]",
            );
    dir.create("k8s/pod.yaml", pod);
    let train =
        std::fs::read_to_string(src.join("crates/everybyte-repro/resources/fixtures/REPRO004.py"))
            .unwrap()
            .replace(
                "os.environ[\"PYTHONHASHSEED\"]",
                "# everybyte: ignore[REPRO004]\nos.environ[\"PYTHONHASHSEED\"]",
            );
    dir.create(
        "train.py",
        format!("{train}x = 1  # everybyte: ignore[IMG001]\n"),
    );
    let out = dir
        .command()
        .args(["audit", ".", "-f", "concise"])
        .output()
        .unwrap();
    let so = stdout(&out);
    assert!(!so.contains("K8S006") && !so.contains("REPRO004"), "{so}");
    assert!(
        so.contains(
            "train.py:9:1: IO002 warning `everybyte: ignore` for IMG001 silences nothing here"
        ),
        "{so}"
    );
    // Not judged when the rules it names did not run.
    let out = dir
        .command()
        .args(["audit", ".", "-f", "concise", "--ignore", "IMG"])
        .output()
        .unwrap();
    assert!(!stdout(&out).contains("IO002"), "{}", stdout(&out));
}

#[test]
fn man_page_and_pre_commit_hooks_come_from_the_real_cli() {
    let dir = Dir::new();
    let out = dir.command().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.contains(".TH everybyte 1"), "{page}");
    for sub in [
        "AUDIT", "TRIAGE", "SERVE", "BENCH", "REPRO", "DEPLOY", "PROFILE",
    ] {
        assert!(
            page.contains(&format!(".SH \"EVERYBYTE {sub}\"")),
            "{sub} missing"
        );
    }
    // Every hook's entry is a command line this binary accepts.
    let hooks =
        std::fs::read_to_string(crate::util::workspace_root().join(".pre-commit-hooks.yaml"))
            .unwrap();
    let entries: Vec<&str> = hooks
        .lines()
        .filter_map(|l| l.trim().strip_prefix("entry: everybyte "))
        .collect();
    assert_eq!(entries.len(), 3, "{hooks}");
    for e in entries {
        let mut args: Vec<&str> = e.split_whitespace().collect();
        args.push("--help");
        let out = dir.command().args(&args).output().unwrap();
        assert!(out.status.success(), "{e}: {}", stderr(&out));
    }
}

#[test]
fn html_report_is_self_contained_with_labelled_charts() {
    let dir = Dir::new();
    let html = dir.path().join("report.html");
    let out = dir
        .command()
        .args(["audit", "-f", "html", "-o"])
        .arg(&html)
        .arg(crate::util::workspace_root().join("examples/wreckage"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A real HTML parser reads it: the summary, every finding with the source lines around
    // it, the charts with their text labels in the section of the file they are about, the
    // rule explanations the codes link to, and nothing fetched from elsewhere.
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            r##"
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.items = 0; s.svgs = 0; s.texts = []; s.ids = set(); s.links = []; s.external = []
        s.intext = False; s.quotes = 0; s.file = None; s.infile = False; s.chart_files = []; s.order = []; s.incap = False; s.caps = []
    def handle_starttag(s, t, a):
        a = dict(a)
        cls = a.get("class", "").split()
        if t == "li" and "finding" in cls: s.items += 1; s.order.append(a.get("data-sev"))
        if t == "pre" and "src" in cls: s.quotes += 1
        if t == "svg": s.svgs += 1; s.chart_files.append(s.file)
        if t == "text": s.intext = True
        if t == "figcaption": s.incap = True
        if t == "section" and "file" in cls: s.infile = True
        if t == "code" and s.infile: s.file = ""
        if "id" in a: s.ids.add(a["id"])
        if t == "a": s.links.append(a.get("href", ""))
        for k in ("src", "href"):
            if a.get(k, "").startswith(("http:", "https:", "//")): s.external.append(a[k])
        if t == "link": s.external.append("link")
    def handle_endtag(s, t):
        if t == "text": s.intext = False
        if t == "figcaption": s.incap = False
        if t == "code" and s.infile: s.infile = False
    def handle_data(s, d):
        if s.intext: s.texts.append(d)
        if s.incap: s.caps.append(d)
        if s.file == "" : s.file = d
p = P(); p.feed(open(sys.argv[1]).read())
missing = [l for l in p.links if l.startswith("#") and "=" not in l and l[1:] not in p.ids]
print(p.items, p.svgs, len(missing), len(p.external), p.quotes)
print("|".join(p.texts))
print("|".join(p.caps))
print("|".join(sorted(set(str(f) for f in p.chart_files))))
print(",".join(p.order[:6]))
"##,
        ])
        .arg(&html)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&check.stdout);
    let mut lines = text.lines();
    let counts: Vec<usize> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(counts[0] >= 80, "findings: {text}");
    assert!(counts[1] >= 2, "charts: {text}");
    assert_eq!(counts[2], 0, "links to missing rule sections: {text}");
    assert_eq!(counts[3], 0, "external resources: {text}");
    assert!(
        counts[4] >= 40,
        "findings quoted with their source lines: {text}"
    );
    let labels = lines.next().unwrap_or("");
    for t in [
        "GPU memory used",
        "GPU utilisation",
        "24 GiB",
        "100%",
        "30 s",
        "capacity",
    ] {
        assert!(labels.contains(t), "chart text {t:?} missing: {labels}");
    }
    let captions = lines.next().unwrap_or("");
    assert!(
        captions.contains("metrics/gpu.csv: GPU memory used"),
        "{captions}"
    );
    // The GPU log's charts sit in that file's section, next to its findings.
    assert_eq!(lines.next(), Some("metrics/gpu.csv"), "{text}");
    // The page opens on errors.
    assert_eq!(
        lines.next(),
        Some("error,error,error,error,error,warning"),
        "{text}"
    );
    // No "1 findings", no axis beyond 100%.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains(">1 findings") && !page.contains("108%"));
}

/// The example's audit as JSON, byte for byte: a redesign of the crates must not change what
/// the audit finds, says or how it orders it. After a deliberate change of a finding, refresh
/// the file with `everybyte audit examples/wreckage --format json`.
#[test]
fn audit_of_the_example_is_unchanged() {
    let out = Dir::new()
        .command()
        .current_dir(crate::util::workspace_root())
        .args(["audit", "examples/wreckage", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let expected = std::fs::read_to_string(
        crate::util::workspace_root().join("crates/everybyte/tests/data/wreckage-audit.json"),
    )
    .unwrap();
    let actual = stdout(&out);
    if actual != expected {
        let first = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "the example's audit changed at line {}:\n  expected: {}\n  actual:   {}",
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>")
        );
    }
}
