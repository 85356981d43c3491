//! One flat JSON object per log line: what log pipelines (Loki, Elasticsearch, CloudWatch)
//! index without a parsing stage.
//!
//! Every line carries `timestamp` (RFC 3339, UTC, microseconds), `level`, `target`, `spans`
//! (the span chain from the root, `serve>request>tradier`), `message`, the fields of every
//! enclosing span (so a request's `request_id` is on every line logged while serving it, however
//! deep) and the event's own fields, which win over a span field of the same name: each key
//! appears once. Numbers and booleans stay JSON numbers and booleans; errors are written with
//! their chain of causes.
//!
//! Written here because neither crate made for it does all of this: `tracing-subscriber`'s JSON
//! format nests span fields (only the current span's, or a list), `json-subscriber` flattens
//! span and event fields but may then write the same key twice, and `tracing-flat-json` leaves
//! out the span names and the target.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Keys every line has, written first; a field of the same name is dropped.
const FIXED: [&str; 5] = ["timestamp", "level", "target", "spans", "message"];

/// A [`Layer`] writing one flat JSON object per event to `make_writer` (see the module docs).
#[derive(Debug)]
pub struct FlatJsonLayer<W> {
    make_writer: W,
}

impl<W> FlatJsonLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Lines go to `make_writer` (e.g. `std::io::stderr`).
    pub fn new(make_writer: W) -> FlatJsonLayer<W> {
        FlatJsonLayer { make_writer }
    }
}

/// The recorded fields of one span.
#[derive(Default)]
struct SpanFields(BTreeMap<&'static str, Value>);

/// Turns field values into JSON values, numbers as numbers.
struct JsonVisitor<'a> {
    fields: &'a mut BTreeMap<&'static str, Value>,
}

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.fields.insert(field.name(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity: those are written as text.
        let v = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.put(field, v);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let v = i64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.put(field, v);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let v = u64::try_from(value).map_or_else(|_| Value::String(value.to_string()), Value::from);
        self.put(field, v);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole chain, each cause once (our errors often repeat their cause's text).
        let mut line = value.to_string();
        let mut cause = value.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = c.source();
        }
        self.put(field, Value::String(line));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for FlatJsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = SpanFields::default();
        attrs.record(&mut JsonVisitor {
            fields: &mut fields.0,
        });
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor {
                fields: &mut fields.0,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = BTreeMap::new();
        let mut spans = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if !spans.is_empty() {
                    spans.push('>');
                }
                spans.push_str(span.name());
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.0.iter().map(|(k, v)| (*k, v.clone())));
                }
            }
        }
        event.record(&mut JsonVisitor {
            fields: &mut fields,
        });
        let message = fields
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        let mut line = String::with_capacity(256);
        line.push('{');
        let mut first = true;
        let mut push = |key: &str, value: &Value| {
            if !first {
                line.push(',');
            }
            first = false;
            line.push_str(&Value::String(key.to_owned()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        };
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        push("timestamp", &Value::String(timestamp));
        push("level", &Value::String(meta.level().to_string()));
        push("target", &Value::String(meta.target().to_owned()));
        if !spans.is_empty() {
            push("spans", &Value::String(spans));
        }
        push("message", &message);
        for (key, value) in &fields {
            if !FIXED.contains(key) {
                push(key, value);
            }
        }
        line.push_str("}\n");
        // A log line that cannot be written (a closed stderr) has nowhere to be reported.
        let _ = self
            .make_writer
            .make_writer_for(meta)
            .write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn lines(buffer: &Buffer) -> Vec<serde_json::Map<String, Value>> {
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes)
            .unwrap_or_default()
            .lines()
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(map)) => map,
                other => panic!("not a JSON object: {l} ({other:?})"),
            })
            .collect()
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("upsert_tickers failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn span_fields_reach_every_nested_line_once_with_numbers_as_numbers() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(FlatJsonLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", request_id = "abc123", vendor = "none");
            let _r = request.enter();
            let vendor = tracing::info_span!("tradier", vendor = "tradier", attempt = 1u64);
            let _v = vendor.enter();
            let error = Outer(std::io::Error::other(
                "attempt to write a readonly database",
            ));
            tracing::warn!(
                latency_ms = 12.5,
                status = 503u16,
                ok = false,
                error = &error as &(dyn std::error::Error + 'static),
                "vendor error"
            );
            vendor.record("attempt", 2u64);
            tracing::info!(vendor = "override", "retried");
        });
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["level"], "WARN");
        assert_eq!(first["spans"], "request>tradier");
        assert_eq!(first["message"], "vendor error");
        assert_eq!(first["request_id"], "abc123", "the outer span's field");
        assert_eq!(first["vendor"], "tradier", "the inner span wins");
        assert_eq!(first["latency_ms"], 12.5);
        assert_eq!(first["status"], 503);
        assert_eq!(first["ok"], false);
        assert_eq!(
            first["error"],
            "upsert_tickers failed: attempt to write a readonly database"
        );
        assert!(
            first["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        let second = &lines[1];
        assert_eq!(
            second["vendor"], "override",
            "the event wins over its spans"
        );
        assert_eq!(second["attempt"], 2, "a recorded span field updates");
        assert_eq!(second["request_id"], "abc123");
    }

    #[test]
    fn a_line_outside_any_span_has_no_span_chain_and_keys_appear_once() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(FlatJsonLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "ivcrush", level = "shadowed", "starting");
        });
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(text.matches("\"level\"").count(), 1, "{text}");
        let lines = lines(&buffer);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["target"], "ivcrush");
        assert!(!lines[0].contains_key("spans"));
    }
}
