//! `everybyte audit DIR`: one walk of the project, then each area's part of the audit.

use super::prelude::*;

use everybyte_core::Audit;

pub fn run(ctx: &Ctx, args: &AuditArgs) -> Result<ExitCode> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let session = ctx.session(dir, &args.report)?;
    let project = everybyte_core::discover::discover(dir, &session.cfg.options.exclude)
        .with_context(|| format!("{}: cannot walk the project", dir.display()))?;
    let mut report = Report::default();
    for (path, err) in &project.errors {
        report.findings.push(everybyte_core::rules::unreadable(
            path.clone(),
            "cannot read",
            err,
        ));
    }
    let input = Audit {
        project: &project,
        config: &session.cfg,
        selection: &session.selection,
    };
    // The areas, in the order their context lines and figures appear in the report.
    everybyte_triage::audit(&input, &mut report);
    everybyte_mem::audit(&input, &mut report)?;
    everybyte_repro::audit(&input, &mut report);
    everybyte_deploy::audit(&input, &mut report)?;
    everybyte_data::audit(&input, &mut report)?;
    everybyte_env::audit(&input, &mut report)?;
    report.inputs = project.files.iter().map(|f| f.rel.clone()).collect();
    // Inline `# everybyte: ignore[...]` comments in the files people write.
    let selection = &session.selection;
    everybyte_core::suppress::apply_in_project(&mut report.findings, &project, &|c| {
        selection.enabled(c)
    });
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    session.finish(report, Some(&root))
}
