//! Round batching: consecutive `let`s that each run a protocol step, and do not depend on
//! each other, run concurrently, so that their messages share rounds.
//!
//! ```text
//! let a = relu(ctx, &x).await?;          let (a, b) = {
//! let b = relu(ctx, &y).await?;    =>        let c0 = open(ctx, "batch");
//!                                            let c1 = open(ctx, "batch");
//!                                            try_join!(
//!                                                async { let ctx = &c0; ok(relu(ctx, &x).await?) },
//!                                                async { let ctx = &c1; ok(relu(ctx, &y).await?) },
//!                                            )?
//!                                        };
//! ```
//!
//! Each branch runs in its own call, opened before any branch starts, so that every party
//! numbers the calls inside the branches the same way whatever order the messages arrive
//! in.
//!
//! A `let` joins a run when its initializer calls a protocol step (an operation, a layer
//! method or a function given `ctx`) and the branches could not observe each other:
//! - it names none of the variables the run binds, and binds none of the same names;
//! - no variable it uses by value is borrowed by another `let` of the run, and it borrows
//!   none that another uses by value (a borrow must not meet a move; two uses by value
//!   compile only for `Copy` values, which are safe to share);
//! - it holds no `&mut`, assignment, `return`, `break`, `continue` or macro call, whose
//!   effects would depend on the order of the branches, and uses `ctx` only to pass it
//!   to a call;
//! - it is not a reference to a temporary (`let r = &relu(x);`), whose lifetime the
//!   `let` extends.
//!
//! Anything else ends the run. A run of one `let` is left as it was.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::visit::{self, Visit};
use syn::{Block, Expr, Local, Pat, Stmt};

use crate::expand::ctx_ident;

/// The variables of one `let`: what it binds, what it uses by value, what it uses at all.
#[derive(Default)]
struct Names {
    bound: BTreeSet<String>,
    moved: BTreeSet<String>,
    borrowed: BTreeSet<String>,
    used: BTreeSet<String>,
}

impl Names {
    /// Whether a `let` with these names may run concurrently with a run with `run`'s.
    ///
    /// Two `let`s that both use a variable by value are fine: if the program compiles as
    /// written, the variable is `Copy` (a reference, a number). A borrow meeting a move is
    /// not: the move may be legal only after the borrow has ended.
    fn independent_of(&self, run: &Names) -> bool {
        self.used.is_disjoint(&run.bound)
            && self.bound.is_disjoint(&run.bound)
            && self.moved.is_disjoint(&run.borrowed)
            && self.borrowed.is_disjoint(&run.moved)
    }

    fn extend(&mut self, other: Names) {
        self.bound.extend(other.bound);
        self.moved.extend(other.moved);
        self.borrowed.extend(other.borrowed);
        self.used.extend(other.used);
    }
}

/// Replaces each run of two or more independent protocol `let`s in `block` with one
/// concurrent batch.
pub(crate) fn batch_independent_lets(block: &mut Block, krate: &TokenStream) {
    let mut output = Vec::with_capacity(block.stmts.len());
    let mut run: Vec<Local> = Vec::new();
    let mut names = Names::default();
    for stmt in std::mem::take(&mut block.stmts) {
        let candidate = match &stmt {
            Stmt::Local(local) => batchable(local),
            _ => None,
        };
        match (stmt, candidate) {
            (Stmt::Local(local), Some(local_names)) => {
                if !local_names.independent_of(&names) {
                    flush(&mut run, &mut output, krate);
                    names = Names::default();
                }
                names.extend(local_names);
                run.push(local);
            }
            (other, _) => {
                flush(&mut run, &mut output, krate);
                names = Names::default();
                output.push(other);
            }
        }
    }
    flush(&mut run, &mut output, krate);
    block.stmts = output;
}

