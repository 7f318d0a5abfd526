//! Checkpoints of private training, to resume after a crash: every so many steps P0 and
//! P1 each write their own shares (weights and momentum) to `DIR/checkpoints/`, atomically,
//! keeping the [`KEPT`] latest; after a crash each lists what it holds, the two resume
//! from the latest step they both hold ([`latest_common`]), and each loads its own file.
//!
//! A checkpoint file is a share file ([`save_shares`]) named
//! `party{i}-step{step:08}-{model_id}.safetensors`: the model id tells the runs apart (it is
//! drawn afresh by every run that starts from new weights) and the recorded run options
//! (`run`) make sure that a run is resumed only with the options it was started with.
//!
//! ```no_run
//! # async fn example(
//! #     session: &securenn_dsl::session::Session,
//! #     network: &securenn_dsl::nn::private::PrivateNetwork,
//! # ) -> securenn_dsl::Result<()> {
//! use securenn_dsl::nn::checkpoint::Checkpoints;
//!
//! let checkpoints = Checkpoints::in_dir("runs/a");
//! let role = session.role();
//! // After step 500 of the run `model_id`, trained with the options `run`:
//! checkpoints.write(network, role, 500, "0123abcd", "batch 128")?;
//! // After a restart: what this party holds, then the network back from it.
//! let held = checkpoints.list(role)?;
//! let resumed = checkpoints.load(
//!     network.spec(),
//!     *network.config(),
//!     role,
//!     500,
//!     "0123abcd",
//!     "batch 128",
//! )?;
//! # let _ = (held, resumed);
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::nn::config::TrainConfig;
use crate::nn::private::PrivateNetwork;
use crate::nn::spec::NetworkSpec;
use crate::nn::weights::{ShareInfo, load_shares, save_shares};
use crate::party::Role;

/// How many checkpoints each party keeps: its latest may be newer than the other party's,
/// whose one before is then the one both hold.
pub const KEPT: usize = 2;

/// The folder of a save directory that holds the checkpoints.
pub const FOLDER: &str = "checkpoints";

/// The checkpoints of a save directory.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    folder: PathBuf,
}

impl Checkpoints {
    /// The checkpoints in `save_dir/checkpoints/`.
    pub fn in_dir(save_dir: impl AsRef<Path>) -> Self {
        Checkpoints {
            folder: save_dir.as_ref().join(FOLDER),
        }
    }

    /// The folder the checkpoints are in.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The file of `role`'s checkpoint after `step` steps of the run `model_id`.
    pub fn path(&self, role: Role, step: usize, model_id: &str) -> PathBuf {
        self.folder.join(format!(
            "party{}-step{step:08}-{model_id}.safetensors",
            role.index()
        ))
    }

    /// The checkpoints `role` holds: (step, model id), oldest first. A missing folder holds
    /// none; files of other names are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the folder exists but cannot be read.
    pub fn list(&self, role: Role) -> Result<Vec<(usize, String)>> {
        let entries = match std::fs::read_dir(&self.folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.folder, e)),
        };
        let prefix = format!("party{}-step", role.index());
        let mut held = Vec::new();
        for entry in entries {
            let name = entry.map_err(|e| Error::io(&self.folder, e))?.file_name();
            let Some(rest) = name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|n| n.strip_suffix(".safetensors"))
            else {
                continue;
            };
            if let Some((step, id)) = rest.split_once('-')
                && let Ok(step) = step.parse::<usize>()
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_hexdigit())
            {
                held.push((step, id.to_owned()));
            }
        }
        held.sort();
        Ok(held)
    }

    /// Writes `role`'s shares of `network` as the checkpoint after `step` steps of the run
    /// `model_id` with the options `run`, then deletes all but the [`KEPT`] latest of this
    /// run. The helper, which holds no shares, writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the folder or the file cannot be written.
    pub fn write(
        &self,
        network: &PrivateNetwork,
        role: Role,
        step: usize,
        model_id: &str,
        run: &str,
    ) -> Result<()> {
        let Some(shares) = network.shares() else {
            return Ok(());
        };
        std::fs::create_dir_all(&self.folder).map_err(|e| Error::io(&self.folder, e))?;
        let about = ShareInfo {
            model_id: model_id.to_owned(),
            iteration: step as u64,
            run: run.to_owned(),
        };
        save_shares(
            &self.path(role, step, model_id),
            network.spec(),
            role,
            &shares,
            &about,
        )?;
        let held = self.list(role).unwrap_or_default();
        let this_run = held.iter().filter(|(_, id)| id == model_id);
        for (old, id) in this_run.rev().skip(KEPT) {
            // A checkpoint that cannot be deleted costs disk space, not correctness.
            let _ = std::fs::remove_file(self.path(role, *old, id));
        }
        Ok(())
    }

    /// `role`'s part of the network as the checkpoint after `step` steps of the run
    /// `model_id` left it (the helper's part holds no shares and reads no file).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Weights`] if the file cannot be read or is not a share file
    /// of `spec` for `role`; [`Error::Weights`] too if it holds another step or run than its
    /// name says, or was written by a run with options other than `run`.
    pub fn load(
        &self,
        spec: &NetworkSpec,
        config: TrainConfig,
        role: Role,
        step: usize,
        model_id: &str,
        run: &str,
    ) -> Result<PrivateNetwork> {
        let shares = if role.is_helper() {
            None
        } else {
            let path = self.path(role, step, model_id);
            let (shares, about) = load_shares(&path, spec, role)?;
            if about.iteration != step as u64 || about.model_id != model_id {
                return Err(Error::Weights {
                    path,
                    problem: "the file does not hold the checkpoint its name says".into(),
                });
            }
            if about.run != run {
                return Err(Error::Weights {
                    path,
                    problem: format!(
                        "written by a run with other options ({}); this run has {run}",
                        about.run
                    ),
                });
            }
            Some(shares)
        };
        PrivateNetwork::from_shares(role, spec.clone(), shares, config)
    }
}

/// The checkpoint to resume from: the latest (step, model id) that both P0's and P1's lists
/// hold.
pub fn latest_common(p0: &[(usize, String)], p1: &[(usize, String)]) -> Option<(usize, String)> {
    p0.iter().filter(|c| p1.contains(c)).max().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_step_both_hold_is_resumed() {
        let id = |s: &str| s.to_owned();
        let p0 = [(400, id("ab")), (500, id("ab"))];
        let p1 = [(300, id("ab")), (400, id("ab"))];
        assert_eq!(latest_common(&p0, &p1), Some((400, id("ab"))));
        assert_eq!(latest_common(&p0, &[(500, id("cd"))]), None);
    }

    #[test]
    fn only_checkpoint_files_are_listed() {
        let dir = std::env::temp_dir().join(format!("securenn-ckpt-{}", std::process::id()));
        let checkpoints = Checkpoints::in_dir(&dir);
        assert!(checkpoints.list(Role::P0).unwrap().is_empty());
        std::fs::create_dir_all(checkpoints.folder()).unwrap();
        for name in [
            "party0-step00000100-ab12.safetensors",
            "party0-step00000020-ab12.safetensors",
            "party1-step00000100-ab12.safetensors",
            "party0-stepXX-ab12.safetensors",
            "party0-step00000100-notHex.safetensors",
            "notes.txt",
        ] {
            std::fs::write(checkpoints.folder().join(name), b"").unwrap();
        }
        let listed = checkpoints.list(Role::P0).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(listed, [(20, "ab12".to_owned()), (100, "ab12".to_owned())]);
    }
}
