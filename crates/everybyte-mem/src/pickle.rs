//! A pickle opcode reader that never executes anything.
//!
//! Python's `pickle` runs code: `GLOBAL`/`STACK_GLOBAL` import any callable and `REDUCE`,
//! `NEWOBJ` and `BUILD` call it. This reader interprets the opcodes of protocols 0–5 into an
//! inert [`Value`] tree instead: an imported callable becomes [`Value::Global`], a call becomes
//! [`Value::Call`] holding the callable and its arguments, `BUILD` becomes [`Value::Build`].
//! Nothing is imported, looked up or called, so a hostile pickle can at worst yield a value of
//! the wrong shape, which the caller rejects.
//!
//! Objects live in an arena while the opcodes run (so that a memoized list that is filled after
//! `MEMOIZE` is seen filled by a later `GET`, as in Python) and become a tree at `STOP`. Hostile
//! input is bounded by [`Limits`]: input size, nesting, mark depth, memo entries, value count and
//! the bytes of text the tree may hold after shared memo entries are copied; every declared length
//! is checked against the bytes that remain before anything is allocated.

use std::collections::HashMap;
use std::fmt;

use thiserror::Error;

/// An inert Python value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64`, in decimal.
    BigInt(String),
    Float(f64),
    Str(String),
    /// `bytes` or `bytearray`.
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Key/value pairs in pickle order; keys may be any value.
    Dict(Vec<(Value, Value)>),
    /// `set` or `frozenset`, in pickle order.
    Set(Vec<Value>),
    /// A callable or class the pickle names (`GLOBAL`, `STACK_GLOBAL`, `INST`); never imported.
    Global {
        module: String,
        name: String,
    },
    /// A call the pickle asks for (`REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST`, `OBJ`); never made.
    /// `args` is the argument tuple (for `NEWOBJ_EX`, a tuple of the args and the kwargs).
    Call {
        callable: Box<Value>,
        args: Box<Value>,
    },
    /// `BUILD`: state the pickle would apply to `obj` (`__setstate__` or `__dict__.update`).
    Build {
        obj: Box<Value>,
        state: Box<Value>,
    },
    /// A persistent id (`PERSID`, `BINPERSID`); never resolved.
    PersId(Box<Value>),
    /// An extension-registry code (`EXT1`/`EXT2`/`EXT4`); never resolved.
    Ext(u32),
    /// A protocol 5 out-of-band buffer (`NEXT_BUFFER`); its contents are not in the stream.
    OutOfBandBuffer,
}

impl Value {
    /// The value under a string key, when `self` is a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// A non-negative integer as `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|i| u64::try_from(i).ok())
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items of a list or tuple.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The pairs of a dict.
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(pairs) => Some(pairs),
            _ => None,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// A short name of the value's kind, for error messages (`dict`, `list`, `call`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Global { .. } => "global reference",
            Value::Call { .. } => "call",
            Value::Build { .. } => "build",
            Value::PersId(_) => "persistent id",
            Value::Ext(_) => "extension code",
            Value::OutOfBandBuffer => "out-of-band buffer",
        }
    }
}

/// Bounds against hostile input. The defaults suit files of up to 1 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_input: usize,
    /// Deepest nesting of containers in the result, and most open `MARK`s.
    pub max_depth: usize,
    /// Most memo entries.
    pub max_memo: usize,
    /// Most values created while reading, and most values in the result (memo entries that are
    /// referenced several times are counted each time).
    pub max_values: usize,
    /// Most bytes of text and bytes in the result, counting repeated memo references each time.
    pub max_output_bytes: usize,
    /// Longest `LONG1`/`LONG4`/text integer, in bytes.
    pub max_long_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 1 << 30,
            // Callers walk, compare, clone and drop the tree recursively; 1000 levels stay
            // inside a 2 MiB thread stack even in debug builds. Real pickles nest a few levels.
            max_depth: 1_000,
            max_memo: 10_000_000,
            max_values: 50_000_000,
            max_output_bytes: 2 << 30,
            max_long_bytes: 4096,
        }
    }
}

