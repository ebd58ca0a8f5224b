//! The inert values a pickle reads into.

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
