//! One file per subcommand, each taking its own arguments. Every reporting command goes through
//! [`Session`]: configuration loaded and checked, the rule selection applied, the report
//! rendered, the exit status decided.

mod audit;
mod bench;
mod data;
mod deploy;
mod env;
mod gpu;
mod mem;
mod profile;
mod repro;
mod rules;
mod serve;
mod triage;

/// What every command file uses.
mod prelude {
    pub use std::process::ExitCode;

    pub use anyhow::{Context, Result, bail};
    pub use everybyte_core::Report;

    pub(crate) use super::{Ctx, exit, print_doc, write_json};
    pub use crate::cli::*;
}

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use everybyte_core::render::{self, Format, RenderOptions};
use everybyte_core::{Config, Registry, Report, Selection, Severity};

use crate::cli::{Cli, ColorChoice, Command, DocFormat, FailOn, OutputFormat, ReportArgs};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every rule the binary knows.
pub fn registry() -> Registry {
    Registry::from_rules(
        everybyte_core::rules::RULES
            .iter()
            .copied()
            .chain(everybyte_triage::RULES.iter().copied())
            .chain(everybyte_env::rules())
            .chain(everybyte_data::rules())
            .chain(everybyte_mem::rules())
            .chain(everybyte_repro::rules())
            .chain(everybyte_deploy::rules()),
    )
    .with_areas(&[
        &everybyte_core::rules::AREA,
        &everybyte_triage::AREA,
        &everybyte_env::AREA,
        &everybyte_data::AREA,
        &everybyte_mem::AREA,
        &everybyte_repro::AREA,
        &everybyte_deploy::AREA,
        &everybyte_serve::AREA,
    ])
}

pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            e.print()?;
            return Ok(ExitCode::from(code));
        }
    };
    let registry = registry();
    let ctx = Ctx {
        cli: &cli,
        registry: &registry,
    };
    match &cli.command {
        Command::Audit(args) => audit::run(&ctx, args),
        Command::Triage(args) => triage::run(&ctx, args),
        Command::Env { command } => env::run(&ctx, command),
        Command::Data { command } => data::run(&ctx, command),
        Command::Mem { command } => mem::run(&ctx, command),
        Command::Gpu { command } => gpu::run(&ctx, command),
        Command::Repro { command } => repro::run(&ctx, command),
        Command::Profile(args) => profile::run(args),
        Command::Deploy { command } => deploy::run(&ctx, command),
        Command::Serve(args) => serve::run(&ctx, args),
        Command::Bench(args) => bench::run(&ctx, args),
        Command::Rules(args) => rules::list(&registry, args.format),
        Command::Rule(args) => rules::explain(&registry, &args.code, args.format),
        Command::Man => man_page(),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "everybyte", &mut io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What every command may need: the parsed command line and the rules.
pub(crate) struct Ctx<'a> {
    pub cli: &'a Cli,
    pub registry: &'a Registry,
}

impl Ctx<'_> {
    /// The configuration for `dir` (`--config`, or discovered), checked against the rules.
    pub fn config(&self, dir: &Path) -> Result<Config> {
        let cfg = match &self.cli.config {
            Some(path) => Config::load(path)?,
            None => Config::discover(dir)?,
        };
        cfg.validate(self.registry)?;
        Ok(cfg)
    }

    /// Opens a reporting command: the configuration for `dir`, and the selection after the
    /// command line's `--select`/`--ignore` (each checked against the rules).
    pub fn session<'a>(&'a self, dir: &Path, args: &'a ReportArgs) -> Result<Session<'a>> {
        let cfg = self.config(dir)?;
        self.registry.check_selectors(&args.select, &args.ignore)?;
        let selection = cfg.selection(&args.select, &args.ignore);
        Ok(Session {
            ctx: self,
            args,
            cfg,
            selection,
        })
    }

    /// The current directory, which commands without a project resolve configuration from.
    pub fn cwd() -> Result<PathBuf> {
        std::env::current_dir().context("cannot read the current directory")
    }

    /// A page of figures (charts) as a self-contained HTML file, written atomically.
    pub fn write_html(
        &self,
        path: &Path,
        figures: Vec<everybyte_core::chart::Figure>,
    ) -> Result<()> {
        let page = Report {
            figures,
            ..Report::default()
        };
        let opts = RenderOptions {
            color: false,
            tool_version: VERSION,
            root_uri: None,
            root: None,
        };
        render::emit(&page, Format::Html, self.registry, &opts, Some(path))?;
        Ok(())
    }
}

/// A reporting command in progress: its configuration and rule selection, until [`finish`]
/// renders the report and decides the exit status.
///
/// [`finish`]: Session::finish
pub(crate) struct Session<'a> {
    ctx: &'a Ctx<'a>,
    args: &'a ReportArgs,
    pub cfg: Config,
    pub selection: Selection,
}

impl Session<'_> {
    /// Keeps the selected findings, sorts them, renders the report (paths relative to `root`
    /// where the format has URIs) and returns 1 when a finding reaches `--fail-on`.
    pub fn finish(self, mut report: Report, root: Option<&Path>) -> Result<ExitCode> {
        let registry = self.ctx.registry;
        report
            .findings
            .retain(|f| registry.get(&f.code).is_none_or(|r| self.selection.runs(r)));
        report.sort();
        let args = self.args;
        let format = match args.format {
            OutputFormat::Text => Format::Text,
            OutputFormat::Concise => Format::Concise,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
            OutputFormat::Github => Format::Github,
            OutputFormat::Html => Format::Html,
        };
        let color = match self.ctx.cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                args.output.is_none()
                    && io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let opts = RenderOptions {
            color: color && format == Format::Text,
            tool_version: VERSION,
            root_uri: root.map(render::dir_uri),
            root: root.map(Path::to_path_buf),
        };
        render::emit(&report, format, registry, &opts, args.output.as_deref())?;
        let threshold = match args.fail_on {
            Some(FailOn::Never) => None,
            Some(FailOn::Info) => Some(Severity::Info),
            Some(FailOn::Warning) => Some(Severity::Warning),
            Some(FailOn::Error) => Some(Severity::Error),
            None => Some(self.cfg.options.fail_on.unwrap_or(Severity::Error)),
        };
        Ok(exit(!report.fails(threshold)))
    }
}

/// 0 when `ok`, else 1.
pub(crate) fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Writes `value` as pretty JSON and a newline, or `text` when the format is text.
pub(crate) fn print_doc(
    format: DocFormat,
    value: &impl serde::Serialize,
    text: impl FnOnce() -> String,
) -> Result<()> {
    let mut out = io::stdout().lock();
    match format {
        DocFormat::Json => {
            serde_json::to_writer_pretty(&mut out, value)?;
            writeln!(out)?;
        }
        DocFormat::Text => write!(out, "{}", text())?,
    }
    Ok(())
}

/// Writes `value` as pretty JSON to `path` atomically.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<()> {
    everybyte_core::write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        writeln!(w)
    })
    .with_context(|| format!("{}: cannot write {what}", path.display()))
}

/// `everybyte man`: the roff page, one section per subcommand, as git's and cargo's pages do.
fn man_page() -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    for sub in Cli::command().get_subcommands() {
        if sub.is_hide_set() {
            continue;
        }
        writeln!(out, ".SH \"EVERYBYTE {}\"", sub.get_name().to_uppercase())?;
        clap_mangen::Man::new(sub.clone()).render_description_section(&mut out)?;
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
