//! The client's side: split an input into the two servers' halves, and put the two
//! halves of an answer back together. Nothing here talks to a server; a transport carries
//! the halves ([`QueryHalf::encode`], [`Reply::decode`]).

use super::query::{AnswerHalf, QueryHalf, QueryId, Reply};
use crate::error::{Error, QueryProblem, Result};
use crate::prg::Prg;
use crate::ring::fixed::{self, FRACTIONAL_BITS};
use crate::ring::{Ring, Z64};

/// A prediction, put together from the two servers' answers: only the client holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The predicted class (the index of the largest output).
    pub class: usize,
    /// The network's outputs, if the servers send scores.
    pub scores: Option<Vec<f64>>,
}

/// Splits `input` (the network's input, fixed point at 13 fractional bits, as
/// [`Dataset::encode`](crate::nn::data::Dataset::encode) gives it) into two additive
/// shares with fresh randomness from `rng`, under a fresh random id: the half for P0 and
/// the half for P1. Each half alone is uniformly random; nothing goes to P2. `rng` must
/// be the client's own, keyed from its operating system ([`Prg::from_os_rng`]), never a
/// stream a server could know.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prg::Prg;
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::serve::split_query;
///
/// let input = [Z64::new(5), Z64::new(8192)];
/// let [p0, p1] = split_query(&input, &mut Prg::from_os_rng()?);
/// assert_eq!(p0.id, p1.id);
/// assert_eq!(p0.shares[1] + p1.shares[1], Z64::new(8192));
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn split_query(input: &[Z64], rng: &mut Prg) -> [QueryHalf; 2] {
    let mut id = [0u8; 16];
    rng.fill(&mut id);
    let id = QueryId(id);
    let mut mask = vec![Z64::ZERO; input.len()];
    Z64::fill_random(rng, &mut mask);
    let other = input.iter().zip(&mask).map(|(&x, &r)| x - r).collect();
    [
        QueryHalf { id, shares: mask },
        QueryHalf { id, shares: other },
    ]
}

/// The prediction from the two servers' replies to one query (P0's, then P1's), for a
/// network with `classes` outputs.
///
/// # Errors
///
/// [`Error::Query`]: a server's refusal ([`QueryProblem::Busy`], `Unpaired`, ...), or
/// [`QueryProblem::Mismatched`] if the replies are of different queries, one has scores
/// and the other not, or the class is out of range (answers that were not computed
/// together).
pub fn reconstruct(replies: [Reply; 2], classes: usize) -> Result<Prediction> {
    let [p0, p1] = replies;
    let (p0, p1) = match (p0, p1) {
        (Reply::Answer(p0), Reply::Answer(p1)) => (p0, p1),
        (Reply::Refused { refusal, .. }, _) | (_, Reply::Refused { refusal, .. }) => {
            return Err(Error::Query(refusal.problem()));
        }
    };
    let mismatched = |what| Err(Error::Query(QueryProblem::Mismatched(what)));
    if p0.id != p1.id {
        return mismatched("they answer different queries");
    }
    if p0.scores.len() != p1.scores.len() {
        return mismatched("they hold different numbers of scores");
    }
    let AnswerHalf { class, scores, .. } = p0;
    let class = class + p1.class;
    let class = match usize::try_from(class.value()) {
        Ok(class) if class < classes => class,
        _ => return mismatched("their class is out of range"),
    };
    let scores = (!scores.is_empty()).then(|| {
        scores
            .iter()
            .zip(&p1.scores)
            .map(|(&a, &b)| fixed::decode(a + b, FRACTIONAL_BITS))
            .collect()
    });
    Ok(Prediction { class, scores })
}
