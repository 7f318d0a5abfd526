//! Procedural macros of [securenn-dsl](https://docs.rs/securenn-dsl). Use them through
//! `securenn_dsl`, which re-exports them; generated code names only
//! `::securenn_dsl::__private`.

mod args;
mod batch;
mod expand;
mod rewrite;

use proc_macro::TokenStream;

/// Marks a function as a private protocol that runs at each of the three parties.
///
/// Today the attribute checks that it is applied to a function without arguments of its
/// own and leaves the function unchanged; the expansion into async protocol calls with
/// compile-time checks of party roles, moduli and fixed-point scale builds on it.
///
/// # Examples
///
/// ```
/// #[securenn_dsl::protocol]
/// fn double(x: u64) -> u64 {
///     2 * x
/// }
///
/// assert_eq!(double(21), 42);
/// ```
#[proc_macro_attribute]
pub fn protocol(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::protocol(args.into(), item.into()).into()
}
