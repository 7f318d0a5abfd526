//! Checkpoints of a run: the options they record, and the step P0 and P1 resume from.

use securenn_dsl::Error;
use securenn_dsl::error::ResumeProblem;

use super::*;

/// The job field in which `role` states the checkpoints it holds.
pub(super) fn checkpoints_field(role: Role) -> String {
    format!("{role} checkpoints")
}

/// The options that determine what training computes, recorded in share files: a run is
/// resumed only with the options it was started with.
pub(super) fn run_options(settings: &TrainSettings) -> String {
    let config = &settings.config;
    let schedule = settings.lr_halving_epochs.map_or(String::new(), |k| {
        format!(", learning rate halved every {k} epochs")
    });
    format!(
        "network {}, batch {}, learning rate 2^-{}, momentum {}, loss {:?}, seed {}{schedule}",
        settings.spec.name(),
        config.batch(),
        config.lr_shift,
        config
            .momentum_shift
            .map_or("0".to_owned(), |k| format!("1 - 2^-{k}")),
        config.loss,
        settings.seed
    )
}

/// The checkpoint to resume from: the latest step that P0 and P1 both hold, of one model,
/// as they stated in their jobs (`own` is this party's job).
pub(super) fn resume_point(session: &Session, own: &Job) -> securenn_dsl::Result<(usize, String)> {
    let stated = |role: Role| -> securenn_dsl::Result<Vec<(usize, String)>> {
        let job = if session.role() == role {
            Some(own)
        } else {
            session.peer_job(role)
        };
        let listed = job
            .and_then(|j| j.get(&checkpoints_field(role)))
            .ok_or(Error::Resume(ResumeProblem::NotStated { party: role }))?;
        listed
            .split(',')
            .map(|item| {
                item.split_once(':')
                    .and_then(|(step, id)| Some((step.parse().ok()?, id.to_owned())))
                    .ok_or(Error::Resume(ResumeProblem::MalformedList { party: role }))
            })
            .collect()
    };
    let (p0, p1) = (stated(Role::P0)?, stated(Role::P1)?);
    let steps = |list: &[(usize, String)]| list.iter().map(|&(step, _)| step).collect();
    latest_common(&p0, &p1).ok_or_else(|| {
        Error::Resume(ResumeProblem::NoCommonCheckpoint {
            p0: steps(&p0),
            p1: steps(&p1),
        })
    })
}
