//! The rewriting of a protocol's body: operators on shares become protocol steps,
//! protocol calls receive the context and are awaited, branches check that their
//! condition is public, and `return` wraps its value in `Ok`.
//!
//! The rewriting does not enter closures, `async` blocks, nested items, macros, patterns,
//! types or constant expressions: none of them can await a protocol step.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{BinOp, Block, Expr, ExprBinary, ExprCall, ExprMatch, ExprMethodCall, Ident};

use crate::batch;
use crate::expand::ctx_ident;

/// Protocol operations called by name: the macro passes the context first and awaits them.
pub(crate) const OPERATIONS: &[&str] = &[
    "compute_msb",
    "conv2d",
    "deal",
    "divide",
    "dmaxpool",
    "drelu",
    "matmul",
    "maxpool",
    "maxpool_with_argmax",
    "private_compare",
    "relu",
    "relu_with_derivative",
    "select",
    "share",
    "share_convert",
];

/// Methods that are protocol steps: layers' `forward` and `backward` (and `reveal_to`,
/// rewritten to the runtime's function).
pub(crate) const METHODS: &[&str] = &["backward", "forward"];

/// Rewrites the body of one protocol function.
pub(crate) struct Rewriter {
    krate: TokenStream,
}

impl Rewriter {
    pub(crate) fn new(krate: TokenStream) -> Self {
        Rewriter { krate }
    }

    pub(crate) fn rewrite_block(&mut self, block: &mut Block) {
        self.visit_block_mut(block);
    }

