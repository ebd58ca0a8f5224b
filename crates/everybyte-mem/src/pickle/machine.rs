//! The machine that runs the opcodes into an arena of nodes and makes the result a tree.

use std::collections::HashMap;

use super::decode::{long_from_le, parse_memo_key, python_string_literal, raw_unicode_escape};
use super::{Limits, PickleError, PickleErrorKind, Value};

/// An object while the opcodes run; containers refer to other nodes by index.
pub(super) enum Node {
    Leaf(Value),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    Call { callable: usize, args: usize },
    Build { obj: usize, state: usize },
    PersId(usize),
}

pub(super) struct Budget {
    pub(super) values: usize,
    pub(super) bytes: usize,
}

pub(super) struct Machine<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) limits: Limits,
    pub(super) nodes: Vec<Node>,
    pub(super) stack: Vec<usize>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: HashMap<u64, usize>,
}

type Step<T> = Result<T, PickleErrorKind>;

impl Machine<'_> {
    /// Runs opcodes to `STOP`; returns the root node and the offset of `STOP`.
    pub(super) fn run(&mut self) -> Result<(usize, usize), PickleError> {
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
    pub(super) fn materialize(&self, root: usize, budget: &mut Budget) -> Step<Value> {
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
