//! Round batching: consecutive `let`s whose initializers do not depend on each other run
//! concurrently, so that their messages share rounds.
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
//! in. A `let` joins the batch when its initializer names none of the variables the batch
//! binds, and holds no `&mut`, assignment, `return`, `break` or `continue`, whose effects
//! would depend on the order of the branches. The batch is kept only if at least two of
//! its initializers await a protocol step.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::visit::{self, Visit};
use syn::{Block, Expr, Local, Pat, Stmt};

use crate::expand::ctx_ident;

/// Replaces each run of independent `let`s in `block` that await two or more protocol
/// steps with one concurrent batch.
pub(crate) fn batch_independent_lets(block: &mut Block, krate: &TokenStream) {
    let mut output = Vec::with_capacity(block.stmts.len());
    let mut run: Vec<Local> = Vec::new();
    let mut bound = BTreeSet::new();
    for stmt in std::mem::take(&mut block.stmts) {
        match stmt {
            Stmt::Local(local) if batchable(&local) => {
                let init = local.init.as_ref().map(|init| &*init.expr);
                if init.is_some_and(|init| mentions(init, &bound)) {
                    flush(&mut run, &mut output, krate);
                    bound.clear();
                }
                bind_names(&local.pat, &mut bound);
                run.push(local);
            }
            other => {
                flush(&mut run, &mut output, krate);
                bound.clear();
                output.push(other);
            }
        }
    }
    flush(&mut run, &mut output, krate);
    block.stmts = output;
}

/// Emits `run`: as one batch if two or more of its initializers await, as it was otherwise.
fn flush(run: &mut Vec<Local>, output: &mut Vec<Stmt>, krate: &TokenStream) {
    let locals = std::mem::take(run);
    let awaiting = locals
        .iter()
        .filter(|local| local.init.as_ref().is_some_and(|init| awaits(&init.expr)))
        .count();
    if awaiting < 2 {
        output.extend(locals.into_iter().map(Stmt::Local));
        return;
    }
    let ctx = ctx_ident();
    let mut patterns = Vec::new();
    let mut opens = Vec::new();
    let mut branches = Vec::new();
    for (index, local) in locals.into_iter().enumerate() {
        let call = format_ident!("__securenn_batch_{}", index, span = Span::mixed_site());
        let value = format_ident!("__securenn_value", span = Span::mixed_site());
        let (pattern, ty) = match local.pat {
            Pat::Type(typed) => (*typed.pat, Some(*typed.ty)),
            pattern => (pattern, None),
        };
        let ty = ty.map(|ty| quote!(: #ty));
        let init = local.init.map(|init| init.expr.into_token_stream());
        patterns.push(pattern);
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
    let stmt: Stmt = syn::parse_quote! {
        let (#(#patterns,)*) = {
            #(#opens)*
            #krate::__private::try_join!(#(#branches),*)?
        };
    };
    output.push(stmt);
}

/// Whether `local` may join a batch: a plain `let` with an initializer, no `else`, no
/// attributes, and nothing whose effect depends on the order of evaluation.
fn batchable(local: &Local) -> bool {
    let Some(init) = &local.init else {
        return false;
    };
    local.attrs.is_empty() && init.diverge.is_none() && !has_ordered_effects(&init.expr)
}

/// The names `pattern` binds.
fn bind_names(pattern: &Pat, names: &mut BTreeSet<String>) {
    struct Names<'a>(&'a mut BTreeSet<String>);
    impl<'ast> Visit<'ast> for Names<'_> {
        fn visit_pat_ident(&mut self, ident: &'ast syn::PatIdent) {
            self.0.insert(ident.ident.to_string());
            visit::visit_pat_ident(self, ident);
        }
    }
    Names(names).visit_pat(pattern);
}

/// Whether `expr` names any of `names` (conservatively: any identifier token with that
/// name, macros included).
fn mentions(expr: &Expr, names: &BTreeSet<String>) -> bool {
    fn walk(tokens: TokenStream, names: &BTreeSet<String>) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => names.contains(&ident.to_string()),
            TokenTree::Group(group) => walk(group.stream(), names),
            _ => false,
        })
    }
    !names.is_empty() && walk(expr.to_token_stream(), names)
}

/// Whether `expr` awaits, outside closures and `async` blocks.
fn awaits(expr: &Expr) -> bool {
    struct Awaits(bool);
    impl<'ast> Visit<'ast> for Awaits {
        fn visit_expr_await(&mut self, node: &'ast syn::ExprAwait) {
            self.0 = true;
            visit::visit_expr_await(self, node);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut visitor = Awaits(false);
    visitor.visit_expr(expr);
    visitor.0
}

/// Whether `expr` mutates, or leaves its enclosing function or loop, outside closures
/// and `async` blocks.
fn has_ordered_effects(expr: &Expr) -> bool {
    struct Effects(bool);
    impl<'ast> Visit<'ast> for Effects {
        fn visit_expr(&mut self, node: &'ast Expr) {
            match node {
                Expr::Assign(_) | Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => {
                    self.0 = true;
                }
                Expr::Binary(binary)
                    if matches!(
                        binary.op,
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
                    ) =>
                {
                    self.0 = true;
                }
                Expr::Reference(reference) if reference.mutability.is_some() => self.0 = true,
                _ => {}
            }
            visit::visit_expr(self, node);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut visitor = Effects(false);
    visitor.visit_expr(expr);
    visitor.0
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

    #[test]
    fn independent_awaiting_lets_are_joined() {
        let out = batch(quote! {
            let a = relu(ctx, &x).await?;
            let b: Shared<Z64> = relu(ctx, &y).await?;
            a + b
        });
        assert!(out.starts_with("{ let (a , b ,) = {"), "{out}");
        assert_eq!(out.matches("open (ctx , \"batch\")").count(), 2, "{out}");
        assert!(out.contains("try_join !"), "{out}");
        assert!(
            out.contains(": Shared < Z64 > = relu (ctx , & y) . await ?"),
            "{out}"
        );
        assert!(out.ends_with("a + b }"), "{out}");
    }

    #[test]
    fn a_let_that_uses_an_earlier_one_starts_a_new_run() {
        let out = batch(quote! {
            let h = relu(ctx, &x).await?;
            let h = relu(ctx, &h).await?;
        });
        assert!(!out.contains("try_join"), "{out}");
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
    fn one_await_or_ordered_effects_keep_the_lets_as_they_are() {
        for body in [
            quote! { let a = relu(ctx, &x).await?; let n = 3; },
            quote! { let a = relu(ctx, &x).await?; let b = f(&mut s, relu(ctx, &y).await?); },
            quote! { let a = relu(ctx, &x).await?; let b = { n += 1; relu(ctx, &y).await? }; },
            quote! { let a = relu(ctx, &x).await?; let b = if c { return x } else { relu(ctx, &y).await? }; },
            quote! { let a = relu(ctx, &x).await?; let Some(b) = relu(ctx, &y).await? else { panic!() }; },
        ] {
            let out = batch(body);
            assert!(!out.contains("try_join"), "{out}");
        }
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
