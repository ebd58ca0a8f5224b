//! Download URLs: which of them fetch whatever a branch holds today.

/// Branch names that move; a commit, a tag or a release does not.
pub const BRANCHES: &[&str] = &[
    "main", "master", "HEAD", "dev", "develop", "trunk", "latest",
];

/// The branch a download URL fetches at, when it names one: `raw.githubusercontent.com/O/R/REF/…`,
/// `github.com/O/R/raw/REF/…` (or `blob/REF/…?raw=true`), a branch archive
/// (`github.com/O/R/archive/REF.zip`, `…/archive/refs/heads/REF.tar.gz`),
/// `huggingface.co/[datasets/|spaces/]O/R/resolve/REF/…` (or `raw/REF/…`),
/// `gitlab.com/…/-/raw/REF/…`; `refs/heads/REF` is a branch's long form everywhere. An
/// f-string's `{…}` stands for one unknown path segment.
pub fn moving_ref(url: &str) -> Option<&'static str> {
    let mut plain = String::with_capacity(url.len());
    let mut depth = 0u32;
    for ch in url.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    plain.push('x');
                }
                depth += 1;
            }
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(ch),
            _ => {}
        }
    }
    let url = plain.as_str();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    let at = |i: usize| parts.get(i).copied().filter(|p| !p.is_empty());
    // The reference at segment `i`, skipping `refs/heads/`.
    let reference_at = |i: usize| {
        if at(i) == Some("refs") && at(i + 1) == Some("heads") {
            at(i + 2)
        } else {
            at(i)
        }
    };
    let reference = match host {
        "raw.githubusercontent.com" => reference_at(2),
        "github.com" | "codeload.github.com" => match at(2)? {
            "raw" | "tar.gz" | "zip" => reference_at(3),
            "blob" if url.contains("raw=true") => reference_at(3),
            "archive" => reference_at(3).map(|r| {
                r.strip_suffix(".tar.gz")
                    .or_else(|| r.strip_suffix(".zip"))
                    .unwrap_or(r)
            }),
            _ => None,
        },
        "huggingface.co" | "hf.co" => {
            // `O/R/resolve/REF`, or a model without an owner (`gpt2/resolve/REF`).
            let skip = usize::from(matches!(at(0)?, "datasets" | "spaces"));
            let i = (skip + 1..=skip + 2).find(|&i| matches!(at(i), Some("resolve" | "raw")))?;
            reference_at(i + 1)
        }
        _ if host == "gitlab.com" || host.starts_with("gitlab.") => {
            let i = parts.iter().position(|p| *p == "-")?;
            matches!(at(i + 1)?, "raw" | "archive")
                .then(|| reference_at(i + 2))
                .flatten()
        }
        _ => None,
    }?;
    BRANCHES.iter().find(|b| **b == reference).copied()
}

#[cfg(test)]
mod tests {
    use super::moving_ref;

    #[test]
    fn download_urls_at_a_branch_head() {
        for (url, branch) in [
            (
                "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
                "master",
            ),
            (
                "https://raw.githubusercontent.com/org/repo/refs/heads/main/data.csv",
                "main",
            ),
            ("https://github.com/org/repo/raw/main/weights.pt", "main"),
            (
                "https://github.com/org/repo/blob/master/w.pt?raw=true",
                "master",
            ),
            (
                "https://huggingface.co/datasets/karpathy/climbmix-400b-shuffle/resolve/main",
                "main",
            ),
            ("https://huggingface.co/gpt2/resolve/main/{name}", "main"),
            (
                "https://gitlab.com/group/sub/repo/-/raw/master/labels.json",
                "master",
            ),
            ("https://huggingface.co/{repo}/resolve/main/{name}", "main"),
            ("https://github.com/o/r/raw/refs/heads/main/w.pt", "main"),
            ("https://github.com/o/r/archive/refs/heads/main.zip", "main"),
            ("https://github.com/o/r/archive/master.tar.gz", "master"),
            (
                "https://codeload.github.com/o/r/zip/refs/heads/main",
                "main",
            ),
            ("https://huggingface.co/o/r/raw/main/config.json", "main"),
            (
                "https://gitlab.com/g/r/-/archive/master/r-master.tar.gz",
                "master",
            ),
        ] {
            assert_eq!(moving_ref(url), Some(branch), "{url}");
        }
        for url in [
            "https://raw.githubusercontent.com/org/repo/3f2a9c1e0b7d4a5f6e8c9b0a1d2e3f4a5b6c7d8e/data.csv",
            "https://raw.githubusercontent.com/org/repo/v1.2.0/data.csv",
            "https://github.com/org/repo/blob/main/README.md",
            "https://huggingface.co/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/config.json",
            "https://github.com/org/repo/releases/download/v1/w.pt",
            "https://github.com/org/repo/archive/refs/tags/v1.0.zip",
            "https://github.com/org/repo/archive/v2.1.tar.gz",
            "https://example.com/main/data.csv",
            "https://huggingface.co/{repo}/resolve/{revision}/config.json",
        ] {
            assert_eq!(moving_ref(url), None, "{url}");
        }
    }
}
