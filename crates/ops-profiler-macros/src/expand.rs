//! Turning the annotated function into one that records each call.
//!
//! Three shapes, chosen from the signature:
//! - **inline** (the return type cannot be a `Result`, or the function is `#[track_caller]`):
//!   the body stays exactly where it was, behind an RAII guard that records the duration when
//!   the function returns by any path; a panic is an error. No closure, so `return`, `?`,
//!   borrows and `#[track_caller]` are untouched.
//! - **result** (the return type may be a `Result`, including aliases): the body runs in a
//!   closure passed to an `FnOnce` helper, so every exit (`return`, `?`, the tail) yields the
//!   value, which is inspected (autoref specialisation) for `Err` before it is returned.
//! - **async**: the body runs in an `async move` block awaited inside the function, so the call
//!   is timed from the first poll to completion and the output is inspected like a result; a
//!   future dropped before completion is a cancelled call.
//!
//! With `error_if = predicate`, the returned value is always inspected (sync functions take the
//! result shape whatever their return type) and the predicate, not `Err`, decides: it is called
//! as `__private::error_if::<Ret, _>(&value, predicate)`, where `Ret` is the declared return type,
//! so a closure's parameter type is inferred from the signature. `impl Trait` cannot be named
//! there, and `#[track_caller]` functions cannot give the value without a closure: both are
//! refused with an error on the user's line.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{Item, ItemFn, ReturnType, Type};

use crate::args::{Args, ErrorIf, Level};

pub(crate) fn expand(attr: TokenStream, item: &TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(attr)?;
    let function = parse_function(item)?;
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "`#[perf_monitor]` cannot be used on a `const fn`: timing a call needs the clock, which is not available in const evaluation",
        ));
    }
    if let Some(error_if) = &args.error_if {
        check_error_if(error_if, &function)?;
    }
    Ok(generate(&args, function))
}

/// Refuses `error_if` where the returned value cannot be given to a predicate typed from the
/// signature.
fn check_error_if(error_if: &ErrorIf, function: &ItemFn) -> syn::Result<()> {
    if has_track_caller(function) {
        return Err(syn::Error::new(
            error_if.key,
            "`error_if` cannot be used on a `#[track_caller]` function: inspecting the returned value needs a closure, which would hide the caller's location",
        ));
    }
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return Ok(());
    };
    if let Type::Never(never) = &**ty {
        return Err(syn::Error::new(
            never.bang_token.span,
            "`error_if` cannot be used on a function that never returns: there is no value to inspect",
        ));
    }
    let mut finder = FindImplTrait(None);
    finder.visit_type_mut(&mut (**ty).clone());
    if let Some(impl_trait) = finder.0 {
        return Err(syn::Error::new_spanned(
            impl_trait,
            "`error_if` cannot be used on a function returning `impl Trait`: the predicate takes `&` the return type, and an `impl Trait` type cannot be named; return a concrete type to use `error_if`",
        ));
    }
    Ok(())
}

/// Finds the first `impl Trait` inside a type.
struct FindImplTrait(Option<syn::TypeImplTrait>);

impl VisitMut for FindImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if self.0.is_some() {
            return;
        }
        if let Type::ImplTrait(t) = ty {
            self.0 = Some(t.clone());
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

fn parse_function(item: &TokenStream) -> syn::Result<ItemFn> {
    const MESSAGE: &str = "`#[perf_monitor]` can only be used on functions and methods with a body";
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => Ok(f),
        Ok(other) => Err(syn::Error::new(item_span(&other), MESSAGE)),
        // A method inside an `impl` block parses as an `ItemFn` too; anything else is refused.
        Err(_) => syn::parse2::<ItemFn>(item.clone()).map_err(|_| {
            let first = item.clone().into_iter().next();
            syn::Error::new(
                first.map_or_else(proc_macro2::Span::call_site, |t| t.span()),
                MESSAGE,
            )
        }),
    }
}

fn item_span(item: &Item) -> proc_macro2::Span {
    match item {
        Item::Struct(s) => s.struct_token.span,
        Item::Enum(e) => e.enum_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Trait(t) => t.trait_token.span,
        Item::Mod(m) => m.mod_token.span,
        Item::Const(c) => c.const_token.span,
        Item::Static(s) => s.static_token.span,
        other => other.span(),
    }
}

