//! YAML documents as a tree that keeps each node's line, built from the event parser of
//! `yaml-rust2` (multi-document streams, as `kubectl` and `helm template` write them).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::error::YamlError;

/// A YAML node and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar(String, u64),
    Seq(Vec<Node>, u64),
    /// Keys are scalars as written; non-scalar keys are kept as an empty string.
    Map(Vec<(String, Node)>, u64),
    /// An alias or an empty value.
    Null(u64),
}

impl Node {
    pub fn line(&self) -> u64 {
        match self {
            Node::Scalar(_, l) | Node::Seq(_, l) | Node::Map(_, l) | Node::Null(l) => *l,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(pairs, _) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The node at a dotted path (`spec.template.spec`).
    pub fn at(&self, path: &str) -> Option<&Node> {
        path.split('.').try_fold(self, |n, k| n.get(k))
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn seq(&self) -> &[Node] {
        match self {
            Node::Seq(items, _) => items,
            _ => &[],
        }
    }

    /// Whether a scalar equal to `value` sits anywhere in the tree.
    pub fn has_scalar(&self, value: &str) -> bool {
        match self {
            Node::Scalar(s, _) => s == value,
            Node::Seq(items, _) => items.iter().any(|i| i.has_scalar(value)),
            Node::Map(pairs, _) => pairs.iter().any(|(_, v)| v.has_scalar(value)),
            Node::Null(_) => false,
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self, Node::Map(..))
    }
}

enum Frame {
    Seq(Vec<Node>, u64),
    Map(Vec<(String, Node)>, Option<String>, u64),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
    depth_exceeded: bool,
    /// Collections opened past the limit: counted, never built.
    skipped: usize,
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(pairs, key, _)) => match key.take() {
                None => {
                    *key = Some(match node {
                        Node::Scalar(s, _) => s,
                        _ => String::new(),
                    });
                }
                Some(k) => pairs.push((k, node)),
            },
        }
    }
}

/// The deepest nesting a document may have.
pub const MAX_DEPTH: usize = 256;

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line() as u64;
        if self.skipped > 0 {
            match ev {
                Event::SequenceStart(..) | Event::MappingStart(..) => self.skipped += 1,
                Event::SequenceEnd | Event::MappingEnd => self.skipped -= 1,
                _ => {}
            }
            return;
        }
        match ev {
            Event::Scalar(s, ..) => {
                let node = if s.is_empty() || s == "~" || s == "null" {
                    Node::Null(line)
                } else {
                    Node::Scalar(s, line)
                };
                self.push(node);
            }
            Event::Alias(_) => self.push(Node::Null(line)),
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.depth_exceeded = true;
                self.skipped = 1;
            }
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(Vec::new(), line)),
            Event::MappingStart(..) => self.stack.push(Frame::Map(Vec::new(), None, line)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(items, l)) => Node::Seq(items, l),
                    Some(Frame::Map(pairs, _, l)) => Node::Map(pairs, l),
                    None => return,
                };
                self.push(node);
            }
            _ => {}
        }
    }
}

/// Block collections nest by indentation and `- ` markers, and the parser recurses on them
/// without a limit: a hostile document is refused before it can exhaust the stack.
fn nesting_guard(text: &str) -> Result<(), YamlError> {
    for (i, line) in text.lines().enumerate() {
        let rest = line.trim_start_matches([' ', '\t']);
        let indent = line.len() - rest.len();
        let mut markers = 0;
        let mut r = rest;
        while let Some(t) = r.strip_prefix("- ").or_else(|| r.strip_prefix("? ")) {
            markers += 1;
            r = t.trim_start_matches(' ');
        }
        if indent + 2 * markers > 4 * MAX_DEPTH {
            return Err(YamlError::NestedAt { line: i + 1 });
        }
    }
    Ok(())
}

/// Parses every document of a YAML stream. A flow collection closed at its key's indentation
/// (`pytorch: [` … `]` with `]` under `pytorch`) is refused by the YAML specification but read
/// by the parsers `kubectl` and PyYAML use; so is it here, by indenting such closing lines.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    match parse_strict(text) {
        Err(YamlError::Syntax { info, .. }) if info.contains("indentation") => {
            let lenient: String = text
                .lines()
                .map(|l| {
                    let t = l.trim();
                    if matches!(t, "]" | "}" | "]," | "},") {
                        format!("  {l}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            parse_strict(&lenient).or_else(|_| parse_strict(text))
        }
        other => other,
    }
}

fn parse_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    nesting_guard(text)?;
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| YamlError::Syntax {
        line: e.marker().line(),
        info: e.info().to_owned(),
    })?;
    if b.depth_exceeded {
        return Err(YamlError::Nested);
    }
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_documents() {
        let docs = parse("a: 1\n---\nkind: Pod\nspec:\n  containers:\n  - name: x\n    image: y\n")
            .unwrap();
        assert_eq!(docs.len(), 2);
        let c = &docs[1].at("spec.containers").unwrap().seq()[0];
        assert_eq!(c.get("image").unwrap().str(), Some("y"));
        assert_eq!(c.get("image").unwrap().line(), 7);
        assert!(parse("a: [1, 2\n").is_err());
        assert!(parse(&"[".repeat(1000)).is_err());
        // Block nesting has no parser limit: it must stop at ours, not at the stack's end.
        let deep: String = (0..20_000)
            .map(|i| format!("{}- ", " ".repeat(i * 2)))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse(&format!("{deep}x\n")).is_err());
        assert!(parse(&format!("{}x\n", "- ".repeat(200_000))).is_err());
    }
}
