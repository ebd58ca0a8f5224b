//! Download URLs: which of them fetch whatever a branch holds today.

/// Branch names that move; a commit, a tag or a release does not.
const BRANCHES: &[&str] = &[
    "main", "master", "HEAD", "dev", "develop", "trunk", "latest",
];

/// The branch a download URL fetches at, when it names one: `raw.githubusercontent.com/O/R/REF/…`,
/// `github.com/O/R/raw/REF/…` (or `blob/REF/…?raw=true`), `huggingface.co/[datasets/|spaces/]O/R/resolve/REF/…`,
/// `gitlab.com/…/-/raw/REF/…`. An f-string's `{…}` stands for one unknown path segment.
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
    let parts: Vec<&str> = path.split('/').collect();
    let at = |i: usize| parts.get(i).copied().filter(|p| !p.is_empty());
    let reference = match host {
        "raw.githubusercontent.com" => {
            // `refs/heads/main` is the long form of a branch.
            if at(2) == Some("refs") && at(3) == Some("heads") {
                at(4)
            } else {
                at(2)
            }
        }
        "github.com" => match at(2)? {
            "raw" => at(3),
            "blob" if url.contains("raw=true") => at(3),
            _ => None,
        },
        "huggingface.co" | "hf.co" => {
            // `O/R/resolve/REF`, or a model without an owner (`gpt2/resolve/REF`).
            let skip = usize::from(matches!(at(0)?, "datasets" | "spaces"));
            let i = (skip + 1..=skip + 2).find(|&i| at(i) == Some("resolve"))?;
            at(i + 1)
        }
        _ if host == "gitlab.com" || host.starts_with("gitlab.") => {
            let i = parts.iter().position(|p| *p == "-")?;
            (at(i + 1)? == "raw").then(|| at(i + 2)).flatten()
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
        ] {
            assert_eq!(moving_ref(url), Some(branch), "{url}");
        }
        for url in [
            "https://raw.githubusercontent.com/org/repo/3f2a9c1e0b7d4a5f6e8c9b0a1d2e3f4a5b6c7d8e/data.csv",
            "https://raw.githubusercontent.com/org/repo/v1.2.0/data.csv",
            "https://github.com/org/repo/blob/main/README.md",
            "https://huggingface.co/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/config.json",
            "https://github.com/org/repo/releases/download/v1/w.pt",
            "https://example.com/main/data.csv",
            "https://huggingface.co/{repo}/resolve/{revision}/config.json",
        ] {
            assert_eq!(moving_ref(url), None, "{url}");
        }
    }
}