    /// `a op b` on the operands' kind: a protocol step for shares, Rust's operator
    /// otherwise. The operands are evaluated once, left to right, as Rust does; arithmetic
    /// takes them by value and comparisons by reference, as Rust's operators do.
    fn operator(&self, binary: &ExprBinary) -> Option<Expr> {
        let span = binary.op.span();
        let krate = &respan(&self.krate, span);
        let ctx = ctx_ident();
        let (left, right) = (&binary.left, &binary.right);
        let lhs = hygienic("__securenn_lhs", left.span());
        let rhs = hygienic("__securenn_rhs", right.span());
        let kind = hygienic("__securenn_kind", span);
        let comparison = |variant: &str| {
            let variant = Ident::new(variant, span);
            quote_spanned! {span=>
                #krate::__private::compare(
                    #kind, #ctx, #krate::__private::Comparison::#variant, #lhs, #rhs,
                ).await?
            }
        };
        let (step, by_reference) = match binary.op {
            BinOp::Add(_) => (
                quote_spanned!(span=> #krate::__private::add(#kind, #lhs, #rhs)?),
                false,
            ),
            BinOp::Sub(_) => (
                quote_spanned!(span=> #krate::__private::sub(#kind, #lhs, #rhs)?),
                false,
            ),
            BinOp::Mul(_) => (
                quote_spanned!(span=> #krate::__private::mul(#kind, #ctx, #lhs, #rhs).await?),
                false,
            ),
            BinOp::Div(_) => (
                quote_spanned!(span=> #krate::__private::div(#kind, #ctx, #lhs, #rhs).await?),
                false,
            ),
            BinOp::Lt(_) => (comparison("Less"), true),
            BinOp::Le(_) => (comparison("LessOrEqual"), true),
            BinOp::Gt(_) => (comparison("Greater"), true),
            BinOp::Ge(_) => (comparison("GreaterOrEqual"), true),
            _ => return None,
        };
        let (left, right) = if by_reference {
            (
                quote_spanned!(left.span()=> &(#left)),
                quote_spanned!(right.span()=> &(#right)),
            )
        } else {
            (left.to_token_stream(), right.to_token_stream())
        };
        parse(quote_spanned! {span=> {
            let #lhs = #left;
            let #rhs = #right;
            let #kind = (&#krate::__private::Operands::of(&#lhs, &#rhs)).__securenn_operands();
            #step
        }})
    }

    /// `cond` as a checked branch condition: the value itself if a public `bool`, a
    /// compile error ("cannot branch on a secret") if it is a share or a bit.
    fn condition(&self, cond: &Expr) -> Option<Expr> {
        let span = cond.span();
        let krate = &respan(&self.krate, span);
        let value = hygienic("__securenn_condition", span);
        parse(quote_spanned! {span=> {
            let #value = #cond;
            #krate::__private::condition(
                (&#krate::__private::Probe::of(&#value)).__securenn_kind(),
                #value,
            )
        }})
    }

    /// `match` with its scrutinee checked to be public and its guards checked as
    /// conditions. A variable or a field of one is probed by reference and matched as
    /// before, so that arms may still move out of it; another place (`v[i]`, `*r`) is
    /// matched as before, unchecked; any other scrutinee is a value, evaluated once and
    /// passed through the check.
    fn checked_match(&self, expr: &ExprMatch) -> Option<Expr> {
        let scrutinee = &expr.expr;
        let span = scrutinee.span();
        let krate = &respan(&self.krate, span);
        let mut checked = expr.clone();
        for arm in &mut checked.arms {
            if let Some((_, guard)) = &mut arm.guard
                && !is_condition(guard)
            {
                **guard = self.condition(guard)?;
            }
        }
        if is_simple_place(scrutinee) {
            let probe = hygienic("__securenn_probe", span);
            return parse(quote_spanned! {span=> {
                let #probe = #krate::__private::Probe::of(&#scrutinee);
                #krate::__private::scrutinee((&#probe).__securenn_kind(), &#probe);
                #checked
            }});
        }
        if is_place(scrutinee) {
            return Some(Expr::Match(checked));
        }
        let value = hygienic("__securenn_scrutinee", span);
        *checked.expr = parse(quote_spanned! {span=>
            #krate::__private::scrutinee_value(
                (&#krate::__private::Probe::of(&#value)).__securenn_kind(),
                #value,
            )
        })?;
        parse(quote_spanned! {span=>
            match #scrutinee {
                #value => #checked
            }
        })
    }

    /// A call of a protocol operation or of a function given the context explicitly,
    /// awaited.
    fn protocol_call(&self, call: &ExprCall) -> Option<Expr> {
        let Expr::Path(path) = &*call.func else {
            return None;
        };
        let segments = &path.path.segments;
        let last = segments.last()?;
        let name = last.ident.to_string();
        let span = call.span();
        let ctx = ctx_ident();
        if passes_context(call.args.first()) {
            return parse(quote_spanned!(span=> #call.await?));
        }
        let by_name = segments.len() == 1
            || segments
                .iter()
                .rev()
                .nth(1)
                .is_some_and(|segment| segment.ident == "dsl");
        if !by_name || path.qself.is_some() {
            return None;
        }
        if name == "reveal_to" && call.args.len() == 1 {
            return self.reveal(&call.args[0], &last.arguments, span);
        }
        if !OPERATIONS.contains(&name.as_str()) {
            return None;
        }
        let mut call = call.clone();
        call.args.insert(0, parse(quote!(#ctx))?);
        parse(quote_spanned!(span=> #call.await?))
    }

    /// `reveal_to::<P>(x)` or `x.reveal_to::<P>()`: the runtime's `reveal_to::<P, _>(ctx, x)`,
    /// awaited. Without exactly one party argument, the call is left to the compiler.
    fn reveal(&self, value: &Expr, generics: &syn::PathArguments, span: Span) -> Option<Expr> {
        let syn::PathArguments::AngleBracketed(arguments) = generics else {
            return None;
        };
        if arguments.args.len() != 1 {
            return None;
        }
        let party = &arguments.args[0];
        let krate = respan(&self.krate, span);
        let ctx = ctx_ident();
        parse(quote_spanned! {span=>
            #krate::dsl::reveal_to::<#party, _>(#ctx, #value).await?
        })
    }

    /// A method that is a protocol step (`forward`, `backward`, `reveal_to`) or that is given
    /// the context explicitly, awaited.
    fn protocol_method(&self, call: &ExprMethodCall) -> Option<Expr> {
        let span = call.span();
        if passes_context(call.args.first()) {
            return parse(quote_spanned!(span=> #call.await?));
        }
        if call.method == "reveal_to" && call.args.is_empty() {
            let receiver = &call.receiver;
            let receiver: Expr = parse(quote_spanned!(receiver.span()=> &(#receiver)))?;
            let generics = call
                .turbofish
                .as_ref()
                .map(|turbofish| syn::PathArguments::AngleBracketed(turbofish.clone()))
                .unwrap_or(syn::PathArguments::None);
            return self.reveal(&receiver, &generics, span);
        }
        if !METHODS.contains(&call.method.to_string().as_str()) {
            return None;
        }
        let ctx = ctx_ident();
        let mut call = call.clone();
        call.args.insert(0, parse(quote!(#ctx))?);
        parse(quote_spanned!(span=> #call.await?))
    }

    /// The rewriting of one expression whose children are already rewritten; `None` keeps
    /// it as it is.
    fn transform(&self, expr: &mut Expr) {
        let replacement = match expr {
            Expr::Binary(binary) => match binary.op {
                BinOp::And(_) | BinOp::Or(_) => {
                    for operand in [&mut binary.left, &mut binary.right] {
                        if !is_condition(operand)
                            && let Some(checked) = self.condition(operand)
                        {
                            **operand = checked;
                        }
                    }
                    None
                }
                _ => self.operator(binary),
            },
            Expr::If(branch) => {
                if !is_condition(&branch.cond)
                    && let Some(checked) = self.condition(&branch.cond)
                {
                    *branch.cond = checked;
                }
                None
            }
            Expr::While(body) => {
                if !is_condition(&body.cond)
                    && let Some(checked) = self.condition(&body.cond)
                {
                    *body.cond = checked;
                }
                None
            }
            Expr::Match(expr) => self.checked_match(expr),
            Expr::Call(call) => self.protocol_call(call),
            Expr::MethodCall(call) => self.protocol_method(call),
            Expr::Return(ret) => {
                let krate = &respan(&self.krate, ret.span());
                let value = ret
                    .expr
                    .take()
                    .map_or_else(|| quote!(()), ToTokens::into_token_stream);
                let wrapped = parse(quote_spanned! {value.span()=>
                    #krate::__private::ok(#value)
                });
                ret.expr = Some(Box::new(wrapped.unwrap_or_else(|| Expr::Verbatim(value))));
                None
            }
            _ => None,
        };
        if let Some(replacement) = replacement {
            *expr = replacement;
        }
    }
}

/// Parses generated tokens. They are built from parsed syntax, so they parse; if they ever
/// did not, the caller keeps the user's expression rather than the macro panicking.
fn parse<T: syn::parse::Parse>(tokens: TokenStream) -> Option<T> {
    syn::parse2(tokens).ok()
}

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut Block) {
        for stmt in &mut block.stmts {
            self.visit_stmt_mut(stmt);
        }
        batch::batch_independent_lets(block, &self.krate);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // `f(ctx, x).await`, written out by the user: already awaited.
        if let Expr::Await(awaited) = expr {
            match &mut *awaited.base {
                Expr::Call(call) if passes_context(call.args.first()) => {
                    visit_mut::visit_expr_call_mut(self, call);
                    return;
                }
                Expr::MethodCall(call) if passes_context(call.args.first()) => {
                    visit_mut::visit_expr_method_call_mut(self, call);
                    return;
                }
                _ => {}
            }
        }
        visit_mut::visit_expr_mut(self, expr);
        self.transform(expr);
    }

    fn visit_expr_repeat_mut(&mut self, repeat: &mut syn::ExprRepeat) {
        // The length is a constant.
        self.visit_expr_mut(&mut repeat.expr);
    }

    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}
    fn visit_expr_const_mut(&mut self, _: &mut syn::ExprConst) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
    fn visit_pat_mut(&mut self, _: &mut syn::Pat) {}
    fn visit_type_mut(&mut self, _: &mut syn::Type) {}
    fn visit_generic_argument_mut(&mut self, _: &mut syn::GenericArgument) {}
}

/// `tokens` reported at `span`: the runtime's path in generated code points at the user's
/// token, not at the attribute.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// A variable of the generated code, reported at `span` (a user's token: rustc reports
/// errors on mixed-site identifiers at the attribute instead). The `__securenn_` prefix
/// keeps it apart from the user's names.
fn hygienic(name: &str, span: Span) -> Ident {
    Ident::new(name, span)
}

/// Whether a call's first argument is the context itself: `f(ctx, ...)`.
fn passes_context(first: Option<&Expr>) -> bool {
    matches!(first, Some(Expr::Path(path)) if path.qself.is_none() && path.path.is_ident("ctx"))
}

/// Whether a condition is already checked or is a `let` chain, which the macro leaves to
/// its operands.
fn is_condition(expr: &Expr) -> bool {
    match expr {
        Expr::Let(_) => true,
        Expr::Binary(binary) => matches!(binary.op, BinOp::And(_) | BinOp::Or(_)),
        Expr::Paren(inner) => is_condition(&inner.expr),
        _ => false,
    }
}

/// A place whose evaluation has no effect: a variable, a field of one, a dereference.
fn is_simple_place(expr: &Expr) -> bool {
    match expr {
        Expr::Path(path) => path.qself.is_none(),
        Expr::Field(field) => is_simple_place(&field.base),
        Expr::Paren(inner) => is_simple_place(&inner.expr),
        Expr::Unary(unary) => {
            matches!(unary.op, syn::UnOp::Deref(_)) && is_simple_place(&unary.expr)
        }
        _ => false,
    }
}

/// A place expression: matching on it must not move it.
fn is_place(expr: &Expr) -> bool {
    match expr {
        Expr::Path(_) | Expr::Index(_) => true,
        Expr::Field(field) => is_place(&field.base),
        Expr::Paren(inner) => is_place(&inner.expr),
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Deref(_)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rewrite(body: TokenStream) -> String {
        let mut block: Block = syn::parse2(quote!({ #body })).expect("test input parses");
        Rewriter::new(quote!(::securenn_dsl)).rewrite_block(&mut block);
        block.into_token_stream().to_string()
    }

    fn squash(s: &str) -> String {
        s.split_whitespace().collect()
    }

    fn assert_contains(haystack: &str, needle: TokenStream) {
        assert!(
            squash(haystack).contains(&squash(&needle.to_string())),
            "expected\n  {needle}\nin\n  {haystack}"
        );
    }

    #[test]
    fn operations_take_the_context_and_are_awaited() {
        let out = rewrite(quote! { relu(&x) });
        assert_contains(&out, quote! { relu(ctx, &x).await? });
        let out = rewrite(quote! { securenn_dsl::dsl::matmul(&x, &w) });
        assert_contains(
            &out,
            quote! { securenn_dsl::dsl::matmul(ctx, &x, &w).await? },
        );
    }

    #[test]
    fn other_calls_are_left_alone() {
        let out = rewrite(quote! { helper(x, 2); Shape::from(dims); other::relu(x) });
        assert_contains(
            &out,
            quote! { helper(x, 2); Shape::from(dims); other::relu(x) },
        );
        assert!(!out.contains("await"), "{out}");
    }

    #[test]
    fn a_call_given_the_context_is_awaited_once() {
        let out = rewrite(quote! { block(ctx, x) });
        assert_contains(&out, quote! { block(ctx, x).await? });
        let out = rewrite(quote! { block(ctx, x).await? });
        assert_eq!(out.matches("await").count(), 1, "{out}");
    }

    #[test]
    fn layer_methods_and_reveal_take_the_context() {
        let out = rewrite(quote! { m.fc1.forward(x) });
        assert_contains(&out, quote! { m.fc1.forward(ctx, x).await? });
        let out = rewrite(quote! { y.reveal_to::<P1>() });
        assert_contains(
            &out,
            quote! { ::securenn_dsl::dsl::reveal_to::<P1, _>(ctx, &(y)).await? },
        );
        let out = rewrite(quote! { reveal_to::<P0>(&y) });
        assert_contains(
            &out,
            quote! { ::securenn_dsl::dsl::reveal_to::<P0, _>(ctx, &y).await? },
        );
    }

    #[test]
    fn nested_operations_are_rewritten_inside_out() {
        let out = rewrite(quote! { relu(m.fc1.forward(x)) });
        assert_contains(
            &out,
            quote! { relu(ctx, m.fc1.forward(ctx, x).await?).await? },
        );
    }

    #[test]
    fn arithmetic_dispatches_on_the_operands_kind() {
        let out = rewrite(quote! { a + b });
        assert_contains(&out, quote! { ::securenn_dsl::__private::Operands::of });
        assert_contains(&out, quote! { ::securenn_dsl::__private::add });
        let out = rewrite(quote! { a * b });
        assert_contains(&out, quote! { ::securenn_dsl::__private::mul });
        assert!(out.contains(". await ?"), "{out}");
        let out = rewrite(quote! { a >= b });
        assert_contains(
            &out,
            quote! { ::securenn_dsl::__private::Comparison::GreaterOrEqual },
        );
    }

    #[test]
    fn branches_check_their_condition() {
        let out = rewrite(quote! { if b { 1 } else { 2 } });
        assert_contains(&out, quote! { ::securenn_dsl::__private::condition });
        let out = rewrite(quote! { while b {} });
        assert_contains(&out, quote! { ::securenn_dsl::__private::condition });
        let out = rewrite(quote! { x && y });
        assert_eq!(out.matches("__private :: condition").count(), 2, "{out}");
        let out = rewrite(quote! { match k { _ => 1 } });
        assert_contains(&out, quote! { ::securenn_dsl::__private::scrutinee });
        let out = rewrite(quote! { match f(k) { _ => 1 } });
        assert_contains(&out, quote! { ::securenn_dsl::__private::scrutinee_value });
    }

    #[test]
    fn let_chains_are_left_to_their_operands() {
        let out = rewrite(quote! { if let Some(v) = o && v { } });
        assert_eq!(out.matches("__private :: condition").count(), 1, "{out}");
    }

    #[test]
    fn return_wraps_its_value() {
        let out = rewrite(quote! { if c { return x; } return; });
        assert_contains(&out, quote! { return ::securenn_dsl::__private::ok(x) });
        assert_contains(&out, quote! { return ::securenn_dsl::__private::ok(()) });
    }

    #[test]
    fn closures_macros_async_blocks_patterns_and_constants_are_not_entered() {
        let body = quote! {
            let f = |a: u64| a + 1;
            let v = vec![a + b, relu(x)];
            let g = async { relu(x) };
            let t: [u8; 2 + 1] = w;
            let _ = [0u8; 2 * 3];
        };
        let out = rewrite(body);
        assert!(!out.contains("Operands"), "{out}");
        assert!(!out.contains("await"), "{out}");
    }
}
