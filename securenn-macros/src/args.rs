//! The arguments of `#[protocol(...)]`: `name = "..."` and `crate = path`.

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Path, Token};

/// The parsed arguments, with their defaults.
#[derive(Debug)]
pub(crate) struct Args {
    /// The name of the call the function opens (default: the function's name).
    pub(crate) name: Option<LitStr>,
    /// The path of the runtime crate (default: `::securenn_dsl`).
    pub(crate) krate: Option<Path>,
}

const EXPECTED: &str = "expected one of: `name`, `crate`";

/// Parses `args`, reporting every unknown or duplicate argument; a malformed argument list
/// stops the parse with one error.
pub(crate) fn parse(args: TokenStream, errors: &mut crate::expand::Errors) -> Args {
    let mut parsed = Args {
        name: None,
        krate: None,
    };
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        while !input.is_empty() {
            let key: Ident = if input.peek(Token![crate]) {
                let token: Token![crate] = input.parse()?;
                Ident::new("crate", token.span)
            } else {
                input.parse().map_err(|e| {
                    syn::Error::new(e.span(), format!("expected an argument; {EXPECTED}"))
                })?
            };
            let eq: syn::Result<Token![=]> = input.parse();
            if let Err(e) = eq {
                return Err(syn::Error::new(
                    e.span(),
                    format!("expected `=` after `{key}`, as in `{key} = ...`"),
                ));
            }
            match key.to_string().as_str() {
                "name" => {
                    let value: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`name` takes a string literal, as in `name = \"layer1\"`",
                        )
                    })?;
                    if value.value().is_empty() {
                        errors.push(syn::Error::new(
                            value.span(),
                            "the call name cannot be empty",
                        ));
                    }
                    if parsed.name.is_some() {
                        errors.push(syn::Error::new(key.span(), "duplicate `name` argument"));
                    } else {
                        parsed.name = Some(value);
                    }
                }
                "crate" => {
                    let value: Path = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`crate` takes a path, as in `crate = ::securenn_dsl`",
                        )
                    })?;
                    if parsed.krate.is_some() {
                        errors.push(syn::Error::new(key.span(), "duplicate `crate` argument"));
                    } else {
                        parsed.krate = Some(value);
                    }
                }
                other => {
                    // Skip the value so that later arguments are still checked.
                    let _: syn::Expr = input.parse()?;
                    errors.push(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{other}`; {EXPECTED}"),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            let comma: syn::Result<Token![,]> = input.parse();
            if let Err(e) = comma {
                return Err(syn::Error::new(e.span(), "expected `,` between arguments"));
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::Errors;
    use quote::quote;

    fn parse_all(args: TokenStream) -> (Args, Vec<String>) {
        let mut errors = Errors::default();
        let parsed = parse(args, &mut errors);
        (parsed, errors.messages())
    }

    #[test]
    fn no_arguments_take_the_defaults() {
        let (args, errors) = parse_all(quote! {});
        assert!(args.name.is_none() && args.krate.is_none());
        assert!(errors.is_empty());
    }

    #[test]
    fn name_and_crate_are_read() {
        let (args, errors) = parse_all(quote! { name = "layer1", crate = crate });
        assert_eq!(args.name.map(|n| n.value()).as_deref(), Some("layer1"));
        assert!(args.krate.is_some());
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn unknown_and_duplicate_arguments_are_all_reported() {
        let (args, errors) = parse_all(quote! { party = P0, name = "a", name = "b", modulus = 67 });
        assert_eq!(args.name.map(|n| n.value()).as_deref(), Some("a"));
        assert_eq!(
            errors,
            [
                "unknown argument `party`; expected one of: `name`, `crate`",
                "duplicate `name` argument",
                "unknown argument `modulus`; expected one of: `name`, `crate`",
            ]
        );
    }

    #[test]
    fn malformed_arguments_are_an_error_not_a_panic() {
        for tokens in [
            quote! { name },
            quote! { name = 3 },
            quote! { crate = "x" },
            quote! { name = "a" name = "b" },
            quote! { = "a" },
            quote! { name = "" },
        ] {
            let (_, errors) = parse_all(tokens.clone());
            assert_eq!(errors.len(), 1, "{tokens}: {errors:?}");
        }
    }
}
