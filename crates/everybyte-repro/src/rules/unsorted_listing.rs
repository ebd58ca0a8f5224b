//! REPRO007: a directory listing used in file-system order.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `os.listdir`, `os.scandir`, `glob.glob`, `glob.iglob` and `Path.glob` / `rglob` /
    /// `iterdir` whose result is neither passed to `sorted(...)` (directly or through a
    /// comprehension) nor `.sort()`ed afterwards, nor only counted or searched (`len`, `set`,
    /// `max`, `min`, `any`). Listings of checkpoints, logs and outputs (to find the latest)
    /// are not data and are not reported.
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
        // Listings of checkpoints, logs or outputs pick the latest by name or step: their
        // order is not the data's.
        let about = format!(
            "{} {} {}",
            c.args.join(" "),
            c.function.as_deref().unwrap_or_default(),
            c.assigned_to.as_deref().unwrap_or_default()
        )
        .to_ascii_lowercase();
        if [
            "ckpt",
            "checkpoint",
            "resume",
            "output",
            "log",
            "latest",
            "last",
            "save",
            "model_tag",
        ]
        .iter()
        .any(|w| about.contains(w))
        {
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
                ctx.at(c.file, c.line, c.column),
                format!(
                    "{}(...) returns entries in file-system order, which differs between machines",
                    c.written
                ),
            )
            .with_help(format!("sorted({}(...))", c.written)),
        );
    }
}
