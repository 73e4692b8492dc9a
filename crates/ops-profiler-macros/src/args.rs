//! Parsing `#[perf_monitor(name = "...", level = "...", event = false, error_if = expr,
//! crate = path)]`.

use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned as _;
use syn::{Expr, LitBool, LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(level);
    syn::custom_keyword!(event);
    syn::custom_keyword!(error_if);
}

/// The event level for successful calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub(crate) fn ident(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The parsed options.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) level: Option<Level>,
    pub(crate) event: Option<bool>,
    pub(crate) error_if: Option<ErrorIf>,
    pub(crate) krate: Option<Path>,
}

/// `error_if = <expr>`: a predicate `Fn(&Ret) -> bool` deciding which returned values are errors.
pub(crate) struct ErrorIf {
    /// The `error_if` keyword, for errors about the option itself.
    pub(crate) key: proc_macro2::Span,
    pub(crate) predicate: Expr,
}

fn duplicate(span: proc_macro2::Span, option: &str) -> syn::Error {
    syn::Error::new(span, format!("`{option}` is given twice"))
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                let key: kw::name = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: LitStr = input.parse()?;
                if args.name.is_some() {
                    return Err(duplicate(key.span, "name"));
                }
                if value.value().trim().is_empty() {
                    return Err(syn::Error::new(value.span(), "`name` must not be empty"));
                }
                args.name = Some(value);
            } else if lookahead.peek(kw::level) {
                let key: kw::level = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: LitStr = input.parse()?;
                if args.level.is_some() {
                    return Err(duplicate(key.span, "level"));
                }
                let level = match value.value().to_ascii_lowercase().as_str() {
                    "trace" => Level::Trace,
                    "debug" => Level::Debug,
                    "info" => Level::Info,
                    "warn" => Level::Warn,
                    "error" => Level::Error,
                    other => {
                        return Err(syn::Error::new(
                            value.span(),
                            format!(
                                "unknown level `{other}`: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\""
                            ),
                        ));
                    }
                };
                args.level = Some(level);
            } else if lookahead.peek(kw::event) {
                let key: kw::event = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: LitBool = input.parse()?;
                if args.event.is_some() {
                    return Err(duplicate(key.span, "event"));
                }
                args.event = Some(value.value);
            } else if lookahead.peek(kw::error_if) {
                let key: kw::error_if = input.parse()?;
                input.parse::<Token![=]>()?;
                let predicate: Expr = input.parse()?;
                if args.error_if.is_some() {
                    return Err(duplicate(key.span, "error_if"));
                }
                args.error_if = Some(ErrorIf {
                    key: key.span,
                    predicate,
                });
            } else if lookahead.peek(Token![crate]) {
                let key: Token![crate] = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: Path = input.parse()?;
                if args.krate.is_some() {
                    return Err(duplicate(key.span(), "crate"));
                }
                args.krate = Some(value);
            } else {
                let unknown: proc_macro2::TokenTree = input.parse()?;
                return Err(syn::Error::new(
                    unknown.span(),
                    format!(
                        "unknown option `{unknown}`: expected `name = \"...\"`, `level = \"...\"`, `event = true|false`, `error_if = predicate` or `crate = path`"
                    ),
                ));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}
