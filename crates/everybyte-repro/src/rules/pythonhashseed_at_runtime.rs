//! REPRO004: `PYTHONHASHSEED` assigned from inside the running interpreter.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `os.environ["PYTHONHASHSEED"] = ...` (or `setdefault`, `putenv`) in a script.
    /// ## Why it matters
    /// Python reads `PYTHONHASHSEED` once, when the interpreter starts, to salt `str` and
    /// `bytes` hashes. Setting it afterwards changes nothing for the running process: set
    /// iteration order and anything derived from string hashes still vary between runs. Only
    /// child processes started later see it — which hides the bug in the parent.
    /// ## Example
    /// ```python
    /// os.environ["PYTHONHASHSEED"] = "0"
    /// vocab = {w for w in words}   # iteration order still differs per run
    /// ```
    /// ## Fix
    /// Set it before the interpreter starts: `PYTHONHASHSEED=0 python train.py`, in the
    /// launcher script, the Dockerfile (`ENV PYTHONHASHSEED=0`) or the job spec. Better, do not
    /// let results depend on `set` order: sort.
    pub static PYTHONHASHSEED_AT_RUNTIME = { code: "REPRO004", name: "pythonhashseed-at-runtime", severity: Warning, summary: "PYTHONHASHSEED set inside the script has no effect on it" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.launcher_sets("PYTHONHASHSEED").is_some() {
        return;
    }
    let key = "os.environ[\"PYTHONHASHSEED\"]";
    let at = ctx
        .script
        .assigns
        .iter()
        .find(|a| a.target == key)
        .map(|a| (a.file, a.line, a.column))
        .or_else(|| {
            ctx.any(|c| {
                matches!(c.callee.as_str(), "os.environ.setdefault" | "os.putenv")
                    && c.args.first().is_some_and(|a| {
                        a.trim_matches(|q| q == '"' || q == '\'') == "PYTHONHASHSEED"
                    })
            })
            .map(|c| (c.file, c.line, c.column))
        });
    if let Some((file, line, column)) = at {
        out.push(
            Finding::new(
                &PYTHONHASHSEED_AT_RUNTIME,
                ctx.at(file, line, column),
                "PYTHONHASHSEED is read once at interpreter start-up: setting it here changes nothing for this process, only for children started later",
            )
            .with_help("set it before launch: PYTHONHASHSEED=0 python train.py (or ENV PYTHONHASHSEED=0 in the Dockerfile, or the job spec)"),
        );
    }
}
