use super::*;

fn p(line: usize, col: usize) -> Pos {
    Pos::new(line, col)
}

fn shell(ins: &Instruction) -> &Text {
    ins.shell()
        .unwrap_or_else(|| panic!("{ins:?} is not shell form"))
}

#[test]
fn continuation_keeps_physical_positions() {
    let df = Dockerfile::parse(
        "FROM alpine\n\nRUN apt-get update \\\n    # a comment inside\n\n  && pip install torch\n",
    );
    assert_eq!(df.instructions.len(), 2);
    let run = &df.instructions[1];
    assert_eq!(run.keyword, "RUN");
    assert_eq!(run.pos, p(3, 1));
    let t = shell(run);
    assert_eq!(t.as_str(), "apt-get update   && pip install torch");
    let torch = t.as_str().find("torch").unwrap_or(0);
    assert_eq!(t.pos(torch), p(6, 18));
    assert_eq!(t.start(), p(3, 5));
}

#[test]
fn keywords_are_case_insensitive_and_indented() {
    let df = Dockerfile::parse("  from alpine:3.19 as Build\n\trun echo hi\n");
    assert_eq!(df.instructions[0].keyword, "FROM");
    assert_eq!(df.instructions[0].pos, p(1, 3));
    assert_eq!(df.instructions[1].keyword, "RUN");
    assert_eq!(df.instructions[1].pos, p(2, 2));
    assert_eq!(df.stages[0].name.as_deref(), Some("build"));
}

#[test]
fn escape_directive_switches_to_backtick() {
    let src = "# escape=`\n# syntax=docker/dockerfile:1\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir C:\\ `\n    && echo done\nCOPY a\\b c\\\n";
    let df = Dockerfile::parse(src);
    assert_eq!(df.escape, '`');
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.instructions.len(), 3);
    let run = shell(&df.instructions[1]);
    assert_eq!(run.as_str(), "dir C:\\     && echo done");
    let done = run.as_str().find("done").unwrap_or(0);
    assert_eq!(run.pos(done), p(5, 13));
    // A trailing backslash is an ordinary character under the backtick escape.
    assert_eq!(shell(&df.instructions[2]).as_str(), "a\\b c\\");
}

#[test]
fn directives_stop_at_the_first_other_line() {
    let df = Dockerfile::parse("# a comment\n# escape=`\nFROM alpine\nRUN a \\\n b\n");
    assert_eq!(df.escape, '\\');
    assert_eq!(shell(&df.instructions[1]).as_str(), "a  b");
}

#[test]
fn heredoc_body_belongs_to_the_instruction() {
    let src = "FROM alpine\nRUN <<EOF\nset -e\ncurl -fsSL https://x.sh | sh\nEOF\nRUN <<-\"END\" bash\n\techo $HOME\n\tEND\nCOPY <<A <<B /etc/\none\nA\ntwo\nB\nRUN echo after\n";
    let df = Dockerfile::parse(src);
    let kws: Vec<&str> = df.instructions.iter().map(|i| i.keyword.as_str()).collect();
    assert_eq!(kws, ["FROM", "RUN", "RUN", "COPY", "RUN"]);
    let h = &df.instructions[1].heredocs[0];
    assert_eq!(h.name, "EOF");
    assert!(h.terminated && !h.quoted && !h.strip_tabs);
    assert_eq!(h.body.as_str(), "set -e\ncurl -fsSL https://x.sh | sh\n");
    let curl = h.body.as_str().find("curl").unwrap_or(0);
    assert_eq!(h.body.pos(curl), p(4, 1));
    assert_eq!(h.marker, p(2, 5));
    let h = &df.instructions[2].heredocs[0];
    assert!(h.quoted && h.strip_tabs);
    assert_eq!(h.body.as_str(), "echo $HOME\n");
    assert_eq!(h.body.start(), p(7, 2));
    let copy = &df.instructions[3].heredocs;
    assert_eq!(copy.len(), 2);
    assert_eq!(copy[0].body.as_str(), "one\n");
    assert_eq!(copy[1].body.as_str(), "two\n");
    assert_eq!(df.instructions[4].pos, p(14, 1));
}

#[test]
fn here_strings_and_glued_markers_are_not_heredocs() {
    let df = Dockerfile::parse("FROM a\nRUN cat <<< hi && cat<<X\nRUN echo '<<EOF'\n");
    assert!(df.instructions[1].heredocs.is_empty());
    assert!(df.instructions[2].heredocs.is_empty());
    assert_eq!(df.instructions.len(), 3);
}

