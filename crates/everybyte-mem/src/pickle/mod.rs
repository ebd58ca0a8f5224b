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

mod decode;
mod limits;
mod machine;
mod opcodes;
mod value;

pub use crate::error::{PickleError, PickleErrorKind};
pub use limits::Limits;
pub use opcodes::opcode_name;
pub use value::Value;

use std::collections::HashMap;

use machine::{Budget, Machine};

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

#[cfg(test)]
mod tests;
