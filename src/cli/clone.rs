//! `mallard clone --state DIR`: this target's relations of the selected models, seeds and
//! snapshots as views over the relations the other run built (see [`crate::runner::clone`]).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use super::args::RunArgs;
use crate::artifacts::Invocation;
use crate::manifest::ResourceType;
use crate::runner::run::read_defer_state;
use crate::session::Session;

/// `clone --state DIR`: the selected models, seeds and snapshots (ephemeral models have no
/// relation and are left out), cloned by [`crate::runner::clone::run`].
///
/// Exit codes: 0; 1 when a node could not be cloned; 2 without `--state` (before anything
/// is opened).
pub(super) fn clone(args: RunArgs, invocation: &Invocation) -> Result<ExitCode> {
    let started = Instant::now();
    let state = read_defer_state(args.defer_state_dir(), "clone")?;
    let session = Session::load(&args.project.load_options())?;
    let plan = session.plan(
        &args.select.selection(),
        &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
        false,
        true,
    )?;
    let database = session.open_database(args.lock_timeout)?;
    crate::runner::clone::run(
        &session,
        &plan,
        database,
        &state,
        args.full_refresh,
        started,
        invocation,
    )
}