/// Emits `run`: as one batch if it holds two `let`s or more, as it was otherwise.
fn flush(run: &mut Vec<Local>, output: &mut Vec<Stmt>, krate: &TokenStream) {
    let locals = std::mem::take(run);
    if locals.len() < 2 {
        output.extend(locals.into_iter().map(Stmt::Local));
        return;
    }
    let ctx = ctx_ident();
    let mut patterns = Vec::new();
    let mut opens = Vec::new();
    let mut branches = Vec::new();
    for (index, local) in locals.iter().enumerate() {
        let call = format_ident!("__securenn_batch_{}", index, span = Span::mixed_site());
        let value = format_ident!("__securenn_value", span = Span::mixed_site());
        let (pattern, ty) = match &local.pat {
            Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            pattern => (pattern, None),
        };
        let ty = ty.map(|ty| quote!(: #ty));
        let init = local.init.as_ref().map(|init| &init.expr);
        patterns.push(pattern.clone());
        opens.push(quote! {
            let #call = #krate::__private::open(#ctx, "batch");
        });
        branches.push(quote! {
            async {
                let #ctx = &#call;
                let #value #ty = #init;
                #krate::__private::ok(#value)
            }
        });
    }
    let batched = quote! {
        let (#(#patterns,)*) = {
            #(#opens)*
            #krate::__private::try_join!(#(#branches),*)?
        };
    };
    // The tokens come from parsed statements, so they parse again; if they ever did not,
    // the `let`s stay as they were rather than the macro panicking.
    match syn::parse2::<Block>(quote!({ #batched })) {
        Ok(block) if block.stmts.len() == 1 => output.extend(block.stmts),
        _ => output.extend(locals.into_iter().map(Stmt::Local)),
    }
}

/// The names of `local` if it may join a batch: a plain `let` with an initializer that
/// calls a protocol step, without `else` or attributes, and without effects whose order
/// would matter.
fn batchable(local: &Local) -> Option<Names> {
    let init = local.init.as_ref()?;
    if !local.attrs.is_empty()
        || init.diverge.is_some()
        || matches!(&*init.expr, Expr::Reference(_))
    {
        return None;
    }
    let mut usage = Usage::default();
    usage.visit_expr(&init.expr);
    if !usage.steps || usage.ordered || usage.escapes_ctx {
        return None;
    }
    let mut names = Names {
        moved: usage.moved,
        borrowed: usage.borrowed,
        used: usage.used,
        ..Names::default()
    };
    Bindings(&mut names.bound).visit_pat(&local.pat);
    Some(names)
}

/// The names a pattern binds.
struct Bindings<'a>(&'a mut BTreeSet<String>);

impl<'ast> Visit<'ast> for Bindings<'_> {
    fn visit_pat_ident(&mut self, ident: &'ast syn::PatIdent) {
        self.0.insert(ident.ident.to_string());
        visit::visit_pat_ident(self, ident);
    }
}

/// What an initializer does, outside closures and `async` blocks (which it may only
/// create, not run).
#[derive(Default)]
struct Usage {
    /// It awaits a protocol step: a call given the context first.
    steps: bool,
    /// It mutates, leaves its function or loop, or calls a macro.
    ordered: bool,
    /// It uses `ctx` other than by passing it to a call.
    escapes_ctx: bool,
    /// Variables used by value.
    moved: BTreeSet<String>,
    /// Variables used in place: borrowed, called a method on, a field or an index read.
    borrowed: BTreeSet<String>,
    /// Every variable used.
    used: BTreeSet<String>,
}

impl Usage {
    /// A variable used in place: borrowed, a method's receiver, a field's or an index's
    /// base. Anything else is visited as usual.
    fn visit_in_place(&mut self, expr: &Expr) {
        match expr {
            Expr::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
                self.record(path.path.segments[0].ident.to_string(), false);
            }
            Expr::Field(field) => self.visit_in_place(&field.base),
            Expr::Paren(inner) => self.visit_in_place(&inner.expr),
            other => self.visit_expr(other),
        }
    }

    /// A call's arguments; passing the context to a call is what it is for.
    fn visit_arguments<'a>(&mut self, arguments: impl IntoIterator<Item = &'a Expr>) {
        for argument in arguments {
            if !is_ctx(argument) {
                self.visit_expr(argument);
            }
        }
    }

    /// Records a variable, unless it is one of the generated code's own temporaries.
    fn record(&mut self, name: String, by_value: bool) {
        if name.starts_with("__securenn_") {
            return;
        }
        if name == "ctx" {
            self.escapes_ctx = true;
        }
        if by_value {
            self.moved.insert(name.clone());
        } else {
            self.borrowed.insert(name.clone());
        }
        self.used.insert(name);
    }
}

