//! PEP 440 versions and version specifiers, with the semantics of `packaging` (the library
//! that pip vendors): normalisation, total ordering, and `SpecifierSet.contains`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// The kind of a pre-release segment. Ordered `a < b < rc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

impl PreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PreKind::Alpha => "a",
            PreKind::Beta => "b",
            PreKind::Rc => "rc",
        }
    }
}

/// One dot-separated part of a local version label. Numbers sort after strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LocalSegment {
    Str(String),
    Num(u64),
}

impl fmt::Display for LocalSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalSegment::Str(s) => f.write_str(s),
            LocalSegment::Num(n) => write!(f, "{n}"),
        }
    }
}

/// A parsed PEP 440 version. Equality and ordering follow PEP 440 (`1.0 == 1.0.0`), so
/// `Version` deliberately implements neither `Hash` nor structural equality.
#[derive(Clone, Debug)]
pub struct Version {
    pub epoch: u64,
    pub release: Vec<u64>,
    pub pre: Option<(PreKind, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    pub local: Vec<LocalSegment>,
}

/// A version or specifier that is not PEP 440.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{input}`: {reason}")]
pub struct VersionError {
    pub what: &'static str,
    pub input: String,
    pub reason: &'static str,
}

impl VersionError {
    fn version(input: &str, reason: &'static str) -> Self {
        VersionError {
            what: "version",
            input: input.to_owned(),
            reason,
        }
    }

    fn specifier(input: &str, reason: &'static str) -> Self {
        VersionError {
            what: "version specifier",
            input: input.to_owned(),
            reason,
        }
    }
}

static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|beta|preview|pre|a|b|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?dev[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("valid regex")
});

fn number(s: &str, input: &str) -> Result<u64, VersionError> {
    s.parse()
        .map_err(|_| VersionError::version(input, "a number is too large"))
}

