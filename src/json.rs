//! JSON that codexd carries without looking inside, kept as its text: a
//! client tool's `input_schema` and the `parameters` made from it. Parsing
//! Claude Code's tool schemas into trees, on every request, was a third of
//! what preparing a request cost; as text they are only checked to be JSON.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON value as its (compact or client-written) text. Two compare equal
/// when their texts do.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Arc<RawValue>);

impl RawJson {
    /// The value's JSON, written compactly.
    pub fn from_value(value: &Value) -> Self {
        // Writing a `Value` cannot fail: its keys are strings.
        RawJson(serde_json::value::to_raw_value(value).map_or_else(|_| null(), Arc::from))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The value, parsed.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }

    /// Bytes of text held.
    pub fn len(&self) -> usize {
        self.get().len()
    }

    pub fn is_empty(&self) -> bool {
        self.get().is_empty()
    }

    /// For `#[serde(deserialize_with)]` where the text is not at hand: in an
    /// internally tagged enum serde buffers the fields, and a raw value can
    /// only be read from serde_json's own deserializer. Reads the value as
    /// a tree and writes it compactly.
    pub fn from_any<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|value| RawJson::from_value(&value))
    }
}

fn null() -> Arc<RawValue> {
    Arc::from(RawValue::NULL.to_owned())
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> Self {
        RawJson::from_value(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_text_it_was_given_and_writes_it_back_as_is() {
        let text = r#"{"a": [1, 2],  "b":{}}"#;
        let raw: RawJson = serde_json::from_str(text).unwrap();
        assert_eq!(raw.get(), text);
        assert_eq!(serde_json::to_string(&[&raw]).unwrap(), format!("[{text}]"));
        assert_eq!(raw.to_value(), json!({"a":[1,2],"b":{}}));
    }

    #[test]
    fn a_value_is_written_compactly_and_compares_by_text() {
        let raw = RawJson::from_value(&json!({"type":"object","properties":{}}));
        assert_eq!(raw.get(), r#"{"type":"object","properties":{}}"#);
        assert_eq!(raw, RawJson::from(json!({"type":"object","properties":{}})));
        assert_ne!(raw, RawJson::from(json!({"properties":{},"type":"object"})));
    }

    #[test]
    fn inside_an_internally_tagged_enum_it_is_read_as_a_tree() {
        #[derive(Deserialize)]
        #[serde(tag = "type")]
        enum Tagged {
            Schema {
                #[serde(deserialize_with = "RawJson::from_any")]
                schema: RawJson,
            },
        }
        let Tagged::Schema { schema } = serde_json::from_str(r#"{"type":"Schema","schema":{"a": 1}}"#).unwrap();
        assert_eq!(schema.get(), r#"{"a":1}"#);
    }

    #[test]
    fn what_is_not_json_does_not_parse() {
        assert!(serde_json::from_str::<RawJson>("{").is_err());
    }
}
