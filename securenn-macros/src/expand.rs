//! The expansions behind the attribute macros, on `proc_macro2` token streams so that they
//! can be tested without a compiler.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Expands `#[protocol]`: checks the attribute's use and re-emits the item. On error the
/// item is still emitted, followed by the errors, so that code using the function does not
/// fail with unrelated "cannot find function" errors.
pub(crate) fn protocol(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors: Option<syn::Error> = None;
    let mut push = |error: syn::Error| match errors.as_mut() {
        Some(existing) => existing.combine(error),
        None => errors = Some(error),
    };
    if !args.is_empty() {
        push(syn::Error::new_spanned(
            &args,
            "`#[securenn_dsl::protocol]` takes no arguments",
        ));
    }
    let output = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function.into_token_stream(),
        Err(_) => {
            push(syn::Error::new_spanned(
                &item,
                "`#[securenn_dsl::protocol]` can only be applied to a function",
            ));
            item
        }
    };
    match errors {
        Some(error) => {
            let mut tokens = output;
            tokens.extend(error.into_compile_error());
            tokens
        }
        None => output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn a_function_is_emitted_unchanged() {
        let item = quote! { fn f(x: u64) -> u64 { x } };
        assert_eq!(
            protocol(TokenStream::new(), item.clone()).to_string(),
            item.to_string()
        );
    }

    #[test]
    fn a_struct_is_kept_and_an_error_follows() {
        let item = quote! { struct S; };
        let out = protocol(TokenStream::new(), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()));
        assert!(out.contains("can only be applied to a function"));
    }

    #[test]
    fn arguments_and_misuse_are_reported_together() {
        let out = protocol(quote! { party = P0 }, quote! { struct S; }).to_string();
        assert!(out.contains("takes no arguments"));
        assert!(out.contains("can only be applied to a function"));
    }
}
