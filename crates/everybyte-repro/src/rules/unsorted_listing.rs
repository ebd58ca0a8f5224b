//! REPRO007: a directory listing used in file-system order.

use everybyte_core::{Finding, Location};

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `os.listdir`, `os.scandir`, `glob.glob`, `glob.iglob` and `Path.glob` / `rglob` /
    /// `iterdir` whose result is neither passed straight to `sorted(...)` nor `.sort()`ed
    /// afterwards.
    /// ## Why it matters
    /// They return entries in the order the file system keeps them, which differs between
    /// machines, file systems and even copies of the same directory. A train/validation split
    /// or a dataset index built from that order puts different files in each split on another
    /// machine.
    /// ## Example
    /// ```python
    /// files = glob.glob("data/*.jpg")
    /// train, val = files[:9000], files[9000:]
    /// ```
    /// ## Fix
    /// `files = sorted(glob.glob("data/*.jpg"))`, then split (with a seeded generator).
    pub static UNSORTED_LISTING = { code: "REPRO007", name: "unsorted-listing", severity: Warning, summary: "A directory listing is used in file-system order" };
}

/// Listing calls: `os.listdir`, `glob.glob`, and the `Path` methods (`Path(d).glob`).
fn lists(callee: &str) -> bool {
    let method = callee.rsplit('.').next().unwrap_or("");
    matches!(
        callee,
        "os.listdir" | "os.scandir" | "glob.glob" | "glob.iglob"
    ) || (matches!(method, "glob" | "rglob" | "iterdir")
        && callee.contains('.')
        && !callee.starts_with("glob."))
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for c in ctx.script.live_calls() {
        if !lists(&c.callee) || c.in_sorted {
            continue;
        }
        let sorted_later = c.assigned_to.as_ref().is_some_and(|v| {
            ctx.script.calls.iter().any(|s| {
                s.written == format!("{v}.sort")
                    || (s.callee == "sorted" && s.args.first() == Some(v))
            })
        });
        if sorted_later {
            continue;
        }
        out.push(
            Finding::new(
                &UNSORTED_LISTING,
                Location::line(ctx.path, c.line, c.column),
                format!(
                    "{}(...) returns entries in file-system order, which differs between machines",
                    c.written
                ),
            )
            .with_help(format!("sorted({}(...))", c.written)),
        );
    }
}
