//! The bounds a pickle is read within.

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
