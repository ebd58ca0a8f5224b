//! Fields of `/proc/<who>/status` (`who`: a process id, or `self`), which the profiler, the
//! server and the data scanner each read.

/// The value of the line `key` (`VmRSS:`, `TracerPid:`, `Cpus_allowed_list:`…) of
/// `/proc/<who>/status`, trimmed; `None` where the file or the line is missing.
pub fn status(who: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{who}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

/// The first number of that line: `Uid:` gives the real uid, `VmRSS:` KiB.
pub fn status_number(who: &str, key: &str) -> Option<u64> {
    status(who, key)?.split_whitespace().next()?.parse().ok()
}

/// A memory line of that file (`VmRSS:`, `VmHWM:`…, in kB there), in bytes.
pub fn status_bytes(who: &str, key: &str) -> Option<u64> {
    status_number(who, key)?.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_processs_own_status() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        let rss = status_bytes("self", "VmRSS:").unwrap();
        assert!(rss > 0 && rss.is_multiple_of(1024), "{rss}");
        let pid = std::process::id().to_string();
        assert_eq!(status("self", "Pid:"), Some(pid.clone()));
        assert_eq!(status_number(&pid, "Pid:"), pid.parse().ok());
        assert_eq!(status("self", "NoSuchLine:"), None);
        assert_eq!(status_number("0", "Pid:"), None);
    }
}
