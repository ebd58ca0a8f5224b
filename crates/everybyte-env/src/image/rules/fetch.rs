//! Reading `curl` and `wget` command lines: which URL, and where the body goes.

use crate::image::dockerfile::Pos;
use crate::image::shell::{Command, Script, Word};

/// Where a download's body goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output (`curl URL`, `wget -qO- URL`).
    Stdout,
    /// A named file (`curl -o FILE`, `wget -O FILE`, `curl URL > FILE`).
    File(String),
    /// A file named after the URL (`curl -O`, `wget URL`).
    RemoteName,
}

pub struct Fetch<'a> {
    /// `curl` or `wget`.
    pub tool: &'static str,
    pub cmd: &'a Command,
    pub url: Option<&'a Word>,
    pub output: Output,
}

impl Fetch<'_> {
    pub fn url(&self) -> &str {
        self.url.map_or("an unnamed URL", Word::as_str)
    }

    /// Where to point: the URL, or the command when there is none.
    pub fn pos(&self) -> Pos {
        self.url
            .or_else(|| self.cmd.argv.first())
            .map(|w| w.start)
            .unwrap_or_default()
    }

    /// The downloaded file's path, if it goes to a file.
    pub fn file(&self) -> Option<String> {
        match &self.output {
            Output::Stdout => None,
            Output::File(f) => Some(f.clone()),
            Output::RemoteName => {
                let path = url_path(self.url());
                let name = path.rsplit('/').next().unwrap_or(path);
                Some(if name.is_empty() { "index.html" } else { name }.to_owned())
            }
        }
    }
}

/// The path of a URL without query or fragment.
pub fn url_path(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

const CURL_SHORT_VALUE: &str = "bcCdDeEFHKmoPQrtTuUwxXyYzA";
const CURL_LONG_VALUE: &[&str] = &[
    "abstract-unix-socket",
    "cacert",
    "capath",
    "cert",
    "cert-type",
    "ciphers",
    "config",
    "connect-timeout",
    "connect-to",
    "continue-at",
    "cookie",
    "cookie-jar",
    "create-file-mode",
    "data",
    "data-ascii",
    "data-binary",
    "data-raw",
    "data-urlencode",
    "dns-servers",
    "dump-header",
    "form",
    "form-string",
    "header",
    "interface",
    "json",
    "keepalive-time",
    "key",
    "key-type",
    "limit-rate",
    "local-port",
    "max-filesize",
    "max-redirs",
    "max-time",
    "noproxy",
    "oauth2-bearer",
    "output",
    "output-dir",
    "pass",
    "pinnedpubkey",
    "preproxy",
    "proto",
    "proto-default",
    "proto-redir",
    "proxy",
    "proxy-user",
    "quote",
    "range",
    "referer",
    "request",
    "resolve",
    "retry",
    "retry-delay",
    "retry-max-time",
    "speed-limit",
    "speed-time",
    "time-cond",
    "tls-max",
    "trace",
    "trace-ascii",
    "unix-socket",
    "upload-file",
    "url",
    "user",
    "user-agent",
    "variable",
    "write-out",
    "expect100-timeout",
    "happy-eyeballs-timeout-ms",
    "stderr",
];
const WGET_SHORT_VALUE: &str = "OoaeiBtTwQPUlARDXIY";
const WGET_LONG_VALUE: &[&str] = &[
    "output-document",
    "output-file",
    "append-output",
    "execute",
    "input-file",
    "base",
    "tries",
    "timeout",
    "wait",
    "quota",
    "directory-prefix",
    "user-agent",
    "header",
    "user",
    "password",
    "http-user",
    "http-password",
    "level",
    "post-data",
    "post-file",
    "method",
    "body-data",
    "body-file",
    "ca-certificate",
    "ca-directory",
    "certificate",
    "private-key",
    "limit-rate",
    "progress",
    "dns-timeout",
    "connect-timeout",
    "read-timeout",
    "waitretry",
    "referer",
    "load-cookies",
    "save-cookies",
    "bind-address",
    "accept",
    "reject",
    "domains",
    "exclude-domains",
    "retry-on-http-error",
    "cut-dirs",
    "restrict-file-names",
    "bind-dns-address",
];

fn to_stdout(path: &str) -> Output {
    if path == "-" || path == "/dev/stdout" {
        Output::Stdout
    } else {
        Output::File(path.to_owned())
    }
}

/// Reads a `curl` or `wget` command.
pub fn fetch(cmd: &Command) -> Option<Fetch<'_>> {
    let (tool, short_value, long_value, mut output) = match cmd.name() {
        "curl" => ("curl", CURL_SHORT_VALUE, CURL_LONG_VALUE, Output::Stdout),
        "wget" => (
            "wget",
            WGET_SHORT_VALUE,
            WGET_LONG_VALUE,
            Output::RemoteName,
        ),
        _ => return None,
    };
    let args = cmd.args();
    let mut url = None;
    let mut positional_only = false;
    let mut i = 0;
    while let Some(w) = args.get(i) {
        let s = w.as_str();
        i += 1;
        if positional_only || !s.starts_with('-') || s == "-" {
            url = url.or(Some(w));
            continue;
        }
        if s == "--" {
            positional_only = true;
        } else if let Some(long) = s.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let value = if long_value.contains(&name) {
                inline.or_else(|| {
                    i += 1;
                    args.get(i - 1).map(|v| v.as_str().to_owned())
                })
            } else {
                None
            };
            match (name, value) {
                ("output" | "output-document", Some(v)) => output = to_stdout(&v),
                ("remote-name" | "remote-name-all", _) => output = Output::RemoteName,
                ("url", _) => url = url.or_else(|| args.get(i - 1)),
                _ => {}
            }
        } else {
            let cluster = &s[1..];
            for (k, c) in cluster.char_indices() {
                if tool == "curl" && c == 'O' {
                    output = Output::RemoteName;
                    continue;
                }
                if !short_value.contains(c) {
                    continue;
                }
                let attached = &cluster[k + c.len_utf8()..];
                let value = if attached.is_empty() {
                    i += 1;
                    args.get(i - 1).map(|v| v.as_str().to_owned())
                } else {
                    Some(attached.to_owned())
                };
                if let Some(v) = value
                    && ((tool == "curl" && c == 'o') || (tool == "wget" && c == 'O'))
                {
                    output = to_stdout(&v);
                }
                break;
            }
        }
    }
    for r in &cmd.redirects {
        if (r.op == ">" || r.op == ">>" || r.op == ">|")
            && output == Output::Stdout
            && let Some(t) = &r.target
        {
            output = Output::File(t.as_str().to_owned());
        }
    }
    Some(Fetch {
        tool,
        cmd,
        url,
        output,
    })
}

/// The download whose body a substitution yields (`$(curl URL)`, `<(wget -qO- URL)`): a
/// fetch to standard output in the script's last pipeline.
pub fn yielded(script: &Script) -> Option<Fetch<'_>> {
    script
        .pipelines
        .last()?
        .commands
        .iter()
        .filter_map(fetch)
        .find(|f| f.output == Output::Stdout)
}
