//! `everybyte rules` and `everybyte rule CODE`.

use super::prelude::*;

use everybyte_core::Registry;

pub fn list(registry: &Registry, format: DocFormat) -> Result<ExitCode> {
    let json: Vec<_> = registry.rules().iter().map(|r| r.to_json()).collect();
    print_doc(format, &json, || {
        registry
            .rules()
            .iter()
            .map(|r| r.to_line() + "\n")
            .collect()
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn explain(registry: &Registry, code: &str, format: DocFormat) -> Result<ExitCode> {
    let Some(r) = registry.get(code) else {
        bail!("unknown rule `{code}` (see `everybyte rules`)");
    };
    print_doc(format, &r.to_json(), || r.to_text())?;
    Ok(ExitCode::SUCCESS)
}