#[test]
fn global_args_substitute_into_from() {
    let src = "ARG PY=3.10-slim\nARG BASE=python:${PY}\nARG REG\nFROM ${BASE} AS a\nFROM python:$PY\nFROM ${REG:-docker.io}/library/python:${PY}\nFROM ${REG}/x\nARG PY=ignored\n";
    let df = Dockerfile::parse(src);
    assert_eq!(df.stages[0].resolved, "python:3.10-slim");
    assert_eq!(df.stages[1].resolved, "python:3.10-slim");
    assert_eq!(df.stages[2].resolved, "docker.io/library/python:3.10-slim");
    assert_eq!(df.stages[3].resolved, "/x");
    assert_eq!(df.stages[3].unresolved, ["REG"]);
    assert_eq!(
        df.global_args,
        [
            ("PY".to_owned(), Some("3.10-slim".to_owned())),
            ("BASE".to_owned(), Some("python:3.10-slim".to_owned())),
            ("REG".to_owned(), None),
        ]
    );
    let image = df.stages[1].image.clone().unwrap_or_default();
    assert_eq!(image.as_str(), "python:$PY");
    assert_eq!(image.start(), p(5, 6));
}

#[test]
fn expansion_forms() {
    let vars: BTreeMap<String, String> = [("A", "1"), ("E", "")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let e = |s: &str| expand(s, &vars, '\\').0;
    assert_eq!(e("${A:-x}${E:-y}${U:-z}"), "1yz");
    assert_eq!(e("${E-y}${U-z}"), "z");
    assert_eq!(e("${A:+p}${E:+q}${E+r}${U+s}"), "pr");
    assert_eq!(e("\\$A-$A"), "$A-1");
    assert_eq!(e("${U:-${A}}"), "1");
}

#[test]
fn stages_and_references() {
    let src = "FROM golang:1.22 AS Build\nFROM build AS test\nFROM scratch\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nCOPY --from=ghcr.io/x/y:1 /c /c\n";
    let df = Dockerfile::parse(src);
    assert_eq!(df.stages.len(), 3);
    assert_eq!(df.stages[0].base, Base::Image);
    assert_eq!(df.stages[1].base, Base::Stage(0));
    assert_eq!(df.stages[2].base, Base::Scratch);
    assert_eq!(df.instructions[3].stage, Some(2));
    let from = |i: usize| {
        let v = df.instructions[i]
            .flag("from")
            .and_then(|f| f.value.clone());
        df.from_stage(&v.unwrap_or_default(), df.instructions[i].stage)
    };
    assert_eq!(from(3), Some(0));
    assert_eq!(from(4), Some(0));
    assert_eq!(from(5), None);
}

#[test]
fn exec_form_and_flags() {
    let src = "FROM --platform=$BUILDPLATFORM alpine\nRUN --mount=type=cache,target=/root/.cache [\"pip\", \"install\", \"t\\u00e9st\", \"a\\\"b\"]\nCMD [\"broken\"\nADD --checksum=sha256:ab https://x/y.tgz /y\n";
    let df = Dockerfile::parse(src);
    assert_eq!(df.instructions[0].flags[0].name, "platform");
    assert_eq!(df.stages[0].resolved, "alpine");
    let run = &df.instructions[1];
    assert_eq!(
        run.flags[0].value.as_deref(),
        Some("type=cache,target=/root/.cache")
    );
    let Args::Exec(items) = &run.args else {
        panic!("not exec form: {run:?}")
    };
    let words: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(words, ["pip", "install", "tést", "a\"b"]);
    assert_eq!(items[1].pos, p(2, 52));
    assert_eq!(items[3].text.pos(1), p(2, 78));
    assert_eq!(items[3].text.pos(2), p(2, 80));
    assert!(matches!(df.instructions[2].args, Args::Shell(_)));
    let add = &df.instructions[3];
    assert_eq!(
        add.flag("checksum").and_then(|f| f.value.as_deref()),
        Some("sha256:ab")
    );
    assert_eq!(shell(add).start(), p(4, 26));
}

#[test]
fn stage_variables() {
    let src = "ARG SHA=abc\nFROM a AS one\nARG SHA\nENV X=1 Y=\"two words\"\nARG L=${X}-x\nRUN true\nFROM one\nENV Z $X more\nRUN true\n";
    let df = Dockerfile::parse(src);
    let v = df.vars_at(5);
    assert_eq!(v.get("SHA").map(String::as_str), Some("abc"));
    assert_eq!(v.get("Y").map(String::as_str), Some("two words"));
    assert_eq!(v.get("L").map(String::as_str), Some("1-x"));
    let v = df.vars_at(8);
    assert_eq!(v.get("SHA"), None);
    assert_eq!(v.get("Z").map(String::as_str), Some("1 more"));
}

#[test]
fn crlf_bom_and_unterminated_input() {
    let df = Dockerfile::parse("\u{feff}FROM a\r\nRUN x \\\r\n");
    assert_eq!(df.instructions.len(), 2);
    assert_eq!(shell(&df.instructions[1]).as_str(), "x");
    let df = Dockerfile::parse("FROM a\nRUN <<EOF\nno end");
    assert!(!df.instructions[1].heredocs[0].terminated);
    let df = Dockerfile::parse("");
    assert!(df.instructions.is_empty());
}
