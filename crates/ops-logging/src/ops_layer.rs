//! ops-logging as a `tracing_subscriber::Layer`, to stack beside other layers.

use std::any::TypeId;
use std::fmt;

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::filter::{Filtered, LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::layer::JsonLayer;

/// The ops-logging layer, with its level filter applied to itself only: stack it with other
/// layers (OpenTelemetry, tokio-console, `fmt`, your own) on a
/// [`registry`](tracing_subscriber::registry()). Made by
/// [`LoggingBuilder::layer`](crate::LoggingBuilder::layer), together with the
/// [`LogGuard`](crate::LogGuard) that owns its writer.
///
/// `S` is the subscriber it is stacked on (the registry, or the registry with layers already
/// added); it is inferred from `.with(layer)`. The filter is a per-layer filter: events this
/// layer filters out still reach the other layers, and the filter takes part in `tracing`'s
/// callsite caching, so disabled events cost next to nothing.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let (ops, _guard) = ops_logging::Logging::builder("checkout")
///     .console(false) // the fmt layer below prints instead
///     .layer()?;
/// tracing_subscriber::registry()
///     .with(ops)
///     .with(tracing_subscriber::fmt::layer())
///     .init();
/// tracing::info!(order_id = 42, "order placed"); // in logs/checkout.log and on the terminal
/// # Ok::<(), ops_logging::Error>(())
/// ```
pub struct OpsLayer<S> {
    inner: Filtered<JsonLayer, Targets, S>,
    service: String,
}

impl<S> OpsLayer<S> {
    pub(crate) fn new(layer: JsonLayer, filter: Targets) -> Self {
        OpsLayer {
            service: layer.service.clone(),
            inner: Filtered::new(layer, filter),
        }
    }
}

impl<S> fmt::Debug for OpsLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsLayer")
            .field("service", &self.service)
            .field("filter", self.inner.filter())
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for OpsLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    #[doc(hidden)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        // SAFETY: forwarded unchanged to the wrapped `Filtered`, which answers for its own
        // parts (among them the per-layer filter marker the registry looks for) with pointers
        // into itself, valid as long as `self` is.
        unsafe { self.inner.downcast_raw(id) }
    }
}
