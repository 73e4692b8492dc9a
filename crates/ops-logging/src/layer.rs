//! The `tracing` layer: one flat JSON object per event, routed to its streams.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::console::write_console;
use crate::json::{self, VecWriter};
use crate::redact::{REDACTED, Redactor};
use crate::writer::{Shared, Stream};

/// Key names and level spelling for the JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FieldNames {
    /// `timestamp`, `level` (lower case, as the playbook), `message`, `service`.
    #[default]
    Default,
    /// Elastic Common Schema: `@timestamp`, `log.level`, `message`, `service.name`, plus
    /// `ecs.version`.
    Ecs,
    /// OpenTelemetry log data model: `timestamp`, `severity_text` (upper case),
    /// `severity_number`, `body`, `service.name`.
    OpenTelemetry,
}

impl FieldNames {
    fn keys(self) -> [&'static str; 4] {
        match self {
            FieldNames::Default => ["timestamp", "level", "message", "service"],
            FieldNames::Ecs => ["@timestamp", "log.level", "message", "service.name"],
            FieldNames::OpenTelemetry => ["timestamp", "severity_text", "body", "service.name"],
        }
    }

    /// Every key the line itself writes: a user field with one of these names is renamed
    /// `fields.<name>`.
    fn reserved(self) -> &'static [&'static str] {
        match self {
            FieldNames::Default => &["timestamp", "level", "message", "service"],
            FieldNames::Ecs => &[
                "@timestamp",
                "log.level",
                "message",
                "service.name",
                "ecs.version",
            ],
            FieldNames::OpenTelemetry => &[
                "timestamp",
                "severity_text",
                "severity_number",
                "body",
                "service.name",
            ],
        }
    }
}

pub(crate) fn level_text(level: Level, upper: bool) -> &'static str {
    match (level, upper) {
        (Level::TRACE, false) => "trace",
        (Level::DEBUG, false) => "debug",
        (Level::INFO, false) => "info",
        (Level::WARN, false) => "warn",
        (Level::ERROR, false) => "error",
        (Level::TRACE, true) => "TRACE",
        (Level::DEBUG, true) => "DEBUG",
        (Level::INFO, true) => "INFO",
        (Level::WARN, true) => "WARN",
        (_, _) => "ERROR",
    }
}

fn severity_number(level: Level) -> u8 {
    match level {
        Level::TRACE => 1,
        Level::DEBUG => 5,
        Level::INFO => 9,
        Level::WARN => 13,
        _ => 17,
    }
}

/// The marker that starts a pre-encoded JSON value (see [`crate::RawJson`]): U+001E, a random
/// per-process nonce, U+001E. User text cannot forge it, so it can never inject raw JSON.
pub(crate) fn raw_json_mark() -> &'static str {
    use std::hash::{BuildHasher as _, Hasher as _};
    static MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARK.get_or_init(|| {
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!("\u{1e}{nonce:016x}\u{1e}")
    })
}

/// A span's fields, encoded once when recorded: `(key, JSON value)`.
struct SpanFields(Vec<(&'static str, Vec<u8>)>);

pub(crate) struct JsonLayer {
    pub(crate) shared: Option<Arc<Shared>>,
    pub(crate) service: String,
    /// `,"key":value` pairs written after the service.
    pub(crate) static_fields: Vec<u8>,
    pub(crate) static_keys: Vec<String>,
    pub(crate) names: FieldNames,
    pub(crate) redactor: Redactor,
    /// The least severe level shown on the console; `None`: no console.
    pub(crate) console: Option<Level>,
    pub(crate) separate_streams: bool,
}

struct Scratch {
    line: Vec<u8>,
    fields: Vec<u8>,
    message: Vec<u8>,
    tmp: Vec<u8>,
    keys: Vec<&'static str>,
    console: String,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            line: Vec::with_capacity(512),
            fields: Vec::with_capacity(256),
            message: Vec::with_capacity(128),
            tmp: Vec::with_capacity(128),
            keys: Vec::with_capacity(16),
            console: String::with_capacity(256),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Encodes one field's value as JSON into `out`, secrets in text replaced.
struct ValueEncoder<'a> {
    out: &'a mut Vec<u8>,
    tmp: &'a mut Vec<u8>,
    redactor: &'a Redactor,
}

impl ValueEncoder<'_> {
    fn debug(&mut self, value: &dyn fmt::Debug) {
        self.tmp.clear();
        let _ = write!(VecWriter(self.tmp), "{value:?}");
        self.raw_or_string();
    }

    fn display(&mut self, value: &dyn fmt::Display) {
        self.tmp.clear();
        let _ = write!(VecWriter(self.tmp), "{value}");
        self.raw_or_string();
    }

    fn str(&mut self, text: &str) {
        self.redactor.string(self.out, text);
    }

    fn raw_or_string(&mut self) {
        let text = std::str::from_utf8(self.tmp).unwrap_or("");
        if let Some(raw) = text.strip_prefix(raw_json_mark()) {
            // Checked when wrapped; parsed again here to redact members and strings inside.
            let start = self.out.len();
            if json::reencode(self.out, raw, Some(self.redactor)).is_err() {
                self.out.truncate(start);
                self.redactor.string(self.out, raw);
            }
        } else {
            self.redactor.string(self.out, text);
        }
    }
}

/// Collects an event's or span's fields.
struct FieldVisitor<'a> {
    /// Where `"key":value` pairs go (comma-separated, each preceded by a comma).
    fields: &'a mut Vec<u8>,
    /// The `message` field, encoded as a JSON string (events only).
    message: Option<&'a mut Vec<u8>>,
    tmp: &'a mut Vec<u8>,
    keys: &'a mut Vec<&'static str>,
    reserved: &'a [&'static str],
    statics: &'a [String],
    redactor: &'a Redactor,
    /// For spans: `(key, value)` pairs instead of one buffer.
    span: Option<&'a mut Vec<(&'static str, Vec<u8>)>>,
}