impl Version {
    pub fn parse(input: &str) -> Result<Version, VersionError> {
        let Some(c) = VERSION_RE.captures(input) else {
            return Err(VersionError::version(input, "not a PEP 440 version"));
        };
        let opt_num = |name: &str| -> Result<Option<u64>, VersionError> {
            c.name(name).map(|m| number(m.as_str(), input)).transpose()
        };
        let epoch = opt_num("epoch")?.unwrap_or(0);
        let release = c
            .name("release")
            .map_or("", |m| m.as_str())
            .split('.')
            .map(|p| number(p, input))
            .collect::<Result<Vec<_>, _>>()?;
        let pre = match c.name("pre_l") {
            Some(l) => {
                let kind = match l.as_str().to_ascii_lowercase().as_str() {
                    "a" | "alpha" => PreKind::Alpha,
                    "b" | "beta" => PreKind::Beta,
                    _ => PreKind::Rc,
                };
                Some((kind, opt_num("pre_n")?.unwrap_or(0)))
            }
            None => None,
        };
        let post = if c.name("post").is_some() {
            Some(opt_num("post_n1")?.or(opt_num("post_n2")?).unwrap_or(0))
        } else {
            None
        };
        let dev = if c.name("dev").is_some() {
            Some(opt_num("dev_n")?.unwrap_or(0))
        } else {
            None
        };
        let local = match c.name("local") {
            Some(m) => m
                .as_str()
                .split(['.', '-', '_'])
                .map(|s| {
                    if s.bytes().all(|b| b.is_ascii_digit()) {
                        number(s, input).map(LocalSegment::Num)
                    } else {
                        Ok(LocalSegment::Str(s.to_ascii_lowercase()))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        Ok(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// A pre-release or a development release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    pub fn is_devrelease(&self) -> bool {
        self.dev.is_some()
    }

    /// The version without its local label.
    #[must_use]
    pub fn public(&self) -> Version {
        Version {
            local: Vec::new(),
            ..self.clone()
        }
    }

    /// Epoch and release only (`1!2.0rc1+x` → `1!2.0`).
    #[must_use]
    pub fn base(&self) -> Version {
        Version {
            epoch: self.epoch,
            release: self.release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        }
    }

    fn release_trimmed(&self) -> &[u64] {
        let end = self
            .release
            .iter()
            .rposition(|&n| n != 0)
            .map_or(0, |i| i + 1);
        &self.release[..end]
    }

    fn pre_key(&self) -> (u8, Option<(PreKind, u64)>) {
        match self.pre {
            // `1.0.dev0` sorts before `1.0a0`.
            None if self.post.is_none() && self.dev.is_some() => (0, None),
            None => (2, None),
            Some(p) => (1, Some(p)),
        }
    }

    fn dev_key(&self) -> (u8, u64) {
        match self.dev {
            Some(n) => (0, n),
            None => (1, 0),
        }
    }

    fn local_key(&self) -> Option<&[LocalSegment]> {
        if self.local.is_empty() {
            None
        } else {
            Some(&self.local)
        }
    }

    /// `packaging`'s `_version_split` of the canonical public form: epoch, release (padded
    /// with zeros to `pad_to`), then `a1`/`post1`/`dev1` suffixes. Used for prefix matching.
    fn segments(&self, pad_to: usize) -> Vec<String> {
        let mut out = vec![self.epoch.to_string()];
        out.extend(self.release.iter().map(u64::to_string));
        for _ in self.release.len()..pad_to {
            out.push("0".to_owned());
        }
        if let Some((k, n)) = self.pre {
            out.push(format!("{}{n}", k.as_str()));
        }
        if let Some(n) = self.post {
            out.push(format!("post{n}"));
        }
        if let Some(n) = self.dev {
            out.push(format!("dev{n}"));
        }
        out
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release_trimmed().cmp(other.release_trimmed()))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            .then_with(|| self.post.cmp(&other.post))
            .then_with(|| self.dev_key().cmp(&other.dev_key()))
            .then_with(|| self.local_key().cmp(&other.local_key()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// The normalised form (`1.0-1` → `1.0.post1`, `V1.0RC1` → `1.0rc1`).
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        for (i, n) in self.release.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        if let Some((k, n)) = self.pre {
            write!(f, "{}{n}", k.as_str())?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        for (i, seg) in self.local.iter().enumerate() {
            f.write_str(if i == 0 { "+" } else { "." })?;
            write!(f, "{seg}")?;
        }
        Ok(())
    }
}

/// A comparison operator of a version specifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    Equal,
    NotEqual,
    LessEqual,
    GreaterEqual,
    Less,
    Greater,
    Compatible,
    ArbitraryEqual,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equal => "==",
            Operator::NotEqual => "!=",
            Operator::LessEqual => "<=",
            Operator::GreaterEqual => ">=",
            Operator::Less => "<",
            Operator::Greater => ">",
            Operator::Compatible => "~=",
            Operator::ArbitraryEqual => "===",
        }
    }

    /// Splits a leading operator off `s`, longest first.
    pub fn split_prefix(s: &str) -> Option<(Operator, &str)> {
        const OPS: [(&str, Operator); 8] = [
            ("===", Operator::ArbitraryEqual),
            ("==", Operator::Equal),
            ("!=", Operator::NotEqual),
            ("~=", Operator::Compatible),
            ("<=", Operator::LessEqual),
            (">=", Operator::GreaterEqual),
            ("<", Operator::Less),
            (">", Operator::Greater),
        ];
        OPS.iter()
            .find_map(|(text, op)| s.strip_prefix(text).map(|rest| (*op, rest)))
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version specifier (`>=1.21.1`, `==1.2.*`, `~=2.2`, `===foo`).
#[derive(Clone, Debug, PartialEq)]
pub struct Specifier {
    pub op: Operator,
    /// The version as written, without the operator (with `.*` for a wildcard).
    pub text: String,
    /// The parsed version (without `.*`); `None` only for `===` with a non-PEP 440 string.
    pub version: Option<Version>,
    /// `==1.2.*` / `!=1.2.*`.
    pub wildcard: bool,
}

impl Specifier {
    /// Parses `>=1.0` (whitespace between operator and version allowed).
    pub fn parse(input: &str) -> Result<Specifier, VersionError> {
        let s = input.trim();
        let Some((op, rest)) = Operator::split_prefix(s) else {
            return Err(VersionError::specifier(input, "no comparison operator"));
        };
        Specifier::new(op, rest)
    }

    /// Builds a specifier from an operator and the version text that follows it.
    pub fn new(op: Operator, version: &str) -> Result<Specifier, VersionError> {
        let text = version.trim();
        let full = || format!("{op}{text}");
        if text.is_empty() || text.contains(char::is_whitespace) {
            return Err(VersionError::specifier(&full(), "no version"));
        }
        if op == Operator::ArbitraryEqual {
            return Ok(Specifier {
                op,
                text: text.to_owned(),
                version: Version::parse(text).ok(),
                wildcard: false,
            });
        }
        let (vtext, wildcard) = match text.strip_suffix(".*") {
            Some(prefix) => (prefix, true),
            None => (text, false),
        };
        let v = Version::parse(vtext).map_err(|e| VersionError::specifier(&full(), e.reason))?;
        let eq_like = matches!(op, Operator::Equal | Operator::NotEqual);
        if wildcard && !eq_like {
            return Err(VersionError::specifier(
                &full(),
                "`.*` is only allowed with == and !=",
            ));
        }
        if wildcard && (v.dev.is_some() || !v.local.is_empty()) {
            return Err(VersionError::specifier(
                &full(),
                "a prefix match cannot include a dev or local segment",
            ));
        }
        if !eq_like && !v.local.is_empty() {
            return Err(VersionError::specifier(
                &full(),
                "a local version is only allowed with == and !=",
            ));
        }
        if op == Operator::Compatible && v.release.len() < 2 {
            return Err(VersionError::specifier(
                &full(),
                "~= needs at least two release segments",
            ));
        }
        Ok(Specifier {
            op,
            text: text.to_owned(),
            version: Some(v),
            wildcard,
        })
    }

    /// Whether this specifier by itself admits pre-releases (`>=1.0rc1` does).
    pub fn mentions_prerelease(&self) -> bool {
        matches!(
            self.op,
            Operator::Equal
                | Operator::GreaterEqual
                | Operator::LessEqual
                | Operator::Compatible
                | Operator::ArbitraryEqual
        ) && self.version.as_ref().is_some_and(Version::is_prerelease)
    }

    /// `packaging`'s `Specifier.contains(version, prereleases)`: with `None`, pre-releases
    /// match only when the specifier mentions one.
    pub fn contains(&self, v: &Version, prereleases: Option<bool>) -> bool {
        let allow = prereleases.unwrap_or_else(|| self.mentions_prerelease());
        if v.is_prerelease() && !allow {
            return false;
        }
        self.matches(v)
    }

    /// The operator alone, without any pre-release filtering.
    pub fn matches(&self, v: &Version) -> bool {
        if self.op == Operator::ArbitraryEqual {
            return v.to_string().eq_ignore_ascii_case(&self.text);
        }
        let Some(s) = &self.version else {
            return false;
        };
        match self.op {
            Operator::Equal => equal(v, s, self.wildcard),
            Operator::NotEqual => !equal(v, s, self.wildcard),
            Operator::LessEqual => v.public() <= *s,
            Operator::GreaterEqual => v.public() >= *s,
            Operator::Less => {
                v < s && (s.is_prerelease() || !v.is_prerelease() || v.base() != s.base())
            }
            Operator::Greater => {
                v > s
                    && (s.is_postrelease() || !v.is_postrelease() || v.base() != s.base())
                    && (v.local.is_empty() || v.base() != s.base())
            }
            Operator::Compatible => {
                let prefix = Version {
                    epoch: s.epoch,
                    release: s.release[..s.release.len().saturating_sub(1)].to_vec(),
                    pre: None,
                    post: None,
                    dev: None,
                    local: Vec::new(),
                };
                v.public() >= *s && prefix_match(v, &prefix)
            }
            Operator::ArbitraryEqual => false,
        }
    }
}

fn equal(v: &Version, s: &Version, wildcard: bool) -> bool {
    if wildcard {
        prefix_match(v, s)
    } else if s.local.is_empty() {
        v.public() == *s
    } else {
        v == s
    }
}

fn prefix_match(v: &Version, prefix: &Version) -> bool {
    let want = prefix.segments(0);
    let mut have = v.segments(prefix.release.len());
    have.truncate(want.len());
    have == want
}

impl FromStr for Specifier {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Specifier::parse(s)
    }
}

impl fmt::Display for Specifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op, self.text)
    }
}

/// A comma-separated set of specifiers; all must match. Empty matches every final release.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpecifierSet {
    pub specs: Vec<Specifier>,
}

impl SpecifierSet {
    pub fn parse(input: &str) -> Result<SpecifierSet, VersionError> {
        if input.trim().is_empty() {
            return Ok(SpecifierSet::default());
        }
        let specs = input
            .split(',')
            .map(Specifier::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SpecifierSet { specs })
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// `packaging`'s `SpecifierSet.contains(version, prereleases)`. `pip check` calls it with
    /// `prereleases=True` (`Some(true)`) for installed versions.
    pub fn contains(&self, v: &Version, prereleases: Option<bool>) -> bool {
        let allow =
            prereleases.unwrap_or_else(|| self.specs.iter().any(Specifier::mentions_prerelease));
        if !allow && v.is_prerelease() {
            return false;
        }
        self.specs.iter().all(|s| s.contains(v, Some(allow)))
    }
}

impl FromStr for SpecifierSet {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpecifierSet::parse(s)
    }
}

impl fmt::Display for SpecifierSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.specs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn spec_has(spec: &str, version: &str) -> bool {
        SpecifierSet::parse(spec)
            .unwrap()
            .contains(&v(version), Some(true))
    }