/// Whether a value of this type could be a `Result` (so its `Err` must be detected). Types that
/// certainly are not (unit, references, tuples, `Option`, primitives, collections, `impl Trait`
/// of another trait) keep the cheaper inline shape.
fn may_be_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => {
            if p.qself.is_some() {
                return true;
            }
            let Some(last) = p.path.segments.last() else {
                return true;
            };
            let name = last.ident.to_string();
            !matches!(
                name.as_str(),
                "Option"
                    | "Vec"
                    | "String"
                    | "bool"
                    | "char"
                    | "str"
                    | "u8"
                    | "u16"
                    | "u32"
                    | "u64"
                    | "u128"
                    | "usize"
                    | "i8"
                    | "i16"
                    | "i32"
                    | "i64"
                    | "i128"
                    | "isize"
                    | "f32"
                    | "f64"
                    | "Box"
                    | "Arc"
                    | "Rc"
                    | "HashMap"
                    | "BTreeMap"
                    | "HashSet"
                    | "BTreeSet"
                    | "VecDeque"
                    | "Duration"
                    | "Instant"
                    | "PathBuf"
                    | "Self"
            )
        }
        Type::ImplTrait(t) => t
            .bounds
            .iter()
            .any(|b| quote!(#b).to_string().contains("Result")),
        Type::Group(g) => may_be_result(&g.elem),
        Type::Paren(p) => may_be_result(&p.elem),
        Type::Macro(_) | Type::Verbatim(_) => true,
        _ => false,
    }
}

/// Replaces every `impl Trait` inside a type with `_`, for a `let` annotation.
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(t) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](t.span()),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

fn let_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            EraseImplTrait.visit_type_mut(&mut ty);
            quote!(#ty)
        }
    }
}

fn has_track_caller(function: &ItemFn) -> bool {
    function
        .attrs
        .iter()
        .any(|a| a.path().is_ident("track_caller"))
}

fn generate(args: &Args, function: ItemFn) -> TokenStream {
    let krate = args
        .krate
        .as_ref()
        .map_or_else(|| quote!(::ops_profiler), |path| quote!(#path));
    let private = quote!(#krate::__private);
    let track_caller = has_track_caller(&function);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let span = sig.ident.span();

    let level = format_ident!("{}", args.level.unwrap_or(Level::Debug).ident());
    let event = args.event.unwrap_or(true);
    let name_fn = format_ident!("__ops_perf_monitor_name");
    let (name_item, name) = match &args.name {
        Some(fixed) => (quote!(), quote!(#private::Name::Fixed(#fixed))),
        None => (
            quote_spanned! {span=>
                fn #name_fn() -> &'static str {
                    ::core::any::type_name_of_val(&#name_fn)
                }
            },
            quote!(#private::Name::Path(#name_fn)),
        ),
    };
    let site = quote_spanned! {span=>
        #name_item
        static __OPS_PERF_MONITOR_SITE: #private::Site =
            #private::Site::new(#name, #private::Level::#level, #event);
    };

    let unsafe_body = if sig.unsafety.is_some() {
        quote!(#[allow(unused_unsafe)] unsafe #block)
    } else {
        quote!(#block)
    };
    let ret_ty = let_type(&sig.output);
    let inspect = match &args.error_if {
        None => quote! {
            {
                #[allow(unused_imports)]
                use #private::{ProbeDisplay as _, ProbeOther as _, ProbeResult as _};
                __ops_perf_monitor_guard
                    .observe((&&&#private::Probe(&__ops_perf_monitor_ret)).__ops_probe());
            }
        },
        Some(ErrorIf { predicate, .. }) => {
            // Spanned on the predicate: a predicate of the wrong type is reported on it.
            let is_error = quote_spanned! {predicate.span()=>
                #private::error_if::<#ret_ty, _>(&__ops_perf_monitor_ret, #predicate)
            };
            quote! {
                {
                    #[allow(unused_imports)]
                    use #private::{ProbeDisplay as _, ProbeOther as _, ProbeResult as _};
                    let __ops_perf_monitor_is_error: bool = #is_error;
                    __ops_perf_monitor_guard.observe_error_if(
                        __ops_perf_monitor_is_error,
                        (&&&#private::Probe(&__ops_perf_monitor_ret)).__ops_probe(),
                    );
                }
            }
        }
    };

    let body = if sig.asyncness.is_some() {
        quote! {
            #site
            let mut __ops_perf_monitor_guard = #private::Guard::start(&__OPS_PERF_MONITOR_SITE);
            let __ops_perf_monitor_ret: #ret_ty = async move #unsafe_body.await;
            #inspect
            __ops_perf_monitor_ret
        }
    } else {
        let result_shape = args.error_if.is_some()
            || match &sig.output {
                ReturnType::Default => false,
                ReturnType::Type(_, ty) => may_be_result(ty),
            };
        if result_shape && !track_caller {
            quote! {
                #site
                let mut __ops_perf_monitor_guard = #private::Guard::start(&__OPS_PERF_MONITOR_SITE);
                let __ops_perf_monitor_ret: #ret_ty = #private::call_once(move || #unsafe_body);
                #inspect
                __ops_perf_monitor_ret
            }
        } else {
            quote! {
                #site
                let __ops_perf_monitor_guard = #private::Guard::start_settled(&__OPS_PERF_MONITOR_SITE);
                #block
            }
        }
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}