impl FieldVisitor<'_> {
    /// Starts a field: writes the key (renamed `fields.<key>` if it clashes with a reserved or
    /// static key, skipped if already written) and returns whether to write the value.
    fn key(&mut self, name: &'static str) -> bool {
        if self.span.is_some() {
            return true;
        }
        if self.keys.contains(&name) {
            return false;
        }
        self.keys.push(name);
        self.fields.push(b',');
        let clash = self.reserved.contains(&name) || self.statics.iter().any(|s| s == name);
        if clash {
            self.fields.extend_from_slice(b"\"fields.");
            json::escape(self.fields, name);
            self.fields.extend_from_slice(b"\":");
        } else {
            json::string(self.fields, name);
            self.fields.push(b':');
        }
        true
    }

    fn put(&mut self, field: &Field, encode: impl FnOnce(&mut ValueEncoder<'_>)) {
        let name = field.name();
        if let Some(message) = self.message.as_deref_mut()
            && name == "message"
        {
            message.clear();
            let mut enc = ValueEncoder {
                out: message,
                tmp: self.tmp,
                redactor: self.redactor,
            };
            encode(&mut enc);
            return;
        }
        let secret = self.redactor.is_secret_static(name);
        if let Some(span) = self.span.as_deref_mut() {
            let mut value = Vec::new();
            if secret {
                json::string(&mut value, REDACTED);
            } else {
                encode(&mut ValueEncoder {
                    out: &mut value,
                    tmp: self.tmp,
                    redactor: self.redactor,
                });
            }
            if let Some(slot) = span.iter_mut().find(|(k, _)| *k == name) {
                slot.1 = value;
            } else {
                span.push((name, value));
            }
            return;
        }
        if !self.key(name) {
            return;
        }
        if secret {
            json::string(self.fields, REDACTED);
        } else {
            encode(&mut ValueEncoder {
                out: self.fields,
                tmp: self.tmp,
                redactor: self.redactor,
            });
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, |e| json::float(e.out, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |e| json::int(e.out, value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |e| json::int(e.out, value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, |e| json::int(e.out, value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, |e| json::int(e.out, value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |e| {
            e.out
                .extend_from_slice(if value { b"true" } else { b"false" });
        });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |e| e.str(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, |e| e.display(&value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |e| e.debug(value));
    }
}

impl JsonLayer {
    fn reserved(&self) -> &'static [&'static str] {
        self.names.reserved()
    }

    /// Encodes a span's fields into `pairs` (replacing values recorded again).
    fn record_span_fields(
        &self,
        pairs: &mut Vec<(&'static str, Vec<u8>)>,
        record: impl FnOnce(&mut FieldVisitor<'_>),
    ) {
        let mut tmp = Vec::new();
        let mut unused = Vec::new();
        let mut keys = Vec::new();
        record(&mut FieldVisitor {
            fields: &mut unused,
            message: None,
            tmp: &mut tmp,
            keys: &mut keys,
            reserved: self.reserved(),
            statics: &self.static_keys,
            redactor: &self.redactor,
            span: Some(pairs),
        });
    }

    fn streams_for(&self, event: &Event<'_>) -> (Stream, bool) {
        let meta = event.metadata();
        let level = *meta.level();
        if !self.separate_streams {
            return (Stream::Main, false);
        }
        match meta.target() {
            "audit" => (Stream::Audit, false),
            "access" => (Stream::Access, level <= Level::WARN),
            _ => (Stream::Main, level <= Level::WARN),
        }
    }
}

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut pairs = Vec::new();
        self.record_span_fields(&mut pairs, |v| attrs.record(v));
        span.extensions_mut().insert(SpanFields(pairs));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(SpanFields(pairs)) = ext.get_mut::<SpanFields>() else {
            return;
        };
        self.record_span_fields(pairs, |v| values.record(v));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        SCRATCH.with(|cell| {
            // An event logged while another is being formatted (from a field's `Display`) gets
            // buffers of its own instead of being lost.
            let mut fresh;
            let mut borrowed;
            let s: &mut Scratch = if let Ok(b) = cell.try_borrow_mut() {
                borrowed = b;
                &mut borrowed
            } else {
                fresh = Scratch::new();
                &mut fresh
            };
            s.fields.clear();
            s.message.clear();
            s.keys.clear();
            let reserved = self.reserved();
            let mut visitor = FieldVisitor {
                fields: &mut s.fields,
                message: Some(&mut s.message),
                tmp: &mut s.tmp,
                keys: &mut s.keys,
                reserved,
                statics: &self.static_keys,
                redactor: &self.redactor,
                span: None,
            };
            // Event fields first; `key` skips keys already written.
            event.record(&mut visitor);
            // Then span fields, innermost first; an event field wins over a span field.
            if let Some(scope) = ctx.event_scope(event) {
                for span in scope {
                    let ext = span.extensions();
                    if let Some(SpanFields(pairs)) = ext.get::<SpanFields>() {
                        for (key, value) in pairs {
                            if visitor.key(key) {
                                visitor.fields.extend_from_slice(value);
                            }
                        }
                    }
                }
            }
            let level = *event.metadata().level();
            let now = SystemTime::now();
            let line = &mut s.line;
            line.clear();
            let [k_time, k_level, k_message, k_service] = self.names.keys();
            line.extend_from_slice(b"{\"");
            line.extend_from_slice(k_time.as_bytes());
            line.extend_from_slice(b"\":\"");
            crate::time::write_rfc3339(now, line);
            line.extend_from_slice(b"\",\"");
            line.extend_from_slice(k_level.as_bytes());
            line.extend_from_slice(b"\":\"");
            let upper = self.names == FieldNames::OpenTelemetry;
            line.extend_from_slice(level_text(level, upper).as_bytes());
            line.push(b'"');
            if self.names == FieldNames::OpenTelemetry {
                line.extend_from_slice(b",\"severity_number\":");
                json::int(line, severity_number(level));
            }
            line.extend_from_slice(b",\"");
            line.extend_from_slice(k_message.as_bytes());
            line.extend_from_slice(b"\":");
            if s.message.is_empty() {
                line.extend_from_slice(b"\"\"");
            } else {
                line.extend_from_slice(&s.message);
            }
            line.extend_from_slice(b",\"");
            line.extend_from_slice(k_service.as_bytes());
            line.extend_from_slice(b"\":");
            json::string(line, &self.service);
            if self.names == FieldNames::Ecs {
                line.extend_from_slice(b",\"ecs.version\":\"8.11.0\"");
            }
            line.extend_from_slice(&self.static_fields);
            line.extend_from_slice(&s.fields);
            line.extend_from_slice(b"}\n");

            if let Some(shared) = &self.shared {
                let (stream, also_error) = self.streams_for(event);
                shared.enqueue(stream, line);
                if also_error {
                    shared.enqueue(Stream::Error, line);
                }
            }
            if self.console.is_some_and(|shown| level <= shown) {
                write_console(
                    &mut s.console,
                    now,
                    level,
                    event.metadata().target(),
                    &s.message,
                    &s.fields,
                );
            }
        });
    }
}

/// Writes `key` and JSON `value` pairs (already encoded) for static fields, redacted like any
/// other field.
pub(crate) fn encode_static(
    out: &mut Vec<u8>,
    key: &str,
    value: &StaticValue,
    redactor: &Redactor,
) {
    out.push(b',');
    json::string(out, key);
    out.push(b':');
    if redactor.is_secret(key) {
        json::string(out, REDACTED);
        return;
    }
    match value {
        StaticValue::Str(s) => redactor.string(out, s),
        StaticValue::Int(i) => json::int(out, i),
        StaticValue::Float(f) => json::float(out, *f),
        StaticValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

/// A static field's value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StaticValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for StaticValue {
    fn from(v: &str) -> Self {
        StaticValue::Str(v.to_owned())
    }
}
impl From<String> for StaticValue {
    fn from(v: String) -> Self {
        StaticValue::Str(v)
    }
}
impl From<i64> for StaticValue {
    fn from(v: i64) -> Self {
        StaticValue::Int(v)
    }
}
impl From<u32> for StaticValue {
    fn from(v: u32) -> Self {
        StaticValue::Int(i64::from(v))
    }
}
impl From<f64> for StaticValue {
    fn from(v: f64) -> Self {
        StaticValue::Float(v)
    }
}
impl From<bool> for StaticValue {
    fn from(v: bool) -> Self {
        StaticValue::Bool(v)
    }
}
