//! What is wrong with offline material: used twice, dealt for another program, or a file
//! that is not (or no longer) what was written.

use crate::party::Role;
use crate::tag::CallId;

/// What is wrong with offline material ([`Material`](crate::session::Material)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MaterialProblem {
    /// Every run the material was dealt for has been used: material is never used twice.
    #[error("all {count} runs it was dealt for are used (material is never used twice)")]
    Exhausted {
        /// The runs it holds.
        count: u64,
    },
    /// The run asked for was used before.
    #[error("run {index} was used before (material is never used twice)")]
    Used {
        /// The run, from 0.
        index: u64,
    },
    /// The material was dealt for another program (another network, batch or model).
    #[error("it was dealt for {dealt_for:?}, not for {asked_for:?}")]
    OtherProgram {
        /// What it was dealt for.
        dealt_for: String,
        /// What it was asked for.
        asked_for: String,
    },
    /// The material belongs to another party.
    #[error("it is {holder}'s material, not {asked_by}'s")]
    OtherParty {
        /// The party it was written for.
        holder: Role,
        /// The party that loaded it.
        asked_by: Role,
    },
    /// A protocol step asked for a dealt message that the material does not hold: it was
    /// dealt for another program.
    #[error("it holds no message {step} of call {call}: it was dealt for another program")]
    Missing {
        /// The call.
        call: CallId,
        /// The message step within it.
        step: u16,
    },
    /// A dealt message does not hold the number of bytes the protocol step expects, or is
    /// not canonical.
    #[error("message {step} of call {call} holds {found} bytes, the protocol expects {expected}")]
    WrongLength {
        /// The call.
        call: CallId,
        /// The message step within it.
        step: u16,
        /// Bytes expected.
        expected: u64,
        /// Bytes held.
        found: u64,
    },
    /// A dealt message's bytes are not elements of the protocol step's ring.
    #[error("message {step} of call {call} holds values outside its ring")]
    NotCanonical {
        /// The call.
        call: CallId,
        /// The message step within it.
        step: u16,
    },
    /// The file ends before what its header announces, or its content is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The file was not written by this version of securenn.
    #[error("not a securenn material file (or one of another version)")]
    NotMaterial,
    /// A run's dealt messages would exceed the limit on a run's material.
    #[error("a run's material would hold {bytes} bytes, over the limit of {limit}")]
    TooLarge {
        /// Bytes announced.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
}
