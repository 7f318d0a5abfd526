//! The three parties: [`P0`], [`P1`] and the helper [`P2`], as types and as a runtime [`Role`].
//!
//! P0 and P1 hold additive shares of every secret; P2 supplies correlated randomness and
//! evaluates masked comparisons, and must never learn a secret. The zero-sized party types
//! let the compiler check who may do what: only an [`InputParty`] can provide an input,
//! only an [`OutputParty`] can receive a revealed value, and a [`Private<P, T>`] value
//! exists only at party `P`.
//!
//! Its layer (the book's "Architecture" page): the bottom; it imports nothing from the
//! crate.

mod private;

pub use private::{Common, Private, Revealed};

use core::fmt;

use serde::{Deserialize, Serialize};

/// A party's role at run time.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::Role;
///
/// assert_eq!(Role::P1.index(), 1);
/// assert_eq!(Role::P0.peers(), [Role::P1, Role::P2]);
/// assert!(Role::P2.is_helper());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The first share holder.
    P0,
    /// The second share holder.
    P1,
    /// The helper: correlated randomness and masked comparisons, no shares of secrets.
    P2,
}

impl Role {
    /// All three roles, in order.
    pub const ALL: [Role; 3] = [Role::P0, Role::P1, Role::P2];

    /// 0, 1 or 2.
    pub const fn index(self) -> usize {
        match self {
            Role::P0 => 0,
            Role::P1 => 1,
            Role::P2 => 2,
        }
    }

    /// 0, 1 or 2, as a byte (for the wire).
    pub const fn id(self) -> u8 {
        match self {
            Role::P0 => 0,
            Role::P1 => 1,
            Role::P2 => 2,
        }
    }

    /// The role with this index, if there is one.
    pub const fn from_index(index: usize) -> Option<Role> {
        match index {
            0 => Some(Role::P0),
            1 => Some(Role::P1),
            2 => Some(Role::P2),
            _ => None,
        }
    }

    /// The two other parties, in order.
    pub const fn peers(self) -> [Role; 2] {
        match self {
            Role::P0 => [Role::P1, Role::P2],
            Role::P1 => [Role::P0, Role::P2],
            Role::P2 => [Role::P0, Role::P1],
        }
    }

    /// Whether this is the helper P2.
    pub const fn is_helper(self) -> bool {
        matches!(self, Role::P2)
    }

    /// For a share holder (P0 or P1), the other share holder.
    pub const fn other_holder(self) -> Option<Role> {
        match self {
            Role::P0 => Some(Role::P1),
            Role::P1 => Some(Role::P0),
            Role::P2 => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::P0 => "P0",
            Role::P1 => "P1",
            Role::P2 => "P2",
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::P0 {}
    impl Sealed for super::P1 {}
    impl Sealed for super::P2 {}
}

/// A party as a type. Implemented by [`P0`], [`P1`] and [`P2`] only.
pub trait Party:
    sealed::Sealed + Copy + Default + fmt::Debug + Send + Sync + Unpin + 'static
{
    /// The runtime role of this party.
    const ROLE: Role;
}

/// The first share holder, as a type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct P0;

/// The second share holder, as a type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct P1;

/// The helper, as a type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct P2;

impl Party for P0 {
    const ROLE: Role = Role::P0;
}
impl Party for P1 {
    const ROLE: Role = Role::P1;
}
impl Party for P2 {
    const ROLE: Role = Role::P2;
}

/// A party that may provide a secret input: P0 or P1. The helper P2 never holds a secret.
#[diagnostic::on_unimplemented(
    message = "party `{Self}` cannot provide a secret input; only `P0` and `P1` hold shares",
    label = "the helper `P2` must never see a secret",
    note = "give the input to `P0` or `P1`, which secret-share it between them"
)]
pub trait InputParty: Party {}
impl InputParty for P0 {}
impl InputParty for P1 {}

/// A party that may receive a revealed value: P0 or P1. Revealing to P2 is refused.
#[diagnostic::on_unimplemented(
    message = "cannot reveal a secret to `{Self}`; only `P0` or `P1` may receive an output",
    label = "the helper `P2` must never learn a secret",
    note = "reveal to `P0` or `P1` with `reveal_to::<P0>` or `reveal_to::<P1>`"
)]
pub trait OutputParty: Party {}
impl OutputParty for P0 {}
impl OutputParty for P1 {}

/// Party `Self` is party `P`: one party's private values exist only in that party's code.
#[diagnostic::on_unimplemented(
    message = "a value private to `{Self}` cannot be used in `{P}`'s code",
    label = "this value exists only at `{Self}`",
    note = "each party's private values stay at that party; to compute on values of two parties, share both with `share(x)`"
)]
pub trait SameParty<P: Party>: Party {}
impl<P: Party> SameParty<P> for P {}
