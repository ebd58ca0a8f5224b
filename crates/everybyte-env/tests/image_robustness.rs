//! The Dockerfile checker never panics: every prefix of every fixture (a file cut anywhere,
//! mid-continuation, mid-heredoc, mid-quote) and hostile input parse and check.

use std::path::PathBuf;

use everybyte_env::image::check_dockerfile;

#[test]
fn every_prefix_of_every_fixture_checks() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("resources/fixtures/image");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        files += 1;
        for (i, _) in text.char_indices() {
            let _ = check_dockerfile("prefix", &text[..i]);
        }
    }
    assert!(files >= 8, "only {files} fixtures found");
}

#[test]
fn hostile_input_checks() {
    let deep = format!("FROM a\nRUN {}\n", "sh -c \"$(".repeat(300));
    let wide = format!("FROM a\nRUN {}\n", "curl x | ".repeat(2000));
    let cases = [
        "",
        "\u{feff}",
        "# escape=`\nFROM a `\n",
        "FROM\nRUN\nADD\nCOPY --from=\n",
        "FROM a\nRUN <<\nRUN <<''\nRUN <<-\"\n",
        "FROM a\nRUN [\"\\u12\"]\nRUN [\"\\ud800\"]\nRUN [1, 2]\n",
        "FROM ${\nFROM ${A:-${B:-${C\nFROM $\n",
        "FROM a\nRUN git clone\nRUN git -C\nRUN git checkout\nRUN pip install -r\nRUN python -m\nRUN uv pip\n",
        "FROM a\nRUN curl -o\nRUN wget -O\nRUN curl --url\nRUN bash -c\nRUN sh -o\nRUN eval\n",
        "FROM a\nRUN é$(é `é` <(é) \"é\\é\" 'é\nADD é https://é.é/é.tgz\n",
        deep.as_str(),
        wide.as_str(),
    ];
    for case in cases {
        let _ = check_dockerfile("hostile", case);
    }
}
