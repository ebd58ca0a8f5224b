//! The errors of the environment audit. Each variant carries the path or input it concerns,
//! and its `Display` is the message the command line prints.

use std::path::PathBuf;

/// What stops `audit` or `env` from examining an environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The environment to examine cannot be located.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A snapshot file cannot be read.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// An environment that cannot be located on disk or asked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0}: no such directory")]
    Missing(PathBuf),
    #[error("{0}: not a virtual environment (no pyvenv.cfg and no lib/python*/site-packages)")]
    NotAVenv(PathBuf),
    #[error("{}: cannot run the interpreter: {source}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot run the interpreter: {stderr}", path.display())]
    Failed { path: PathBuf, stderr: String },
    #[error("{}: cannot run the interpreter: unexpected answer: {source}", path.display())]
    Answer {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A snapshot file (`env snapshot`'s output) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an everybyte snapshot", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Recording a run's environment: its cause is part of the message, since the run's error
    /// that carries it prints its sources' words.
    #[error("{}: cannot write: {err}", path.display())]
    Write { path: PathBuf, err: std::io::Error },
}

/// A distribution's metadata directory that cannot be read as a distribution.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no {header} header", path.display())]
    MissingHeader { path: PathBuf, header: &'static str },
}

/// A lockfile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid TOML: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{MetadataError, TargetError};

    #[test]
    fn messages_name_the_path() {
        let p = PathBuf::from("sp/x-1.0.dist-info/METADATA");
        let e = MetadataError::MissingHeader {
            path: p.clone(),
            header: "Name",
        };
        assert_eq!(e.to_string(), "sp/x-1.0.dist-info/METADATA: no Name header");
        let e = MetadataError::Io {
            path: p,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(
            e.to_string(),
            "sp/x-1.0.dist-info/METADATA: entity not found"
        );
        let e = TargetError::Failed {
            path: "/usr/bin/python3".into(),
            stderr: "boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "/usr/bin/python3: cannot run the interpreter: boom"
        );
        let e = TargetError::Missing(".venv".into());
        assert_eq!(e.to_string(), ".venv: no such directory");
    }

    #[test]
    fn an_interpreter_that_cannot_start_is_named() {
        let e = crate::target::from_python(std::path::Path::new("/no/such/python")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/no/such/python: cannot run the interpreter: "),
            "{e}"
        );
    }
}
