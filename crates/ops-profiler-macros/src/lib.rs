//! The `#[perf_monitor]` attribute. Use it through `ops_profiler::perf_monitor`; the generated
//! code names only `ops_profiler`'s hidden support module.

mod args;
mod expand;

use proc_macro::TokenStream;

/// Records every call of the function (duration and outcome) into the global profiler, and
/// emits the playbook's "Function execution" event. See `ops_profiler::perf_monitor`.
#[proc_macro_attribute]
pub fn perf_monitor(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), &item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
