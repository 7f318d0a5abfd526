//! Procedural macros of [securenn-dsl](https://docs.rs/securenn-dsl). Use them through
//! `securenn_dsl`, which re-exports them; generated code names only
//! `::securenn_dsl::__private` and `::securenn_dsl::dsl`.

mod args;
mod batch;
mod expand;
mod rewrite;

use proc_macro::TokenStream;

/// Turns an ordinary function over shares into a protocol that runs at each of the three
/// parties.
///
/// ```text
/// #[protocol]                                      async fn dense(
/// fn dense(x: &Shared<Z64>, w: &Shared<Z64>)  =>       ctx: &(impl Context + ?Sized),
///     -> Shared<Z64>                                   x: &Shared<Z64>, w: &Shared<Z64>,
/// {                                                ) -> Result<Shared<Z64>>
///     relu(truncate(matmul(x, w)))
/// }
/// ```
///
/// The expanded function is `async`, takes the party's context (a
/// [`Session`](https://docs.rs/securenn-dsl/latest/securenn_dsl/session/struct.Session.html)
/// or an enclosing call) as its first parameter, after `self` for a method, and returns the
/// runtime's `Result`. It opens a call named after the function, so its messages and
/// randomness are its own. In its body:
///
/// - **Protocol operations** (`relu`, `drelu`, `select`, `matmul`, `conv2d`, `maxpool`,
///   `dmaxpool`, `divide`, `share_convert`, `compute_msb`, `private_compare`, `share`,
///   `deal`, ...) and layers' `forward` and `backward` methods receive the context and are
///   awaited; errors propagate with `?`. `x.reveal_to::<P>()` and `reveal_to::<P>(x)`
///   reveal to party `P` only. Another protocol function is called with the context
///   written out: `block(ctx, x)`.
/// - **Operators on shares are protocol steps**: `+` and `-` are local, `*` is a Beaver
///   product (or local with a `Public` factor), `/` is Division, and `<`, `<=`, `>`, `>=`
///   give a secret `Bit` by DReLU. On anything else they are Rust's operators.
/// - **Branches must be public**: the condition of `if`, `while`, `&&`, `||` and the
///   scrutinee of `match` are checked at compile time not to be a share or a `Bit`.
/// - **Independent steps share rounds**: consecutive `let`s that each run a protocol step
///   and do not use each other's results run concurrently, so two independent ReLUs cost
///   the rounds of one. A `let` that could observe another (a move meeting a borrow,
///   `&mut`, an assignment, `return`, a macro call) stays out of the batch.
/// - `return x` returns `Ok(x)`.
///
/// Closures, `async` blocks, nested items and macro calls are left as written.
///
/// # Arguments
///
/// - `name = "..."`: the name of the call the function opens (default: the function's).
/// - `crate = path`: the path of the runtime crate (default: `::securenn_dsl`).
///
/// # Compile errors
///
/// The macro reports, all at once and at the offending token: use on anything but a
/// function, unknown or duplicate arguments, `async`, `const`, `unsafe`, `extern` or
/// variadic functions, a parameter named `ctx`, and a `Result` return type (the expansion
/// adds it). The types report, each with our own sentence: mixing rings or fixed-point
/// scales, truncating twice, ComputeMSB off Z_2^64−1, PrivateCompare off Z_p, branching
/// on a share or a `Bit` (in `if`, `while`, `match` and its guards, `&&`, `||`), revealing
/// to or taking input from the helper `P2`, combining two parties' private values
/// (`Private::zip`), and dealing randomness at `P0` or `P1` (`deal::<P0>`).
///
/// The checks are on types: a plain value taken out of a `Private` or `Revealed` with
/// `get()` is not traced, so keep such values out of conditions.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::tensor::fixed;
///
/// /// max(x, y) elementwise, then ReLU.
/// #[protocol]
/// fn relu_of_larger(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
///     let bigger = x >= y;
///     relu(select(&bigger, x, y))
/// }
///
/// let [_, at_p1, _] = run_local(|session| async move {
///     let role = session.role();
///     let x = Private::<P0, _>::try_new(role, || fixed::encode_tensor([3], &[-2.0, 1.5, 4.0], 13))?;
///     let y = Private::<P1, _>::try_new(role, || fixed::encode_tensor([3], &[-1.0, 2.5, -3.0], 13))?;
///     let x: Shared<Z64> = share(&session, &x, [3]).await?;
///     let y: Shared<Z64> = share(&session, &y, [3]).await?;
///     let out = relu_of_larger(&session, &x, &y).await?;
///     let out = reveal_to::<P1, _>(&session, &out).await?;
///     Ok(out.into_inner().map(|t| fixed::decode_tensor(&t, 13)))
/// })?;
/// assert_eq!(at_p1.unwrap(), [0.0, 2.5, 4.0]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
///
/// Branching on a secret does not compile:
///
/// ```compile_fail
/// use securenn_dsl::prelude::*;
///
/// #[protocol]
/// fn leak(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
///     if x > y { x.clone() } else { y.clone() } // cannot branch on a secret `Bit`
/// }
/// ```
#[proc_macro_attribute]
pub fn protocol(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::protocol(args.into(), item.into()).into()
}
