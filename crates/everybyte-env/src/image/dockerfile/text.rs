//! Text that remembers the physical position of every byte.

/// A 1-based physical position: line, and column counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }
}

/// A string whose every byte remembers its physical position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    s: String,
    pos: Vec<Pos>,
    end: Pos,
}

impl Text {
    /// Text of one physical line (or a part of it) starting at `start`.
    pub fn at(s: &str, start: Pos) -> Self {
        let mut t = Text {
            end: start,
            ..Text::default()
        };
        t.push_str(s, start);
        t
    }

    /// Appends `s`, whose characters sit on one line from `start` on.
    pub fn push_str(&mut self, s: &str, start: Pos) {
        let mut col = start.col;
        for c in s.chars() {
            self.push_char(c, Pos::new(start.line, col));
            col += 1;
        }
        self.end = Pos::new(start.line, col);
    }

    /// Appends one character that comes from `p`.
    pub fn push_char(&mut self, c: char, p: Pos) {
        self.s.push(c);
        self.pos.extend(std::iter::repeat_n(p, c.len_utf8()));
        self.end = Pos::new(p.line, p.col + 1);
    }

    /// Appends a character with the position of byte `off` of `from`.
    pub fn push_from(&mut self, c: char, from: &Text, off: usize) {
        self.push_char(c, from.pos(off));
    }

    pub fn as_str(&self) -> &str {
        &self.s
    }

    pub fn len(&self) -> usize {
        self.s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// The position of byte `off`; the position just past the end for `off >= len`.
    pub fn pos(&self, off: usize) -> Pos {
        self.pos.get(off).copied().unwrap_or(self.end)
    }

    /// The position of the first byte.
    pub fn start(&self) -> Pos {
        self.pos(0)
    }

    /// The bytes `from..to` (clamped, snapped back to character boundaries).
    #[must_use]
    pub fn slice(&self, from: usize, to: usize) -> Text {
        let to = floor_boundary(&self.s, to.min(self.s.len()));
        let from = floor_boundary(&self.s, from.min(to));
        Text {
            s: self.s[from..to].to_owned(),
            pos: self.pos[from..to].to_vec(),
            end: if to < self.s.len() {
                self.pos(to)
            } else {
                self.end
            },
        }
    }

    /// Without leading and trailing spaces and tabs.
    #[must_use]
    pub fn trim(&self) -> Text {
        let start = self.s.len() - self.s.trim_start_matches([' ', '\t']).len();
        let end = self.s.trim_end_matches([' ', '\t']).len();
        if start >= end {
            return Text::at("", self.pos(start));
        }
        self.slice(start, end)
    }

    pub(super) fn truncate(&mut self, len: usize) {
        let len = floor_boundary(&self.s, len.min(self.s.len()));
        self.end = self.pos(len);
        self.s.truncate(len);
        self.pos.truncate(len);
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The character column (1-based) of byte `off` of `line`.
pub(super) fn column(line: &str, off: usize) -> usize {
    line.get(..off).map_or(1, |p| p.chars().count() + 1)
}
