//! Three parties in one process, over the in-memory transport.

use std::future::Future;

use crate::error::{Error, Result};
use crate::net::Transport;
use crate::net::local::LocalTransport;

use super::{Session, SessionConfig};

/// Runs `party` at P0, P1 and P2, each on its own thread, over the in-memory transport with
/// the default [`SessionConfig`]; returns their results in role order.
///
/// # Errors
///
/// If any party fails, the error that started the failure (not the echo of it at the
/// parties that then lost their peer).
///
/// # Panics
///
/// Re-raises a panic of any party's code.
///
/// # Examples
///
/// ```
/// use securenn_dsl::session::run_local;
///
/// let roles = run_local(|session| async move { Ok(session.role().index()) })?;
/// assert_eq!(roles, [0, 1, 2]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn run_local<T, F, Fut>(party: F) -> Result<[T; 3]>
where
    F: Fn(Session) -> Fut + Sync,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    run_local_with(&SessionConfig::default(), party)
}

/// [`run_local`] with a custom configuration.
///
/// # Errors
///
/// As [`run_local`].
///
/// # Panics
///
/// Re-raises a panic of any party's code.
pub fn run_local_with<T, F, Fut>(config: &SessionConfig, party: F) -> Result<[T; 3]>
where
    F: Fn(Session) -> Fut + Sync,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    run_with_transports(LocalTransport::triple(&config.net), config, party)
}

/// [`run_local`] over transports of the caller's choice (one per role, in role order): for
/// instance an in-memory transport wrapped to record or disturb what a party receives.
///
/// # Errors
///
/// As [`run_local`].
///
/// # Panics
///
/// Re-raises a panic of any party's code.
pub fn run_with_transports<Tr, T, F, Fut>(
    transports: [Tr; 3],
    config: &SessionConfig,
    party: F,
) -> Result<[T; 3]>
where
    Tr: Transport + 'static,
    F: Fn(Session) -> Fut + Sync,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    let party = &party;
    let results: Vec<Result<T>> = std::thread::scope(|scope| {
        let handles = transports.map(|transport| {
            scope.spawn(move || {
                futures::executor::block_on(async move {
                    let session = Session::start(transport, config).await?;
                    party(session).await
                })
            })
        });
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    collect_results(results)
}

/// The three parties' values, or the root-cause error.
fn collect_results<T>(results: Vec<Result<T>>) -> Result<[T; 3]> {
    if let Some(root) = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .find(|e| !e.is_peer_closed())
        .or_else(|| results.iter().find_map(|r| r.as_ref().err()))
    {
        return Err(root.clone());
    }
    let values: Vec<T> = results.into_iter().filter_map(Result::ok).collect();
    values
        .try_into()
        .map_err(|_| Error::Internal("run_local expects exactly three parties"))
}

/// Starts the three sessions of an in-memory cluster on the current task, for code that
/// drives all three parties itself (benchmarks, single-threaded tests).
///
/// # Errors
///
/// As [`Session::start`].
pub async fn local_sessions(config: &SessionConfig) -> Result<[Session; 3]> {
    let [t0, t1, t2] = LocalTransport::triple(&config.net);
    let (s0, s1, s2) = futures::try_join!(
        Session::start(t0, config),
        Session::start(t1, config),
        Session::start(t2, config)
    )?;
    Ok([s0, s1, s2])
}
