//! Values that exist at one party only: [`Private<P, T>`] (an input) and [`Revealed<P, T>`]
//! (an output).

use core::fmt;
use core::marker::PhantomData;

use super::{Party, Role, SameParty};

/// A value that only party `P` holds, such as its plaintext input.
///
/// The same program runs at every party. At `P`, a `Private<P, T>` holds the value; at the
/// two other parties it is empty, and no method gives access to a value there. Its `Debug`
/// output never shows the value.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::{P0, Private, Role};
///
/// // At P0 the closure runs and the value is kept...
/// let at_p0 = Private::<P0, u32>::new(Role::P0, || 42);
/// assert_eq!(at_p0.get(), Some(&42));
/// // ...at P1 it never runs.
/// let at_p1 = Private::<P0, u32>::new(Role::P1, || unreachable!());
/// assert_eq!(at_p1.get(), None);
/// ```
pub struct Private<P: Party, T> {
    value: Option<T>,
    party: PhantomData<P>,
}

impl<P: Party, T> Private<P, T> {
    /// Runs `make` and keeps its result if `role` is `P`; otherwise holds nothing and does
    /// not run `make`.
    pub fn new(role: Role, make: impl FnOnce() -> T) -> Self {
        Private {
            value: (role == P::ROLE).then(make),
            party: PhantomData,
        }
    }

    /// Like [`Private::new`], for a fallible `make`.
    ///
    /// # Errors
    ///
    /// Whatever `make` returns, at party `P` only.
    pub fn try_new<E>(role: Role, make: impl FnOnce() -> Result<T, E>) -> Result<Self, E> {
        let value = if role == P::ROLE { Some(make()?) } else { None };
        Ok(Private {
            value,
            party: PhantomData,
        })
    }

    /// Applies `f` to the value at its owner; elsewhere stays empty and `f` does not run.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Private<P, U> {
        Private {
            value: self.value.map(f),
            party: PhantomData,
        }
    }

    /// Like [`Private::map`], for a fallible `f`.
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, at the owner.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Private<P, U>, E> {
        Ok(Private {
            value: self.value.map(f).transpose()?,
            party: PhantomData,
        })
    }

    /// Pairs this value with another value of the same party, for code that runs at that
    /// party on both. Pairing values of two different parties does not compile: neither
    /// party holds both.
    ///
    /// # Examples
    ///
    /// ```
    /// use securenn_dsl::party::{P0, Private, Role};
    ///
    /// let weights = Private::<P0, _>::new(Role::P0, || vec![1.0, 2.0]);
    /// let bias = Private::<P0, _>::new(Role::P0, || 0.5);
    /// let shifted = weights.zip(bias).map(|(w, b)| w.iter().map(|v| v + b).collect::<Vec<_>>());
    /// assert_eq!(shifted.get(), Some(&vec![1.5, 2.5]));
    /// ```
    pub fn zip<Q, U>(self, other: Private<Q, U>) -> Private<P, (T, U)>
    where
        Q: SameParty<P>,
    {
        Private {
            value: self.value.zip(other.value),
            party: PhantomData,
        }
    }

    /// The party that holds the value.
    pub fn owner(&self) -> Role {
        P::ROLE
    }

    /// The value, at party `P`; `None` elsewhere.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, at party `P`; `None` elsewhere.
    pub fn into_inner(self) -> Option<T> {
        self.value
    }
}

impl<P: Party, T> fmt::Debug for Private<P, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Private")
            .field("owner", &P::ROLE)
            .field("present", &self.value.is_some())
            .finish_non_exhaustive()
    }
}

/// A value revealed to party `P` only: `Some` at `P`, `None` at the other parties.
///
/// Returned by [`reveal_to`](crate::dsl::reveal_to). Its `Debug` output never shows the
/// value.
pub struct Revealed<P: Party, T> {
    value: Option<T>,
    party: PhantomData<P>,
}

impl<P: Party, T> Revealed<P, T> {
    pub(crate) fn new(value: Option<T>) -> Self {
        Revealed {
            value,
            party: PhantomData,
        }
    }

    /// The party that received the value.
    pub fn receiver(&self) -> Role {
        P::ROLE
    }

    /// The value, at party `P`; `None` elsewhere.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, at party `P`; `None` elsewhere.
    pub fn into_inner(self) -> Option<T> {
        self.value
    }
}

impl<P: Party, T> fmt::Debug for Revealed<P, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revealed")
            .field("receiver", &P::ROLE)
            .field("present", &self.value.is_some())
            .finish_non_exhaustive()
    }
}

/// A value both share holders (P0 and P1) know and the helper P2 does not: the public
/// threshold of a PrivateCompare, a common random bit. At P2 it is empty.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::{Common, Role};
///
/// assert_eq!(Common::new(Role::P1, || 5).get(), Some(&5));
/// assert_eq!(Common::new(Role::P2, || 5).get(), None);
/// ```
pub struct Common<T> {
    value: Option<T>,
}

impl<T> Common<T> {
    /// Runs `make` and keeps its result at P0 and P1; at P2 holds nothing and does not run
    /// `make`.
    pub fn new(role: Role, make: impl FnOnce() -> T) -> Self {
        Common {
            value: (!role.is_helper()).then(make),
        }
    }

    /// The value, at P0 and P1; `None` at P2.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }
}

impl<T> fmt::Debug for Common<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("present", &self.value.is_some())
            .finish_non_exhaustive()
    }
}
