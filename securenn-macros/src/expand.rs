//! The expansion behind `#[protocol]`, on `proc_macro2` token streams so that it can be
//! tested without a compiler.
//!
//! ```text
//! #[protocol]                          async fn layer(
//! fn layer(x: Shared<Z64>)       =>        ctx: &(impl Context + ?Sized),
//!     -> Shared<Z64>                       x: Shared<Z64>,
//! { relu(&x) }                         ) -> Result<Shared<Z64>> {
//!                                          let ctx = &open(ctx, "layer");
//!                                          ok({ relu(ctx, &x).await? })
//!                                      }
//! ```
//!
//! The body is rewritten by [`crate::rewrite`]; independent `let`s are batched by
//! [`crate::batch`].

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::args;
use crate::rewrite::Rewriter;

/// Every error found, reported together (serde's `Ctxt`, without the drop bomb: the
/// expansion always ends by emitting them).
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match self.0.as_mut() {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    fn into_compile_error(self) -> TokenStream {
        self.0
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }

    /// The messages, in order.
    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|e| e.clone().into_iter().map(|e| e.to_string()))
            .collect()
    }
}

const ATTRIBUTE: &str = "#[securenn_dsl::protocol]";

/// Expands `#[protocol]`. On error the item is still emitted, followed by the errors: a
/// function with the expanded signature and an empty body if the attribute sits on a
/// function, the item unchanged otherwise. Code that calls the function then fails only
/// with the errors reported here.
pub(crate) fn protocol(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(args, &mut errors);
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            errors.push(syn::Error::new_spanned(
                first_tokens(&item),
                format!("`{ATTRIBUTE}` can only be applied to a function"),
            ));
            let mut tokens = item;
            tokens.extend(errors.into_compile_error());
            return tokens;
        }
    };
    check_signature(&function, &mut errors);
    let krate = args
        .krate
        .map(ToTokens::into_token_stream)
        .unwrap_or_else(|| quote!(::securenn_dsl));
    let name = args
        .name
        .map(|name| name.value())
        .unwrap_or_else(|| function.sig.ident.to_string());
    if errors.is_empty() {
        expand(function, &krate, &name)
    } else {
        let mut tokens = stub(function, &krate);
        tokens.extend(errors.into_compile_error());
        tokens
    }
}

/// The leading tokens of an item, to point an error at (`struct S`, not its whole body).
fn first_tokens(item: &TokenStream) -> TokenStream {
    item.clone().into_iter().take(2).collect()
}

/// Reports what the macro cannot expand: `async`, `const`, `unsafe`, `extern`, variadic
/// functions, a parameter named `ctx`, and a `Result` return type.
fn check_signature(function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(token) = &sig.asyncness {
        errors.push(syn::Error::new(
            token.span,
            format!("`{ATTRIBUTE}` makes the function async itself; remove `async`"),
        ));
    }
    if let Some(token) = &sig.constness {
        errors.push(syn::Error::new(
            token.span,
            "a protocol runs at run time over the network; it cannot be a `const fn`",
        ));
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new(
            token.span,
            format!("`{ATTRIBUTE}` cannot expand an `unsafe fn`; move the unsafe code into a helper function"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "a protocol is an async Rust function; it cannot have an `extern` ABI",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "a protocol cannot be variadic",
        ));
    }
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input
            && let Pat::Ident(ident) = &*typed.pat
            && ident.ident == "ctx"
        {
            errors.push(syn::Error::new_spanned(
                &ident.ident,
                "the parameter name `ctx` is reserved for the context the macro adds; rename this parameter",
            ));
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && returns_result(ty)
    {
        errors.push(syn::Error::new_spanned(
            ty,
            format!(
                "`{ATTRIBUTE}` already returns `securenn_dsl::Result<T>`; return `T` itself and propagate errors with `?`"
            ),
        ));
    }
}

/// Whether `ty` names a `Result` (by its last path segment, as a macro must).
fn returns_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        Type::Paren(inner) => returns_result(&inner.elem),
        Type::Group(inner) => returns_result(&inner.elem),
        _ => false,
    }
}

/// The identifier of the context parameter, visible to the user's code.
pub(crate) fn ctx_ident() -> syn::Ident {
    syn::Ident::new("ctx", Span::call_site())
}

