//! LOG015: the final exception of a Python traceback that no more specific rule explains.
//! The traceback itself is followed by the scanner (`traceback.rs`); this file holds the rule
//! and the advice for common exceptions.

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A Python traceback (`Traceback (most recent call last):` … frames … `KeyError: 'labels'`)
    /// whose final exception no other rule recognises. The finding gives the exception, its
    /// message, and the innermost frame (file, line, function); chained exceptions (`During
    /// handling of the above exception…`) are reported once, with the original cause.
    /// Tracebacks prefixed by torchrun's `[rankN]:` are followed per rank. A traceback pasted
    /// from its first frame (no `Traceback` line; quotes curled by an editor) and a
    /// `SyntaxError`, which Python prints without one, are read too: there the final line must
    /// name an exception class (`…Error`, `…Exception`, `…Interrupt`, `…Exit`, `…Iteration`,
    /// `…Warning`, `…Failure`, `…Failed`, `…Fault`).
    /// ## Why it matters
    /// In a long log the exception that ended the run is easy to miss among warnings and
    /// progress bars, and in multi-rank runs the first rank's error is buried under the
    /// others' teardown messages. The innermost frame is where to start reading.
    /// ## Example
    /// ```text
    /// Traceback (most recent call last):
    ///   File "train.py", line 88, in <module>
    ///     loss = criterion(out, batch["labels"])
    /// KeyError: 'labels'
    /// ```
    /// ## Fix
    /// Open the innermost frame's file at its line; the advice printed with common exceptions
    /// (missing modules, files, shape mismatches, tensors on two devices) says what to check.
    pub static PYTHON_EXCEPTION = { code: "LOG015", name: "python-exception", severity: Error, summary: "A Python traceback ended in an exception" };
}

/// Advice for well-known exceptions, by name and message.
pub fn advice(name: &str, message: &str) -> &'static str {
    let short = name.rsplit('.').next().unwrap_or(name);
    if message.contains("Expected all tensors to be on the same device") {
        return "a tensor is on the wrong device: move inputs and the model with .to(device), and check tensors created inside forward() (torch.zeros(..., device=x.device))";
    }
    if message.contains("shapes cannot be multiplied") || message.contains("size mismatch") {
        return "a layer's input size does not match its weights: print x.shape before the failing layer; a changed image size or sequence length is the usual cause";
    }
    match short {
        "ModuleNotFoundError" => {
            "the module is not installed in this interpreter's environment: python -m pip install it (pinned in the lock file), or check which python runs the job (which python; python -c 'import sys; print(sys.prefix)')"
        }
        "ImportError" => {
            "the package is installed but broken or mismatched: check the versions it needs (python -m pip check) and, for native libraries, everybyte env check"
        }
        "FileNotFoundError" => {
            "the path does not exist where the job runs: check the working directory and mounts, and use absolute paths from configuration"
        }
        "KeyError" => {
            "a dict (a batch, a config, a state_dict) lacks the key: print its keys at the failing line; for state_dicts compare with load_state_dict(strict=False)'s report"
        }
        "KeyboardInterrupt" => "the run was interrupted (Ctrl-C or a SIGINT from the launcher)",
        "ChildFailedError" => {
            "torchrun reports a failed worker: the first failing rank's traceback above this one holds the real error"
        }
        "PermissionError" => {
            "the user running the job cannot access the path: check ownership and the container's user"
        }
        "OSError" if message.contains("No space left on device") => {
            "the disk (or /dev/shm, or /tmp) is full: df -h; clear checkpoints or caches"
        }
        _ => "open the innermost frame's file at its line; the message names what was wrong",
    }
}