    fn spec_has_default(spec: &str, version: &str) -> bool {
        SpecifierSet::parse(spec)
            .unwrap()
            .contains(&v(version), None)
    }

    #[test]
    fn pep440_ordering_table() {
        // The ordering example of PEP 440 (summary of permitted suffixes and relative
        // ordering), plus epochs and local versions.
        let ordered = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        let brief = [
            "1.0.dev0",
            "1.0a1",
            "1.0b2.post3",
            "1.0rc1",
            "1.0",
            "1.0.post1",
        ];
        for pair in brief.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn normalisation() {
        let cases = [
            ("1.0-1", "1.0.post1"),
            ("v1.0", "1.0"),
            ("V1.0RC1", "1.0rc1"),
            ("1.0-alpha.1", "1.0a1"),
            ("1.0.beta2", "1.0b2"),
            ("1.0c1", "1.0rc1"),
            ("1.0pre1", "1.0rc1"),
            ("1.0preview_2", "1.0rc2"),
            ("1.0a", "1.0a0"),
            ("1.0-rev4", "1.0.post4"),
            ("1.0r", "1.0.post0"),
            ("1.0.POST", "1.0.post0"),
            ("1.0_dev-7", "1.0.dev7"),
            ("1.0dev", "1.0.dev0"),
            ("1.0+Ubuntu-1_2", "1.0+ubuntu.1.2"),
            ("  2!1.02.0  ", "2!1.2.0"),
            ("1.0+cu118", "1.0+cu118"),
        ];
        for (input, want) in cases {
            assert_eq!(v(input).to_string(), want, "{input}");
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0+01"), v("1.0+1"));
        assert_ne!(v("1.0"), v("1.0+0"));
        for bad in [
            "",
            "1.0.",
            "a1",
            "1.0+",
            "1.0+a..b",
            "1..0",
            "1.0 2",
            "1.0-",
            "99999999999999999999999",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn local_ordering() {
        assert!(v("1.0+abc") < v("1.0+1"));
        assert!(v("1.0+1") < v("1.0+1.0"));
        assert!(v("1.0+abc") < v("1.0+abd"));
        assert!(v("1.0+2") < v("1.0+10"));
        assert!(v("1.0") < v("1.0+anything"));
        assert!(v("2.1.0+cu118") > v("2.1.0"));
    }

    #[test]
    fn specifier_basics() {
        assert!(spec_has(">=1.21.1,<3", "2.0.7"));
        assert!(!spec_has(">=1.21.1,<3", "1.20"));
        assert!(!spec_has(">=1.21.1,<3", "3.0.0"));
        assert!(spec_has("==2.1.0", "2.1"));
        assert!(spec_has("==2.1.0", "2.1.0+cu118"));
        assert!(!spec_has("==2.1.0+cpu", "2.1.0+cu118"));
        assert!(spec_has("==2.1.0+cu118", "2.1.0+cu118"));
        assert!(spec_has("!=1.5.7", "1.5.6"));
        assert!(!spec_has("!=1.5.7", "1.5.7"));
        assert!(spec_has("<=2.0", "2.0+local"));
        assert!(spec_has("===1.0", "1.0"));
        assert!(!spec_has("===1.0", "1.0.0"));
        assert!(spec_has("", "1.0"));
    }

    #[test]
    fn wildcards() {
        assert!(spec_has("==1.2.*", "1.2"));
        assert!(spec_has("==1.2.*", "1.2.0"));
        assert!(spec_has("==1.2.*", "1.2.99.post1"));
        assert!(spec_has("==1.2.*", "1.2.3+local"));
        assert!(spec_has("==1.2.*", "1.2a1"));
        assert!(!spec_has("==1.2.*", "1.3"));
        assert!(!spec_has("==1.2.*", "1.20"));
        assert!(!spec_has("==1.2.*", "1!1.2"));
        assert!(spec_has("==1!1.2.*", "1!1.2.5"));
        assert!(spec_has("==1.0.0.*", "1"));
        assert!(!spec_has("!=1.2.*", "1.2.5"));
        assert!(spec_has("!=1.2.*", "1.3"));
        assert!(Specifier::parse(">=1.2.*").is_err());
        assert!(Specifier::parse("==1.2.dev1.*").is_err());
        assert!(Specifier::parse("==1.2+local.*").is_err());
    }

    #[test]
    fn compatible_release() {
        assert!(spec_has("~=2.2", "2.2"));
        assert!(spec_has("~=2.2", "2.9.1"));
        assert!(!spec_has("~=2.2", "3.0"));
        assert!(!spec_has("~=2.2", "2.1"));
        assert!(spec_has("~=1.4.5", "1.4.9"));
        assert!(!spec_has("~=1.4.5", "1.5.0"));
        assert!(spec_has("~=2.2.post3", "2.3"));
        assert!(!spec_has("~=2.2.post3", "2.2"));
        assert!(spec_has("~=1.4.5a4", "1.4.5"));
        assert!(!spec_has("~=1.4.5a4", "1.5"));
        assert!(spec_has("~=1!1.0", "1!1.5"));
        assert!(!spec_has("~=1!1.0", "1.5"));
        assert!(Specifier::parse("~=1").is_err());
        assert!(Specifier::parse("~=1.0+local").is_err());
    }

    #[test]
    fn exclusive_ordered_comparisons() {
        assert!(!spec_has(">1.7", "1.7.post1"));
        assert!(spec_has(">1.7.post1", "1.7.post2"));
        assert!(spec_has(">1.7", "1.7.1"));
        assert!(!spec_has(">1.7", "1.7+local"));
        assert!(!spec_has(">1.7", "1.7.0+local"));
        assert!(!spec_has("<1.7", "1.7.dev0"));
        assert!(!spec_has("<1.7", "1.7a1"));
        assert!(spec_has("<1.7rc1", "1.7a1"));
        assert!(spec_has("<1.7", "1.6.9"));
        assert!(spec_has("<1.7", "1.6.dev0"));
        assert!(!spec_has("<1.7", "1.7"));
        assert!(spec_has(">1.7", "1.8.dev0"));
        assert!(!spec_has(">1!1.0", "2.0"));
    }

    #[test]
    fn prerelease_exclusion() {
        // Without `prereleases=True`, a set that mentions no pre-release excludes them.
        assert!(!spec_has_default(">=1.0", "2.0a1"));
        assert!(spec_has(">=1.0", "2.0a1"));
        assert!(spec_has_default(">=1.0a1", "2.0a1"));
        assert!(spec_has_default(">=1.0a1,<3", "2.0b1"));
        assert!(!spec_has_default("", "1.0rc1"));
        assert!(spec_has_default("", "1.0"));
        assert!(!spec_has_default("<2", "1.0.dev1"));
        assert!(spec_has_default("==1.0.dev1", "1.0.dev1"));
        assert!(spec_has_default(">1.0", "1.1.post1"));
    }

    #[test]
    fn specifier_parsing() {
        let set = SpecifierSet::parse(" >= 1.0 , < 2 ,!=1.5.*").unwrap();
        assert_eq!(set.to_string(), ">=1.0,<2,!=1.5.*");
        assert!(SpecifierSet::parse(">=1.0,").is_err());
        assert!(SpecifierSet::parse("1.0").is_err());
        assert!(SpecifierSet::parse("=>1.0").is_err());
        assert!(SpecifierSet::parse(">=1.0+local").is_err());
        assert!(SpecifierSet::parse("==1.0+local").is_ok());
        assert!(SpecifierSet::parse("===anything-goes").is_ok());
    }
}