/// What went wrong, without the position.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PickleErrorKind {
    #[error("input is {size} bytes, more than the limit of {limit}")]
    InputTooLarge { size: usize, limit: usize },
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("stream ends inside the opcode's argument (needs {needed} bytes, {left} left)")]
    Truncated { needed: u64, left: usize },
    #[error("stream ends without STOP")]
    NoStop,
    #[error("{0}")]
    BadArgument(String),
    #[error("stack is empty")]
    StackUnderflow,
    #[error("no MARK to pop to")]
    NoMark,
    #[error("{0} where the opcode needs {1}")]
    WrongType(&'static str, &'static str),
    #[error("memo key {0} was never stored")]
    MissingMemo(u64),
    #[error("more than {0} memo entries")]
    TooManyMemo(usize),
    #[error("more than {0} values")]
    TooManyValues(usize),
    #[error("more than {0} bytes of text and bytes once shared references are copied")]
    OutputTooLarge(usize),
    #[error("nesting deeper than {0} (or a self-referencing container)")]
    TooDeep(usize),
    #[error("integer of {0} bytes is longer than the limit")]
    LongTooLong(usize),
    #[error("STOP leaves {0} values on the stack instead of 1")]
    StackNotSingle(usize),
    #[error("{0} bytes after STOP")]
    TrailingBytes(usize),
}

/// An error at a byte offset of the pickle, with the opcode being read there.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct PickleError {
    /// Offset of the opcode in the input.
    pub offset: usize,
    /// The opcode byte, when the error belongs to one.
    pub opcode: Option<u8>,
    pub kind: PickleErrorKind,
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.opcode {
            Some(op) => write!(
                f,
                "pickle byte {} (opcode {}): {}",
                self.offset,
                opcode_name(op),
                self.kind
            ),
            None => write!(f, "pickle byte {}: {}", self.offset, self.kind),
        }
    }
}

/// The name `pickletools` gives an opcode byte, or `UNKNOWN`.
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "UNKNOWN",
    }
}

/// Reads a pickle with the default [`Limits`].
pub fn read_pickle(bytes: &[u8]) -> Result<Value, PickleError> {
    read_pickle_with(bytes, Limits::default())
}

