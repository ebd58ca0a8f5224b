//! `everybyte repro`: what makes a training script non-deterministic (a lint over a real
//! Python parse tree), and `repro run`, which runs a command several times and names the first
//! output — file, tensor or metric — that differs.

pub mod compare;
pub mod model;
pub mod rules;
pub mod run;
pub mod torchzip;

use everybyte_core::{Finding, Rule};

pub use model::Script;

/// Every rule of the area, in code order.
pub static RULES: &[&Rule] = &[
    &rules::unseeded_rng::UNSEEDED_RNG,
    &rules::cudnn_nondeterministic::CUDNN_NONDETERMINISTIC,
    &rules::cublas_workspace_unset::CUBLAS_WORKSPACE_UNSET,
    &rules::pythonhashseed_at_runtime::PYTHONHASHSEED_AT_RUNTIME,
    &rules::shuffle_without_generator::SHUFFLE_WITHOUT_GENERATOR,
    &rules::distributed_sampler_without_set_epoch::DISTRIBUTED_SAMPLER_WITHOUT_SET_EPOCH,
    &rules::unsorted_listing::UNSORTED_LISTING,
    &rules::spawn_loses_seed::SPAWN_LOSES_SEED,
    &rules::checkpoint_without_rng_state::CHECKPOINT_WITHOUT_RNG_STATE,
    &rules::hardware_unrecorded::HARDWARE_UNRECORDED,
    &rules::evaluation_draws_training_rng::EVALUATION_DRAWS_TRAINING_RNG,
    &rules::rank_seed::RANK_SEED,
];

/// Lints one Python source; `display` is the path findings carry. Sorted by position.
pub fn lint_python(display: &str, source: &str) -> Result<Vec<Finding>, model::ParseError> {
    let script = Script::parse(source)?;
    let ctx = rules::Context {
        path: display,
        script: &script,
    };
    let mut out = Vec::new();
    rules::unseeded_rng::check(&ctx, &mut out);
    rules::cudnn_nondeterministic::check(&ctx, &mut out);
    rules::cublas_workspace_unset::check(&ctx, &mut out);
    rules::pythonhashseed_at_runtime::check(&ctx, &mut out);
    rules::shuffle_without_generator::check(&ctx, &mut out);
    rules::distributed_sampler_without_set_epoch::check(&ctx, &mut out);
    rules::unsorted_listing::check(&ctx, &mut out);
    rules::spawn_loses_seed::check(&ctx, &mut out);
    rules::checkpoint_without_rng_state::check(&ctx, &mut out);
    rules::hardware_unrecorded::check(&ctx, &mut out);
    rules::evaluation_draws_training_rng::check(&ctx, &mut out);
    rules::rank_seed::check(&ctx, &mut out);
    out.sort_by(|a, b| {
        (a.location.line, a.location.column, &a.code).cmp(&(
            b.location.line,
            b.location.column,
            &b.code,
        ))
    });
    Ok(out)
}