impl<'ast> Visit<'ast> for Usage {
    fn visit_expr(&mut self, node: &'ast Expr) {
        match node {
            Expr::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
                self.record(path.path.segments[0].ident.to_string(), true);
            }
            Expr::Reference(reference) => {
                if reference.mutability.is_some() {
                    self.ordered = true;
                }
                self.visit_in_place(&reference.expr);
            }
            Expr::Field(field) => self.visit_in_place(&field.base),
            Expr::Index(index) => {
                self.visit_in_place(&index.expr);
                self.visit_expr(&index.index);
            }
            Expr::MethodCall(call) => {
                self.visit_in_place(&call.receiver);
                self.visit_arguments(&call.args);
            }
            Expr::Call(call) => {
                // The function's name is not a variable.
                if !matches!(&*call.func, Expr::Path(_)) {
                    self.visit_expr(&call.func);
                }
                self.visit_arguments(&call.args);
            }
            Expr::Await(awaited) => {
                let base = &*awaited.base;
                let first = match base {
                    Expr::Call(call) => call.args.first(),
                    Expr::MethodCall(call) => call.args.first(),
                    _ => None,
                };
                if first.is_some_and(is_ctx) {
                    self.steps = true;
                }
                self.visit_expr(base);
            }
            Expr::Assign(_)
            | Expr::Return(_)
            | Expr::Break(_)
            | Expr::Continue(_)
            | Expr::Macro(_) => {
                self.ordered = true;
                visit::visit_expr(self, node);
            }
            Expr::Binary(binary) if is_compound_assignment(&binary.op) => {
                self.ordered = true;
                visit::visit_expr(self, node);
            }
            _ => visit::visit_expr(self, node),
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // A macro's tokens may use any variable, by value.
        self.ordered = true;
        collect_idents(mac.tokens.clone(), &mut self.used);
        collect_idents(mac.tokens.clone(), &mut self.moved);
        collect_idents(mac.tokens.clone(), &mut self.borrowed);
    }

    fn visit_local(&mut self, local: &'ast Local) {
        // A `let` inside a block of the initializer: its names shadow, conservatively
        // counted as used by value.
        let mut bound = BTreeSet::new();
        Bindings(&mut bound).visit_pat(&local.pat);
        for name in bound {
            self.record(name, true);
        }
        visit::visit_local(self, local);
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        // A closure may capture any variable it names, by value.
        let tokens = closure.body.to_token_stream();
        collect_idents(tokens.clone(), &mut self.used);
        collect_idents(tokens.clone(), &mut self.borrowed);
        collect_idents(tokens, &mut self.moved);
    }

    fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
        let tokens = block.block.to_token_stream();
        collect_idents(tokens.clone(), &mut self.used);
        collect_idents(tokens.clone(), &mut self.borrowed);
        collect_idents(tokens, &mut self.moved);
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

fn is_ctx(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(path) if path.qself.is_none() && path.path.is_ident("ctx"))
}

fn is_compound_assignment(op: &syn::BinOp) -> bool {
    matches!(
        op,
        syn::BinOp::AddAssign(_)
            | syn::BinOp::SubAssign(_)
            | syn::BinOp::MulAssign(_)
            | syn::BinOp::DivAssign(_)
            | syn::BinOp::RemAssign(_)
            | syn::BinOp::BitXorAssign(_)
            | syn::BinOp::BitAndAssign(_)
            | syn::BinOp::BitOrAssign(_)
            | syn::BinOp::ShlAssign(_)
            | syn::BinOp::ShrAssign(_)
    )
}

