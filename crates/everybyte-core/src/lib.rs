//! Shared types of everybyte: findings, rules, configuration, project discovery, report
//! renderers, atomic writes and byte sizes. Area crates produce [`Finding`]s; renderers know
//! nothing of areas.

pub mod atomic;
pub mod audit;
pub mod bytesize;
pub mod chart;
pub mod config;
pub mod discover;
pub mod finding;
mod html;
pub mod par;
pub mod procfs;
pub mod quote;
pub mod render;
pub mod rng;
pub mod rule;
pub mod rules;
pub mod safetensors;
pub mod suppress;
pub mod url;

pub use atomic::write_atomic;
pub use audit::Audit;
pub use config::{Config, ConfigError, Selection};
pub use discover::{FileKind, Project, ProjectFile};
pub use finding::{ContextItem, Finding, Location, Related, Report, Severity, Summary};
pub use rule::{Area, Check, Registry, Rule, RuleStatus};
