//! The environment a log describes (PyTorch, CUDA, driver, Python, GPU, OS), shown once as the
//! context of the report.

use std::sync::LazyLock;

use regex::Regex;

struct Fact {
    key: &'static str,
    needle: &'static str,
    re: &'static LazyLock<Regex>,
}

macro_rules! re {
    ($name:ident, $pat:literal) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect("valid regex"));
    };
}

re!(
    PYTORCH,
    r"(?i)\bPyTorch(?: version)?:?\s+v?(\d+\.\d+(?:\.\d+)?(?:\+\w+)?)"
);
re!(
    TORCH_PIN,
    r"\btorch(?:==|\s+version:?\s*)(\d+\.\d+(?:\.\d+)?(?:\+\w+)?)"
);
re!(
    CUDA_BUILD,
    r"CUDA used to build PyTorch:\s*(\d+\.\d+(?:\.\d+)?)"
);
re!(CUDA_DRIVER, r"CUDA Version:\s*(\d+\.\d+)");
re!(
    CUDA,
    r"\bCUDA(?: runtime version:| Toolkit)?\s+(\d+\.\d+(?:\.\d+)?)\b"
);
re!(
    DRIVER,
    r"(?i)(?:nvidia driver version|driver version|\bdriver):?\s+(\d{3}\.\d+(?:\.\d+)?)"
);
re!(PYTHON, r"\bPython(?: version)?:?\s+(3\.\d+(?:\.\d+)?)");
re!(
    GPU,
    r"(?:GPU \d+: (NVIDIA [^(\n]+?)\s*(?:\(UUID|$)|Hardware:\s*([^,]+)|GPU models and configuration:\s*GPU \d+: ([^(\n]+?)\s*(?:\(UUID|$)|\|\s+\d+\s+(NVIDIA [A-Za-z0-9 -]+?)\s{2,}(?:On|Off))"
);
re!(
    OS,
    r"(Ubuntu \d{2}\.(?:04|10)(?:\.\d+)?(?: LTS)?\b|Debian GNU/Linux \d+(?: \(\w+\))?|CentOS Linux \d+|Rocky Linux \d+(?:\.\d+)?|Red Hat Enterprise Linux[\w .]*?\d+(?:\.\d+)?|Amazon Linux \d+)"
);
re!(CUDNN, r"cuDNN version:\s*(\S+)");

static FACTS: &[Fact] = &[
    Fact {
        key: "PyTorch",
        needle: "PyTorch",
        re: &PYTORCH,
    },
    Fact {
        key: "PyTorch",
        needle: "torch",
        re: &TORCH_PIN,
    },
    Fact {
        key: "CUDA (PyTorch build)",
        needle: "CUDA used",
        re: &CUDA_BUILD,
    },
    Fact {
        key: "CUDA (driver)",
        needle: "CUDA Version",
        re: &CUDA_DRIVER,
    },
    Fact {
        key: "CUDA",
        needle: "CUDA",
        re: &CUDA,
    },
    Fact {
        key: "driver",
        needle: "river",
        re: &DRIVER,
    },
    Fact {
        key: "Python",
        needle: "Python",
        re: &PYTHON,
    },
    Fact {
        key: "GPU",
        needle: "GPU",
        re: &GPU,
    },
    Fact {
        key: "GPU",
        needle: "Hardware:",
        re: &GPU,
    },
    Fact {
        key: "GPU",
        needle: "NVIDIA",
        re: &GPU,
    },
    Fact {
        key: "OS",
        needle: "",
        re: &OS,
    },
    Fact {
        key: "cuDNN",
        needle: "cuDNN",
        re: &CUDNN,
    },
];

/// Words (case-sensitive) that make a line worth reading for facts.
pub const TRIGGERS: &[&str] = &[
    "PyTorch",
    "torch==",
    "torch version",
    "CUDA",
    // Driver, driver
    "river",
    "Python",
    "GPU",
    "Hardware:",
    "NVIDIA",
    "Ubuntu",
    // Debian GNU/Linux, CentOS Linux, Rocky Linux, Red Hat Enterprise Linux, Amazon Linux
    "Linux",
    "cuDNN",
];

#[derive(Default)]
pub struct EnvFacts {
    found: Vec<(&'static str, String, u64)>,
    done: bool,
}

impl EnvFacts {
    pub fn observe(&mut self, line: &str, line_no: u64) {
        if self.done {
            return;
        }
        for fact in FACTS {
            if self.found.iter().any(|(k, _, _)| *k == fact.key) {
                continue;
            }
            if !fact.needle.is_empty() && !line.contains(fact.needle) {
                continue;
            }
            if let Some(c) = fact.re.captures(line)
                && let Some(m) = c.iter().skip(1).flatten().next()
            {
                let value = m.as_str().trim().trim_end_matches(['|', ',', '.']).trim();
                if !value.is_empty() {
                    self.found.push((fact.key, value.to_owned(), line_no));
                }
            }
        }
        let keys = [
            "PyTorch",
            "CUDA (PyTorch build)",
            "CUDA (driver)",
            "CUDA",
            "driver",
            "Python",
            "GPU",
            "OS",
            "cuDNN",
        ];
        self.done = keys
            .iter()
            .all(|k| self.found.iter().any(|(f, _, _)| f == k));
    }

    pub fn into_items(self, path: &str) -> Vec<everybyte_core::ContextItem> {
        self.found
            .into_iter()
            .map(|(key, value, line)| everybyte_core::ContextItem {
                path: path.to_owned(),
                key: key.to_owned(),
                value,
                line: Some(line),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seed_environment_line() {
        let mut e = EnvFacts::default();
        e.observe("[2023-10-27T14:22:01.446Z] Environment: Ubuntu 22.04.3 LTS, Python 3.10.12, PyTorch 2.0.1+cu118, NVIDIA-SMI 535.104.05, Driver 535.104.05, CUDA 12.1, Hardware: 1x RTX 3090 (24GB), 64GB DDR4 RAM, i9-12900K.", 4);
        let items = e.into_items("x");
        let get = |k: &str| items.iter().find(|i| i.key == k).map(|i| i.value.as_str());
        assert_eq!(get("PyTorch"), Some("2.0.1+cu118"));
        assert_eq!(get("Python"), Some("3.10.12"));
        assert_eq!(get("CUDA"), Some("12.1"));
        assert_eq!(get("driver"), Some("535.104.05"));
        assert_eq!(get("GPU"), Some("1x RTX 3090 (24GB)"));
        assert_eq!(get("OS"), Some("Ubuntu 22.04.3 LTS"));
    }
}