/// The expanded function around `body`: `async`, the context parameter `ctx_param` after
/// the receiver, and the return type wrapped in the runtime's `Result`. Written as tokens,
/// not re-parsed, so that no input can make the macro panic.
fn emit(
    function: &ItemFn,
    krate: &TokenStream,
    ctx_param: TokenStream,
    attrs: TokenStream,
    body: TokenStream,
) -> TokenStream {
    let ItemFn {
        attrs: user_attrs,
        vis,
        sig,
        ..
    } = function;
    let ident = &sig.ident;
    let generics = &sig.generics;
    let where_clause = &generics.where_clause;
    let span = ident.span();
    let context = quote_spanned! {span=>
        #ctx_param: &(impl #krate::__private::Context + ?::core::marker::Sized)
    };
    let mut inputs = sig.inputs.iter().peekable();
    let receiver = inputs
        .next_if(|input| matches!(input, FnArg::Receiver(_)))
        .map(|receiver| quote!(#receiver,));
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let result = quote_spanned!(sig.output.span()=> #krate::__private::Result<#output>);
    let fn_token = &sig.fn_token;
    quote! {
        #(#user_attrs)*
        #attrs
        // The generated paths are absolute, so that they resolve wherever the user's code is.
        #[allow(unused_qualifications)]
        #vis async #fn_token #ident #generics (#receiver #context, #(#inputs),*) -> #result
        #where_clause
        #body
    }
}

/// The expanded function.
fn expand(function: ItemFn, krate: &TokenStream, name: &str) -> TokenStream {
    let ctx = ctx_ident();
    let mut rewriter = Rewriter::new(krate.clone());
    let mut body = (*function.block).clone();
    rewriter.rewrite_block(&mut body);
    let statements = &body.stmts;
    let open_span = function.sig.ident.span();
    let opening = quote_spanned! {open_span=>
        #[allow(unused_imports)]
        use #krate::__private::{
            DslOperandsProbe as _, PlainOperandsProbe as _, PublicProbe as _, SecretProbe as _,
        };
        let #ctx = &#krate::__private::open(#ctx, #name);
    };
    let body = quote! {{
        #opening
        #krate::__private::ok({ #(#statements)* })
    }};
    emit(
        &function,
        krate,
        ctx.to_token_stream(),
        TokenStream::new(),
        body,
    )
}

/// The expanded signature over a body that never runs, for when the macro reported an
/// error: callers see the function they expect and no further errors.
fn stub(function: ItemFn, krate: &TokenStream) -> TokenStream {
    // The user's own parameters may include `ctx`; the stub's context is unnamed.
    let body = quote! {{
        ::core::unreachable!("`#[securenn_dsl::protocol]` reported an error")
    }};
    emit(
        &function,
        krate,
        quote!(_),
        quote!(#[allow(unused_variables)]),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        protocol(args, item).to_string()
    }

    fn compile_errors(output: &str) -> Vec<String> {
        output
            .split("compile_error ! {")
            .skip(1)
            .map(|rest| {
                let start = rest.find('"').map_or(0, |i| i + 1);
                let end = rest[start..].find('"').map_or(rest.len(), |i| start + i);
                rest[start..end].to_owned()
            })
            .collect()
    }

    #[test]
    fn the_function_becomes_async_takes_the_context_and_returns_a_result() {
        let out = expand_str(quote!(), quote! { pub fn f(x: u64) -> u64 { x } });
        let expected_signature = quote! {
            pub async fn f(ctx: &(impl ::securenn_dsl::__private::Context + ?::core::marker::Sized), x: u64)
                -> ::securenn_dsl::__private::Result<u64>
        }
        .to_string();
        let allow = "# [allow (unused_qualifications)] ";
        assert!(
            out.starts_with(&format!("{allow}{expected_signature}")),
            "{out}"
        );
        assert!(
            out.contains("let ctx = & :: securenn_dsl :: __private :: open (ctx , \"f\") ;"),
            "{out}"
        );
        assert!(
            out.contains(":: securenn_dsl :: __private :: ok ({ x })"),
            "{out}"
        );
        assert!(compile_errors(&out).is_empty());
    }

    #[test]
    fn a_method_takes_the_context_after_its_receiver() {
        let out = expand_str(quote!(), quote! { fn forward(&self, x: u64) { } });
        assert!(out.contains("fn forward (& self , ctx :"), "{out}");
        assert!(
            out.contains("-> :: securenn_dsl :: __private :: Result < () >"),
            "{out}"
        );
    }

    #[test]
    fn name_and_crate_arguments_are_used() {
        let out = expand_str(quote!(name = "layer1", crate = crate), quote! { fn f() {} });
        assert!(out.contains("open (ctx , \"layer1\")"), "{out}");
        assert!(out.contains("crate :: __private :: Result"), "{out}");
        assert!(!out.contains("securenn_dsl"), "{out}");
    }

    #[test]
    fn a_struct_is_kept_and_an_error_follows() {
        let item = quote! { struct S; };
        let out = expand_str(quote!(), item.clone());
        assert!(out.starts_with(&item.to_string()));
        assert_eq!(
            compile_errors(&out),
            ["`#[securenn_dsl::protocol]` can only be applied to a function"]
        );
    }

    #[test]
    fn every_signature_error_is_reported_at_once_over_a_stub() {
        let out = expand_str(
            quote!(party = P0),
            quote! { async unsafe fn f(ctx: u64) -> Result<u64, ()> { Ok(ctx) } },
        );
        assert_eq!(
            compile_errors(&out),
            [
                "unknown argument `party`; expected one of: `name`, `crate`",
                "`#[securenn_dsl::protocol]` makes the function async itself; remove `async`",
                "`#[securenn_dsl::protocol]` cannot expand an `unsafe fn`; move the unsafe code into a helper function",
                "the parameter name `ctx` is reserved for the context the macro adds; rename this parameter",
                "`#[securenn_dsl::protocol]` already returns `securenn_dsl::Result<T>`; return `T` itself and propagate errors with `?`",
            ]
        );
        // The stub keeps the expanded signature, with an unnamed context.
        assert!(
            out.starts_with(
                "# [allow (unused_variables)] # [allow (unused_qualifications)] async fn f (_ : & (impl"
            ),
            "{out}"
        );
        assert!(out.contains("Result < Result < u64 , () > >"), "{out}");
        assert!(out.contains("unreachable !"), "{out}");
    }

    #[test]
    fn const_extern_and_variadic_functions_are_refused() {
        let out = expand_str(quote!(), quote! { const extern "C" fn f(x: u64, ...) {} });
        let errors = compile_errors(&out);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("cannot be a `const fn`"));
        assert!(errors[1].contains("`extern` ABI"));
        assert!(errors[2].contains("cannot be variadic"));
    }

    #[test]
    fn unusual_bodies_expand_without_panicking() {
        let bodies = [
            quote! { loop { if a < b { break 'x; } } },
            quote! { let f = |x| x * 2; match (a > b, c) { (true, _) if d => e, _ => f(1) } },
            quote! { 'outer: while a <= b { continue 'outer; } },
            quote! { let Some(x) = relu(y) else { return z; }; x },
            quote! { async { relu(x) }; unsafe { g() }; const { 1 + 2 }; [0; 3 * 4] },
            quote! { if let Some(v) = o && v > 0 || w { } },
            quote! { return; },
            quote! { x.reveal_to::<P0, P1>(); reveal_to(x); reveal_to::<>(x); (x).y.forward() },
            quote! { let a = relu(&x); let a = relu(&x); let (b, c) = (relu(x), relu(y)); },
            quote! { matches!(x, 1 | 2) && vec![relu(x)].is_empty() },
        ];
        for body in bodies {
            let out = protocol(quote!(), quote! { fn f(x: u64) -> u64 { #body } });
            assert!(out.to_string().contains("] async fn f"), "{out}");
        }
    }

    #[test]
    fn malformed_input_never_panics() {
        for item in [
            quote!(),
            quote!(fn),
            quote!(fn f(),),
            quote!(impl X {}),
            quote!(fn f() -> {}),
            quote!(
                #[protocol]
                fn f(ctx: u64, ctx: u64) {}
            ),
        ] {
            for args in [quote!(), quote!(name), quote!(crate = ), quote!(,)] {
                let _ = protocol(args, item.clone());
            }
        }
    }
}