/// Every identifier in `tokens`.
fn collect_idents(tokens: TokenStream, names: &mut BTreeSet<String>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => {
                names.insert(ident.to_string());
            }
            TokenTree::Group(group) => collect_idents(group.stream(), names),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn batch(body: TokenStream) -> String {
        let mut block: Block = syn::parse2(quote!({ #body })).expect("test input parses");
        batch_independent_lets(&mut block, &quote!(::securenn_dsl));
        block.into_token_stream().to_string()
    }

    fn batches(body: TokenStream) -> usize {
        batch(body).matches("try_join !").count()
    }

    #[test]
    fn independent_protocol_lets_are_joined() {
        let out = batch(quote! {
            let a = relu(ctx, &x).await?;
            let b: Shared<Z64> = m.fc1.forward(ctx, &y).await?;
            a + b
        });
        assert!(out.starts_with("{ let (a , b ,) = {"), "{out}");
        assert_eq!(out.matches("open (ctx , \"batch\")").count(), 2, "{out}");
        assert!(out.contains("let ctx = &"), "{out}");
        assert!(
            out.contains(": Shared < Z64 > = m . fc1 . forward (ctx , & y) . await ?"),
            "{out}"
        );
        assert!(out.ends_with("a + b }"), "{out}");
    }

    #[test]
    fn a_let_that_uses_an_earlier_one_starts_a_new_run() {
        assert_eq!(
            batches(quote! {
                let h = relu(ctx, &x).await?;
                let h = relu(ctx, &h).await?;
            }),
            0
        );
    }

    #[test]
    fn runs_are_split_by_dependencies_and_statements() {
        let out = batch(quote! {
            let a = relu(ctx, &x).await?;
            let b = relu(ctx, &y).await?;
            let c = relu(ctx, &a).await?;
            let d = relu(ctx, &b).await?;
            print(c);
            let e = relu(ctx, &c).await?;
        });
        assert_eq!(out.matches("try_join !").count(), 2, "{out}");
        assert!(out.contains("let (a , b ,)"), "{out}");
        assert!(out.contains("let (c , d ,)"), "{out}");
        assert!(out.contains("let e = relu"), "{out}");
    }

    #[test]
    fn the_same_name_bound_twice_is_not_joined() {
        assert_eq!(
            batches(quote! {
                let a = relu(ctx, &x).await?;
                let a = relu(ctx, &y).await?;
            }),
            0
        );
    }

    #[test]
    fn a_move_never_meets_a_borrow_of_the_same_variable() {
        // `x` is borrowed by the first and moved by the second.
        assert_eq!(
            batches(quote! {
                let a = relu(ctx, &x).await?;
                let b = relu(ctx, x).await?;
            }),
            0
        );
        // Both borrow `x` (as a reference, a receiver, a field's base): joined.
        assert_eq!(
            batches(quote! {
                let a = relu(ctx, &x).await?;
                let b = x.w.forward(ctx, &x.b).await?;
            }),
            1
        );
    }

    #[test]
    fn only_lets_that_run_a_protocol_step_are_joined() {
        // Operators and plain calls are awaited too, but they are no step of their own.
        assert_eq!(
            batches(quote! {
                let n = ::securenn_dsl::__private::mul(k, ctx, r, c).await?;
                let m = ::securenn_dsl::__private::mul(k, ctx, i, j).await?;
            }),
            0
        );
        assert_eq!(
            batches(quote! {
                let a = relu(ctx, &x).await?;
                let n = 3;
                let b = relu(ctx, &y).await?;
            }),
            0
        );
    }

    #[test]
    fn ordered_effects_and_escaping_contexts_keep_the_lets_as_they_are() {
        for second in [
            quote! { let b = f(&mut s, relu(ctx, &y).await?); },
            quote! { let b = { n += 1; relu(ctx, &y).await? }; },
            quote! { let b = if c { return x } else { relu(ctx, &y).await? }; },
            quote! { let Some(b) = relu(ctx, &y).await? else { panic!() }; },
            quote! { let b = { println!("{}", 1); relu(ctx, &y).await? }; },
            quote! { let b = &relu(ctx, &y).await?; },
            quote! { let b = (relu(ctx, &y).await?, ctx); },
            quote! { #[allow(unused)] let b = relu(ctx, &y).await?; },
        ] {
            let out = batch(quote! { let a = relu(ctx, &x).await?; #second });
            assert!(!out.contains("try_join"), "{out}");
        }
    }

    #[test]
    fn copies_of_the_same_reference_are_joined() {
        // `x` is a reference parameter, used by value in both: the program compiles only if
        // it is `Copy`.
        assert_eq!(
            batches(quote! {
                let left = layer.forward(ctx, x).await?;
                let right = layer.forward(ctx, x).await?;
            }),
            1
        );
    }

    #[test]
    fn operators_inside_protocol_lets_do_not_end_the_run() {
        // What the rewriting makes of `relu(a * b)` and `relu(c * d)`.
        let step = |x: TokenStream, y: TokenStream| {
            quote! {
                relu(ctx, {
                    let __securenn_lhs = #x;
                    let __securenn_rhs = #y;
                    let __securenn_kind = (&Operands::of(&__securenn_lhs, &__securenn_rhs)).kind();
                    mul(__securenn_kind, ctx, __securenn_lhs, __securenn_rhs).await?
                }).await?
            }
        };
        let (first, second) = (step(quote!(&a), quote!(&b)), step(quote!(&c), quote!(&d)));
        assert_eq!(batches(quote! { let p = #first; let q = #second; }), 1);
    }

    #[test]
    fn patterns_are_kept() {
        let out = batch(quote! {
            let (mut a, _) = pair(ctx, &x).await?;
            let Relu { value, .. } = relu(ctx, &y).await?;
        });
        assert!(
            out.contains("let ((mut a , _) , Relu { value , .. } ,)"),
            "{out}"
        );
    }
}