/// Reads a pickle with the given limits. Bytes after `STOP` are an error.
pub fn read_pickle_with(bytes: &[u8], limits: Limits) -> Result<Value, PickleError> {
    if bytes.len() > limits.max_input {
        return Err(PickleError {
            offset: 0,
            opcode: None,
            kind: PickleErrorKind::InputTooLarge {
                size: bytes.len(),
                limit: limits.max_input,
            },
        });
    }
    let mut machine = Machine {
        data: bytes,
        pos: 0,
        limits,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let (root, stop_at) = machine.run()?;
    if machine.pos != bytes.len() {
        return Err(PickleError {
            offset: machine.pos,
            opcode: None,
            kind: PickleErrorKind::TrailingBytes(bytes.len() - machine.pos),
        });
    }
    let mut budget = Budget {
        values: limits.max_values,
        bytes: limits.max_output_bytes,
    };
    machine
        .materialize(root, &mut budget)
        .map_err(|kind| PickleError {
            offset: stop_at,
            opcode: Some(b'.'),
            kind,
        })
}

/// An object while the opcodes run; containers refer to other nodes by index.
enum Node {
    Leaf(Value),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    Call { callable: usize, args: usize },
    Build { obj: usize, state: usize },
    PersId(usize),
}

struct Budget {
    values: usize,
    bytes: usize,
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    limits: Limits,
    nodes: Vec<Node>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: HashMap<u64, usize>,
}

type Step<T> = Result<T, PickleErrorKind>;

impl Machine<'_> {
    /// Runs opcodes to `STOP`; returns the root node and the offset of `STOP`.
    fn run(&mut self) -> Result<(usize, usize), PickleError> {
        loop {
            let at = self.pos;
            let Some(&op) = self.data.get(at) else {
                return Err(PickleError {
                    offset: at,
                    opcode: None,
                    kind: PickleErrorKind::NoStop,
                });
            };
            self.pos += 1;
            let wrap = |kind| PickleError {
                offset: at,
                opcode: Some(op),
                kind,
            };
            if op == b'.' {
                if !self.marks.is_empty() || self.stack.len() != 1 {
                    return Err(wrap(PickleErrorKind::StackNotSingle(self.stack.len())));
                }
                let root = self.pop().map_err(wrap)?;
                return Ok((root, at));
            }
            self.step(op).map_err(wrap)?;
        }
    }

    #[allow(clippy::too_many_lines)]
    fn step(&mut self, op: u8) -> Step<()> {
        match op {
            0x80 => {
                let proto = self.take(1)?[0];
                if proto > 5 {
                    return Err(PickleErrorKind::BadArgument(format!(
                        "protocol {proto} is newer than 5"
                    )));
                }
            }
            0x95 => {
                // FRAME: a length hint; the framed opcodes follow inline.
                let len = self.u64_le(8)?;
                self.check_len(len)?;
            }
            b'(' => {
                if self.marks.len() >= self.limits.max_depth {
                    return Err(PickleErrorKind::TooDeep(self.limits.max_depth));
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                if self.marks.last().is_some_and(|&m| self.stack.len() <= m) {
                    // POP right after MARK drops the mark, as Python does.
                    self.pop_mark()?;
                } else {
                    self.pop()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = *self.stack.last().ok_or(PickleErrorKind::StackUnderflow)?;
                self.stack.push(top);
            }
            b'N' => self.push_leaf(Value::None)?,
            0x88 => self.push_leaf(Value::Bool(true))?,
            0x89 => self.push_leaf(Value::Bool(false))?,
            b'J' => {
                let b = self.take(4)?;
                let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                self.push_leaf(Value::Int(i64::from(v)))?;
            }
            b'K' => {
                let v = self.take(1)?[0];
                self.push_leaf(Value::Int(i64::from(v)))?;
            }
            b'M' => {
                let b = self.take(2)?;
                let v = u16::from_le_bytes([b[0], b[1]]);
                self.push_leaf(Value::Int(i64::from(v)))?;
            }
            0x8a => {
                let n = usize::from(self.take(1)?[0]);
                let v = self.long_bytes(n)?;
                self.push_leaf(v)?;
            }
            0x8b => {
                let b = self.take(4)?;
                let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let n = usize::try_from(n).map_err(|_| {
                    PickleErrorKind::BadArgument(format!("negative LONG4 length {n}"))
                })?;
                let v = self.long_bytes(n)?;
                self.push_leaf(v)?;
            }
            b'I' => {
                let line = self.line()?;
                let v = match line.as_str() {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    text => self.decimal(text)?,
                };
                self.push_leaf(v)?;
            }
            b'L' => {
                let line = self.line()?;
                let text = line.strip_suffix('L').unwrap_or(&line);
                let v = self.decimal(text)?;
                self.push_leaf(v)?;
            }
            b'F' => {
                let line = self.line()?;
                let v: f64 = line.trim().parse().map_err(|_| {
                    PickleErrorKind::BadArgument(format!("{line:?} is not a float"))
                })?;
                self.push_leaf(Value::Float(v))?;
            }
            b'G' => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                self.push_leaf(Value::Float(f64::from_be_bytes(a)))?;
            }
            b'S' => {
                let line = self.line()?;
                let v = python_string_literal(&line)?;
                self.push_leaf(Value::Bytes(v))?;
            }
            b'U' | b'C' => {
                let n = self.take(1)?[0];
                let b = self.take_len(u64::from(n))?.to_vec();
                self.push_leaf(Value::Bytes(b))?;
            }
            b'B' | b'T' => {
                let n = self.u32_le()?;
                let b = self.take_len(u64::from(n))?.to_vec();
                self.push_leaf(Value::Bytes(b))?;
            }
            0x8e | 0x96 => {
                let n = self.u64_le(8)?;
                let b = self.take_len(n)?.to_vec();
                self.push_leaf(Value::Bytes(b))?;
            }
            b'V' => {
                let line = self.line_bytes()?;
                let s = raw_unicode_escape(line)?;
                self.push_leaf(Value::Str(s))?;
            }
            0x8c => {
                let n = self.take(1)?[0];
                let s = self.utf8(u64::from(n))?;
                self.push_leaf(Value::Str(s))?;
            }
            b'X' => {
                let n = self.u32_le()?;
                let s = self.utf8(u64::from(n))?;
                self.push_leaf(Value::Str(s))?;
            }
            0x8d => {
                let n = self.u64_le(8)?;
                let s = self.utf8(n)?;
                self.push_leaf(Value::Str(s))?;
            }
            b']' => self.push_node(Node::List(Vec::new()))?,
            b')' => self.push_node(Node::Tuple(Vec::new()))?,
            b'}' => self.push_node(Node::Dict(Vec::new()))?,
            0x8f => self.push_node(Node::Set(Vec::new()))?,
            b'l' => {
                let items = self.pop_mark()?;
                self.push_node(Node::List(items))?;
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push_node(Node::Tuple(items))?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n {
                    return Err(PickleErrorKind::StackUnderflow);
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_node(Node::Tuple(items))?;
            }
            0x91 => {
                let items = self.pop_mark()?;
                self.push_node(Node::Set(items))?;
            }
            b'd' => {
                let items = self.pop_mark()?;
                let pairs = pairs(&items)?;
                self.push_node(Node::Dict(pairs))?;
            }
            b'a' => {
                let item = self.pop()?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::List(items) => items.push(item),
                    other => return Err(PickleErrorKind::WrongType(other.kind(), "a list")),
                }
            }
            b'e' => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::List(list) => list.extend(items),
                    other => return Err(PickleErrorKind::WrongType(other.kind(), "a list")),
                }
            }
            0x90 => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::Set(set) => set.extend(items),
                    other => return Err(PickleErrorKind::WrongType(other.kind(), "a set")),
                }
            }
            b's' => {
                let value = self.pop()?;
                let key = self.pop()?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::Dict(dict) => dict.push((key, value)),
                    other => return Err(PickleErrorKind::WrongType(other.kind(), "a dict")),
                }
            }
            b'u' => {
                let items = self.pop_mark()?;
                let new = pairs(&items)?;
                let target = self.top()?;
                match &mut self.nodes[target] {
                    Node::Dict(dict) => dict.extend(new),
                    other => return Err(PickleErrorKind::WrongType(other.kind(), "a dict")),
                }
            }
            0x94 => {
                let top = self.top()?;
                let key = self.memo.len() as u64;
                self.memo_put(key, top)?;
            }
            b'p' => {
                let line = self.line()?;
                let key = parse_memo_key(&line)?;
                let top = self.top()?;
                self.memo_put(key, top)?;
            }
            b'q' => {
                let key = u64::from(self.take(1)?[0]);
                let top = self.top()?;
                self.memo_put(key, top)?;
            }
            b'r' => {
                let key = u64::from(self.u32_le()?);
                let top = self.top()?;
                self.memo_put(key, top)?;
            }
            b'g' => {
                let line = self.line()?;
                let key = parse_memo_key(&line)?;
                self.memo_get(key)?;
            }
            b'h' => {
                let key = u64::from(self.take(1)?[0]);
                self.memo_get(key)?;
            }
            b'j' => {
                let key = u64::from(self.u32_le()?);
                self.memo_get(key)?;
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.push_leaf(Value::Global { module, name })?;
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(module), Some(name)) = (self.leaf_str(module), self.leaf_str(name))
                else {
                    return Err(PickleErrorKind::BadArgument(
                        "STACK_GLOBAL needs two strings".to_string(),
                    ));
                };
                self.push_leaf(Value::Global { module, name })?;
            }
            b'i' => {
                let module = self.line()?;
                let name = self.line()?;
                let items = self.pop_mark()?;
                let callable = self.new_node(Node::Leaf(Value::Global { module, name }))?;
                let args = self.new_node(Node::Tuple(items))?;
                self.push_node(Node::Call { callable, args })?;
            }
            b'o' => {
                let mut items = self.pop_mark()?;
                if items.is_empty() {
                    return Err(PickleErrorKind::StackUnderflow);
                }
                let callable = items.remove(0);
                let args = self.new_node(Node::Tuple(items))?;
                self.push_node(Node::Call { callable, args })?;
            }
            b'R' | 0x81 => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.push_node(Node::Call { callable, args })?;
            }
            0x92 => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let callable = self.pop()?;
                let both = self.new_node(Node::Tuple(vec![args, kwargs]))?;
                self.push_node(Node::Call {
                    callable,
                    args: both,
                })?;
            }
            b'b' => {
                let state = self.pop()?;
                let obj = self.pop()?;
                self.push_node(Node::Build { obj, state })?;
            }
            b'P' => {
                let id = self.line()?;
                let id = self.new_node(Node::Leaf(Value::Str(id)))?;
                self.push_node(Node::PersId(id))?;
            }
            b'Q' => {
                let id = self.pop()?;
                self.push_node(Node::PersId(id))?;
            }
            0x82 => {
                let code = u32::from(self.take(1)?[0]);
                self.push_leaf(Value::Ext(code))?;
            }
            0x83 => {
                let b = self.take(2)?;
                let code = u32::from(u16::from_le_bytes([b[0], b[1]]));
                self.push_leaf(Value::Ext(code))?;
            }
            0x84 => {
                let code = self.u32_le()?;
                self.push_leaf(Value::Ext(code))?;
            }
            0x97 => self.push_leaf(Value::OutOfBandBuffer)?,
            0x98 => {
                // READONLY_BUFFER only changes the top buffer's mutability.
                self.top()?;
            }
            other => return Err(PickleErrorKind::UnknownOpcode(other)),
        }
        Ok(())
    }

    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Step<&[u8]> {
        if n > self.left() {
            return Err(PickleErrorKind::Truncated {
                needed: n as u64,
                left: self.left(),
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Checks a declared length against the remaining input before anything is allocated.
    fn check_len(&self, len: u64) -> Step<usize> {
        match usize::try_from(len) {
            Ok(n) if n <= self.left() => Ok(n),
            _ => Err(PickleErrorKind::Truncated {
                needed: len,
                left: self.left(),
            }),
        }
    }

    fn take_len(&mut self, len: u64) -> Step<&[u8]> {
        let n = self.check_len(len)?;
        self.take(n)
    }

    fn u32_le(&mut self) -> Step<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64_le(&mut self, n: usize) -> Step<u64> {
        let b = self.take(n)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn utf8(&mut self, len: u64) -> Step<String> {
        let b = self.take_len(len)?;
        String::from_utf8(b.to_vec()).map_err(|e| {
            PickleErrorKind::BadArgument(format!(
                "string is not UTF-8 at its byte {}",
                e.utf8_error().valid_up_to()
            ))
        })
    }

    fn line_bytes(&mut self) -> Step<&[u8]> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(PickleErrorKind::Truncated {
                needed: rest.len() as u64 + 1,
                left: rest.len(),
            });
        };
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    fn line(&mut self) -> Step<String> {
        let b = self.line_bytes()?;
        String::from_utf8(b.to_vec())
            .map_err(|_| PickleErrorKind::BadArgument("text argument is not UTF-8".to_string()))
    }

    fn decimal(&self, text: &str) -> Step<Value> {
        let t = text.trim();
        if t.len() > self.limits.max_long_bytes {
            return Err(PickleErrorKind::LongTooLong(t.len()));
        }
        if let Ok(v) = t.parse::<i64>() {
            return Ok(Value::Int(v));
        }
        let digits = t.strip_prefix('-').unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PickleErrorKind::BadArgument(format!(
                "{text:?} is not an integer"
            )));
        }
        Ok(Value::BigInt(t.to_string()))
    }

    fn long_bytes(&mut self, n: usize) -> Step<Value> {
        if n > self.limits.max_long_bytes {
            return Err(PickleErrorKind::LongTooLong(n));
        }
        let b = self.take_len(n as u64)?;
        Ok(long_from_le(b))
    }

    fn new_node(&mut self, node: Node) -> Step<usize> {
        if self.nodes.len() >= self.limits.max_values {
            return Err(PickleErrorKind::TooManyValues(self.limits.max_values));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn push_node(&mut self, node: Node) -> Step<()> {
        let id = self.new_node(node)?;
        self.stack.push(id);
        Ok(())
    }

    fn push_leaf(&mut self, v: Value) -> Step<()> {
        self.push_node(Node::Leaf(v))
    }

    fn pop(&mut self) -> Step<usize> {
        if let Some(&mark) = self.marks.last()
            && self.stack.len() <= mark
        {
            // Popping below the innermost MARK: the mark is not a value.
            return Err(PickleErrorKind::StackUnderflow);
        }
        self.stack.pop().ok_or(PickleErrorKind::StackUnderflow)
    }

    fn top(&self) -> Step<usize> {
        if let Some(&mark) = self.marks.last()
            && self.stack.len() <= mark
        {
            return Err(PickleErrorKind::StackUnderflow);
        }
        self.stack
            .last()
            .copied()
            .ok_or(PickleErrorKind::StackUnderflow)
    }

    fn pop_mark(&mut self) -> Step<Vec<usize>> {
        let mark = self.marks.pop().ok_or(PickleErrorKind::NoMark)?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn memo_put(&mut self, key: u64, node: usize) -> Step<()> {
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&key) {
            return Err(PickleErrorKind::TooManyMemo(self.limits.max_memo));
        }
        self.memo.insert(key, node);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Step<()> {
        let node = *self
            .memo
            .get(&key)
            .ok_or(PickleErrorKind::MissingMemo(key))?;
        self.stack.push(node);
        Ok(())
    }

    fn leaf_str(&self, id: usize) -> Option<String> {
        match &self.nodes[id] {
            Node::Leaf(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// Turns a node into a tree, copying shared nodes, within the depth and size budgets.
    /// Iterative, so that hostile nesting cannot exhaust the thread's stack here.
    #[allow(clippy::too_many_lines)]
    fn materialize(&self, root: usize, budget: &mut Budget) -> Step<Value> {
        enum Task {
            Visit(usize, usize),
            List(usize),
            Tuple(usize),
            Set(usize),
            Dict(usize),
            Call,
            Build,
            PersId,
        }
        let mut tasks = vec![Task::Visit(root, 0)];
        let mut out: Vec<Value> = Vec::new();
        let take = |out: &mut Vec<Value>, n: usize| out.split_off(out.len().saturating_sub(n));
        while let Some(task) = tasks.pop() {
            let (id, depth) = match task {
                Task::Visit(id, depth) => (id, depth),
                Task::List(n) => {
                    let v = take(&mut out, n);
                    out.push(Value::List(v));
                    continue;
                }
                Task::Tuple(n) => {
                    let v = take(&mut out, n);
                    out.push(Value::Tuple(v));
                    continue;
                }
                Task::Set(n) => {
                    let v = take(&mut out, n);
                    out.push(Value::Set(v));
                    continue;
                }
                Task::Dict(n) => {
                    let flat = take(&mut out, 2 * n);
                    let mut pairs = Vec::with_capacity(n);
                    let mut it = flat.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    out.push(Value::Dict(pairs));
                    continue;
                }
                Task::Call | Task::Build => {
                    let mut two = take(&mut out, 2).into_iter();
                    let a = Box::new(two.next().unwrap_or(Value::None));
                    let b = Box::new(two.next().unwrap_or(Value::None));
                    out.push(if matches!(task, Task::Call) {
                        Value::Call {
                            callable: a,
                            args: b,
                        }
                    } else {
                        Value::Build { obj: a, state: b }
                    });
                    continue;
                }
                Task::PersId => {
                    let inner = out.pop().unwrap_or(Value::None);
                    out.push(Value::PersId(Box::new(inner)));
                    continue;
                }
            };
            if depth > self.limits.max_depth {
                return Err(PickleErrorKind::TooDeep(self.limits.max_depth));
            }
            budget.values = budget
                .values
                .checked_sub(1)
                .ok_or(PickleErrorKind::TooManyValues(self.limits.max_values))?;
            let d = depth + 1;
            let mut children = |finish: Task, ids: &mut dyn Iterator<Item = usize>| {
                tasks.push(finish);
                let start = tasks.len();
                tasks.extend(ids.map(|i| Task::Visit(i, d)));
                tasks[start..].reverse();
            };
            match &self.nodes[id] {
                Node::Leaf(v) => {
                    let size = match v {
                        Value::Str(s) | Value::BigInt(s) => s.len(),
                        Value::Bytes(b) => b.len(),
                        Value::Global { module, name } => module.len() + name.len(),
                        _ => 0,
                    };
                    budget.bytes =
                        budget
                            .bytes
                            .checked_sub(size)
                            .ok_or(PickleErrorKind::OutputTooLarge(
                                self.limits.max_output_bytes,
                            ))?;
                    out.push(v.clone());
                }
                Node::List(ids) => children(Task::List(ids.len()), &mut ids.iter().copied()),
                Node::Tuple(ids) => children(Task::Tuple(ids.len()), &mut ids.iter().copied()),
                Node::Set(ids) => children(Task::Set(ids.len()), &mut ids.iter().copied()),
                Node::Dict(pairs) => children(
                    Task::Dict(pairs.len()),
                    &mut pairs.iter().flat_map(|&(k, v)| [k, v]),
                ),
                Node::Call { callable, args } => {
                    children(Task::Call, &mut [*callable, *args].into_iter());
                }
                Node::Build { obj, state } => {
                    children(Task::Build, &mut [*obj, *state].into_iter());
                }
                Node::PersId(inner) => children(Task::PersId, &mut std::iter::once(*inner)),
            }
        }
        Ok(out.pop().unwrap_or(Value::None))
    }
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Leaf(v) => v.kind(),
            Node::List(_) => "list",
            Node::Tuple(_) => "tuple",
            Node::Dict(_) => "dict",
            Node::Set(_) => "set",
            Node::Call { .. } => "call",
            Node::Build { .. } => "build",
            Node::PersId(_) => "persistent id",
        }
    }
}

fn pairs(items: &[usize]) -> Step<Vec<(usize, usize)>> {
    if !items.len().is_multiple_of(2) {
        return Err(PickleErrorKind::BadArgument(format!(
            "odd number of items ({}) for key/value pairs",
            items.len()
        )));
    }
    Ok(items.chunks_exact(2).map(|c| (c[0], c[1])).collect())
}

fn parse_memo_key(line: &str) -> Step<u64> {
    line.trim()
        .parse()
        .map_err(|_| PickleErrorKind::BadArgument(format!("{line:?} is not a memo key")))
}

/// A little-endian two's-complement integer, as `LONG1`/`LONG4` store it.
fn long_from_le(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    let negative = b[b.len() - 1] & 0x80 != 0;
    if b.len() <= 8 {
        let fill = if negative { 0xff } else { 0 };
        let mut a = [fill; 8];
        a[..b.len()].copy_from_slice(b);
        return Value::Int(i64::from_le_bytes(a));
    }
    // Magnitude as little-endian bytes.
    let mut mag: Vec<u8> = b.to_vec();
    if negative {
        // Two's complement: invert and add one.
        let mut carry = true;
        for byte in &mut mag {
            *byte = !*byte;
            if carry {
                let (v, c) = byte.overflowing_add(1);
                *byte = v;
                carry = c;
            }
        }
    }
    let digits = decimal_digits(&mag);
    if digits.len() <= 18
        && let Ok(v) = digits.parse::<i64>()
    {
        return Value::Int(if negative { -v } else { v });
    }
    if negative {
        Value::BigInt(format!("-{digits}"))
    } else {
        Value::BigInt(digits)
    }
}

/// Decimal text of an unsigned little-endian magnitude.
fn decimal_digits(le: &[u8]) -> String {
    // Big-endian base-2^32 limbs, divided repeatedly by 10^9.
    let mut be: Vec<u8> = le.iter().rev().copied().collect();
    while !be.len().is_multiple_of(4) {
        be.insert(0, 0);
    }
    let mut limbs: Vec<u32> = be
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for limb in &mut limbs {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.first() == Some(&0) {
            limbs.remove(0);
        }
    }
    let Some((last, rest)) = chunks.split_last() else {
        return "0".to_string();
    };
    let mut s = last.to_string();
    for c in rest.iter().rev() {
        s.push_str(&format!("{c:09}"));
    }
    s
}

/// The bytes of a protocol 0 `STRING` argument: a quoted Python literal with simple escapes.
fn python_string_literal(line: &str) -> Step<Vec<u8>> {
    let bad = || PickleErrorKind::BadArgument(format!("{line:?} is not a quoted string"));
    let inner = if line.len() >= 2
        && ((line.starts_with('\'') && line.ends_with('\''))
            || (line.starts_with('"') && line.ends_with('"')))
    {
        &line[1..line.len() - 1]
    } else {
        return Err(bad());
    };
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let esc = *b.get(i + 1).ok_or_else(bad)?;
        i += 2;
        match esc {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'\\' | b'\'' | b'"' => out.push(esc),
            b'x' => {
                let hex = inner.get(i..i + 2).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            _ => {
                out.push(b'\\');
                out.push(esc);
            }
        }
    }
    Ok(out)
}

/// Decodes Python's `raw-unicode-escape` (protocol 0 `UNICODE`): Latin-1 bytes with
/// `\u` escapes with four hex digits and `\U` escapes with eight.
fn raw_unicode_escape(b: &[u8]) -> Step<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && matches!(b.get(i + 1), Some(b'u' | b'U')) {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            let hex = b
                .get(i + 2..i + 2 + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    PickleErrorKind::BadArgument("bad \\u escape in UNICODE".to_string())
                })?;
            out.push(hex);
            i += 2 + n;
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
