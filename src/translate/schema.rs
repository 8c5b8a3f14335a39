//! Tool JSON-schema normalisation: turns the schemas Claude tools carry into
//! ones the Codex backend accepts as `parameters` (and structured output
//! schemas into ones it accepts as `text.format.schema`, see [`is_strict`]).
//!
//! The backend wants `{"type":"object","properties":{…}}` at the top and has
//! rejected `$schema`, top-level combinators (`oneOf`/`anyOf`/`allOf`/`enum`/
//! `not`), regex `pattern`s its engine cannot parse, and duplicate `required`
//! entries. [`normalize`] fixes exactly those and keeps everything else
//! (`format`, `description`, `enum` inside properties, `additionalProperties`…).
//!
//! A tool's schema arrives, and leaves, as JSON text ([`RawJson`]);
//! [`tool_parameters`] normalizes each text once per process and remembers
//! the result ([`crate::memo`]): a session sends the same schemas with every
//! request.

use serde_json::{Map, Value};

use crate::json::RawJson;
use crate::memo::TextMemo;

/// Normalized tool schemas, by the text the client sent. 1 MiB, keys and
/// values counted, holds Claude Code's 36 KB of schemas many times over
/// (several sessions, several versions of Claude Code).
const NORMALIZED_BUDGET: usize = 1024 * 1024;

static NORMALIZED: TextMemo = TextMemo::new(NORMALIZED_BUDGET);

/// [`normalize`] of a tool's `input_schema`, as the `parameters` to send:
/// made once per schema text, then remembered.
pub fn tool_parameters(input_schema: &RawJson) -> RawJson {
    NORMALIZED.get_or_make(input_schema.get(), |_| RawJson::from_value(&normalize(&input_schema.to_value())))
}

/// Keys removed from the top level of a tool schema.
const TOP_LEVEL_REJECTED: [&str; 8] = ["$schema", "$id", "$comment", "oneOf", "anyOf", "allOf", "enum", "not"];

/// Top-level combinators whose branches' `properties` are folded into the top.
const COMBINATORS: [&str; 3] = ["anyOf", "oneOf", "allOf"];

/// Keys whose value is one schema.
const SINGLE_SCHEMA_KEYS: [&str; 10] = [
    "items",
    "additionalProperties",
    "additionalItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];

/// Keys whose value is a list of schemas (`items` appears in both lists: it
/// may be one schema or, in older drafts, a list).
const SCHEMA_LIST_KEYS: [&str; 5] = ["anyOf", "oneOf", "allOf", "prefixItems", "items"];

/// Keys whose value maps names to schemas.
const SCHEMA_MAP_KEYS: [&str; 5] = ["properties", "$defs", "definitions", "dependentSchemas", "patternProperties"];

/// Returns a copy of a tool's `input_schema` the Codex backend accepts.
///
/// - Anything but a JSON object becomes `{"type":"object","properties":{}}`.
/// - At the top: `type` is forced to `object`; `$schema`, `$id`, `$comment`,
///   `oneOf`, `anyOf`, `allOf`, `enum` and `not` are removed, and the
///   `properties` of `anyOf`/`oneOf`/`allOf` branches are folded into the
///   top-level `properties` (existing ones win) so the model still sees them.
/// - Everywhere (properties, items, additionalProperties, combinator
///   branches, `$defs`/`definitions`, …): `$schema` is removed; an object
///   schema without `properties` gets an empty one; a `pattern` using regex
///   features the backend cannot parse is dropped (see [`is_portable_regex`]);
///   `required` is deduplicated and, where the schema has `properties`,
///   limited to names listed there (an empty `required` is removed).
pub fn normalize(schema: &Value) -> Value {
    let Value::Object(source) = schema else {
        return empty_object_schema();
    };
    let mut top = Map::new();
    top.insert("type".into(), Value::from("object"));
    for (key, value) in source {
        if key != "type" && !TOP_LEVEL_REJECTED.contains(&key.as_str()) {
            top.insert(key.clone(), value.clone());
        }
    }
    fold_combinator_properties(source, &mut top);
    normalize_node(&mut top);
    Value::Object(top)
}

/// Whether a [`normalize`]d schema meets the backend's strict rules for
/// `text.format` (structured output with `strict: true`): every object
/// schema, at any depth, lists all its `properties` in `required` and has
/// `additionalProperties: false`. A schema that does not is sent with
/// `strict: false`, since the backend refuses it with `strict: true`.
pub fn is_strict(schema: &Value) -> bool {
    let Value::Object(node) = schema else { return true };
    let is_object = node.get("type").and_then(Value::as_str) == Some("object") || node.contains_key("properties");
    if is_object {
        let properties = node.get("properties").and_then(Value::as_object);
        let required: Vec<&str> =
            node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let all_required =
            properties.is_none_or(|properties| properties.keys().all(|k| required.contains(&k.as_str())));
        if !all_required || node.get("additionalProperties") != Some(&Value::Bool(false)) {
            return false;
        }
    }
    node.iter().all(|(key, value)| match key.as_str() {
        k if SCHEMA_MAP_KEYS.contains(&k) => value.as_object().is_none_or(|map| map.values().all(is_strict)),
        k if SCHEMA_LIST_KEYS.contains(&k) && value.is_array() => {
            value.as_array().is_none_or(|list| list.iter().all(is_strict))
        }
        k if SINGLE_SCHEMA_KEYS.contains(&k) => k == "additionalProperties" || is_strict(value),
        _ => true,
    })
}

/// `{"type":"object","properties":{}}`.
fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Adds the `properties` of top-level combinator branches to `top`.
fn fold_combinator_properties(source: &Map<String, Value>, top: &mut Map<String, Value>) {
    let branch_properties: Vec<(&String, &Value)> = COMBINATORS
        .iter()
        .filter_map(|key| source.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(|branch| branch.get("properties").and_then(Value::as_object))
        .flatten()
        .collect();
    if branch_properties.is_empty() {
        return;
    }
    let properties = top.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(properties) = properties {
        for (name, schema) in branch_properties {
            properties.entry(name.clone()).or_insert_with(|| schema.clone());
        }
    }
}

/// Normalises one schema object in place, then its sub-schemas.
///
/// One walk over the node's own keys: looking up each of the ~20 keywords
/// that may hold a sub-schema instead cost a hash per keyword per node,
/// most of the time spent translating Claude Code's tools.
fn normalize_node(node: &mut Map<String, Value>) {
    let mut has_schema_key = false;
    let mut drop_pattern = false;
    let mut has_required = false;
    for (key, value) in node.iter_mut() {
        match key.as_str() {
            "$schema" => has_schema_key = true,
            "pattern" => drop_pattern = value.as_str().is_some_and(|p| !is_portable_regex(p)),
            "required" => has_required = true,
            "patternProperties" => {
                if let Value::Object(patterns) = value {
                    patterns.retain(|pattern, _| is_portable_regex(pattern));
                }
            }
            _ => {}
        }
        normalize_child(key, value);
    }
    if has_schema_key {
        node.remove("$schema");
    }
    if drop_pattern {
        node.remove("pattern");
    }
    if is_object_schema(node) && !node.get("properties").is_some_and(Value::is_object) {
        node.insert("properties".into(), Value::Object(Map::new()));
    }
    if has_required {
        clean_required(node);
    }
}

/// Normalises the sub-schemas held by one keyword of a schema.
fn normalize_child(key: &str, value: &mut Value) {
    match value {
        Value::Object(child) if SINGLE_SCHEMA_KEYS.contains(&key) => normalize_node(child),
        Value::Array(children) if SCHEMA_LIST_KEYS.contains(&key) => {
            children.iter_mut().filter_map(Value::as_object_mut).for_each(normalize_node);
        }
        Value::Object(children) if SCHEMA_MAP_KEYS.contains(&key) => {
            children.values_mut().filter_map(Value::as_object_mut).for_each(normalize_node);
        }
        _ => {}
    }
}

/// `type: "object"` or a type list that includes `"object"`.
fn is_object_schema(node: &Map<String, Value>) -> bool {
    match node.get("type") {
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k == "object"),
        _ => false,
    }
}

/// Dedupes `required`, keeps only names in `properties` (when there is a
/// `properties` object), and removes it when nothing is left.
fn clean_required(node: &mut Map<String, Value>) {
    let Some(Value::Array(required)) = node.get("required") else {
        return;
    };
    let properties = node.get("properties").and_then(Value::as_object);
    let mut kept: Vec<Value> = Vec::with_capacity(required.len());
    for name in required.iter().filter_map(Value::as_str) {
        let known = properties.is_none_or(|p| p.contains_key(name));
        if known && !kept.iter().any(|k| k == name) {
            kept.push(Value::from(name));
        }
    }
    if kept.is_empty() {
        node.remove("required");
    } else {
        node.insert("required".into(), Value::Array(kept));
    }
}

/// Whether a regex avoids the features the backend's engine cannot parse:
/// Unicode classes (`\p{…}`, `\P{…}`), lookahead (`(?=`, `(?!`), lookbehind
/// (`(?<=`, `(?<!`) and backreferences (`\1`…`\9`, `\k<name>`).
pub fn is_portable_regex(pattern: &str) -> bool {
    const LOOKAROUNDS: [&str; 4] = ["(?=", "(?!", "(?<=", "(?<!"];
    let mut chars = pattern.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next().map(|(_, escaped)| escaped) {
                Some('p' | 'P' | '1'..='9') => return false,
                Some('k') if chars.peek().is_some_and(|&(_, next)| next == '<') => return false,
                _ => {}
            },
            '(' if LOOKAROUNDS.iter().any(|look| pattern[at..].starts_with(look)) => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_remembered_schema_is_the_one_normalizing_anew_gives() {
        let text = r#"{"$schema":"x","type":"object","properties":{"when":{"type":"string","pattern":"(?<=a)b"}},"required":["when","when"]}"#;
        let raw: RawJson = serde_json::from_str(text).unwrap();
        let fresh = RawJson::from_value(&normalize(&raw.to_value()));
        let (first, again) = (tool_parameters(&raw), tool_parameters(&raw));
        assert_eq!((&first, &again), (&fresh, &fresh));
        assert_eq!(
            fresh.to_value(),
            json!({"type":"object","properties":{"when":{"type":"string"}},"required":["when"]})
        );
        assert!(NORMALIZED.len() >= 1 && NORMALIZED.bytes() <= NORMALIZED_BUDGET);
    }

    #[test]
    fn normalisation_table() {
        let table = [
            ("null", json!(null), json!({"type":"object","properties":{}})),
            ("string", json!("nope"), json!({"type":"object","properties":{}})),
            ("empty object", json!({}), json!({"type":"object","properties":{}})),
            ("missing properties", json!({"type":"object"}), json!({"type":"object","properties":{}})),
            (
                "missing type, $schema/$id/$comment removed",
                json!({"$schema":"http://json-schema.org/draft-07/schema#","$id":"x","$comment":"c","properties":{"a":{"type":"string"}}}),
                json!({"type":"object","properties":{"a":{"type":"string"}}}),
            ),
            (
                "top-level type forced",
                json!({"type":["object","null"],"properties":{}}),
                json!({"type":"object","properties":{}}),
            ),
            (
                "top-level combinators dropped, branch properties folded in",
                json!({"type":"object","properties":{"mode":{"type":"string"}},
                       "anyOf":[{"properties":{"a":{"type":"string"},"mode":{"const":"x"}},"required":["a"]},
                                {"properties":{"b":{"type":"number"}}}],
                       "oneOf":[{"required":["mode"]}], "allOf":[], "enum":[1], "not":{"required":["z"]}}),
                json!({"type":"object","properties":{"mode":{"type":"string"},"a":{"type":"string"},"b":{"type":"number"}}}),
            ),
            (
                "nested $schema removed, nested objects get properties",
                json!({"type":"object","properties":{
                    "opts":{"$schema":"x","type":"object","additionalProperties":{"type":"object"}},
                    "list":{"type":"array","items":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n","n"]}},
                    "either":{"anyOf":[{"type":"object"},{"type":"null","$schema":"y"}]}
                }}),
                json!({"type":"object","properties":{
                    "opts":{"type":"object","additionalProperties":{"type":"object","properties":{}},"properties":{}},
                    "list":{"type":"array","items":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}},
                    "either":{"anyOf":[{"type":"object","properties":{}},{"type":"null"}]}
                }}),
            ),
            (
                "required deduped and limited to properties",
                json!({"type":"object","properties":{"a":{},"b":{}},"required":["a","ghost","a","b",7]}),
                json!({"type":"object","properties":{"a":{},"b":{}},"required":["a","b"]}),
            ),
            (
                "required with nothing left is removed",
                json!({"type":"object","required":["ghost"]}),
                json!({"type":"object","properties":{}}),
            ),
            (
                "required in a branch without properties is only deduped",
                json!({"type":"object","properties":{"x":{"type":"object","properties":{"a":{},"b":{}},
                       "anyOf":[{"required":["a","a"]},{"required":["b"]}]}}}),
                json!({"type":"object","properties":{"x":{"type":"object","properties":{"a":{},"b":{}},
                       "anyOf":[{"required":["a"]},{"required":["b"]}]}}}),
            ),
            (
                "unparseable patterns dropped, others and format/enum kept",
                json!({"type":"object","properties":{
                    "name":{"type":"string","pattern":"^\\p{L}+$"},
                    "id":{"type":"string","pattern":"^[a-z0-9_-]{1,64}$","format":"uuid"},
                    "pw":{"type":"string","pattern":"^(?=.*\\d).{8,}$"},
                    "kind":{"type":"string","enum":["a","b"],"description":"which"},
                    "pattern":{"type":"string","description":"a property called pattern"}
                }}),
                json!({"type":"object","properties":{
                    "name":{"type":"string"},
                    "id":{"type":"string","pattern":"^[a-z0-9_-]{1,64}$","format":"uuid"},
                    "pw":{"type":"string"},
                    "kind":{"type":"string","enum":["a","b"],"description":"which"},
                    "pattern":{"type":"string","description":"a property called pattern"}
                }}),
            ),
            (
                "$defs and definitions normalised",
                json!({"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},
                       "$defs":{"P":{"type":"object","$schema":"x"}},"definitions":{"Q":{"type":"object","required":["q","q"],"properties":{"q":{}}}}}),
                json!({"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},
                       "$defs":{"P":{"type":"object","properties":{}}},"definitions":{"Q":{"type":"object","required":["q"],"properties":{"q":{}}}}}),
            ),
            (
                "patternProperties with unparseable keys dropped",
                json!({"type":"object","patternProperties":{"^\\p{Lu}":{"type":"string"},"^x-":{"type":"object"}}}),
                json!({"type":"object","patternProperties":{"^x-":{"type":"object","properties":{}}},"properties":{}}),
            ),
            (
                "boolean sub-schemas kept",
                json!({"type":"object","properties":{"a":true},"additionalProperties":false}),
                json!({"type":"object","properties":{"a":true},"additionalProperties":false}),
            ),
        ];
        for (why, input, expected) in table {
            assert_eq!(normalize(&input), expected, "{why}");
        }
    }

    #[test]
    fn output_is_stable() {
        let input = json!({"anyOf":[{"properties":{"a":{"type":"object"}}}],"required":["a","a"]});
        let once = normalize(&input);
        assert_eq!(normalize(&once), once);
    }

    #[test]
    fn regex_portability_table() {
        let table = [
            ("^[a-z]+$", true),
            ("^\\d{3}-\\d{4}$", true),
            ("\\\\p{not a class}", true),
            ("(?:group)", true),
            ("(?<name>x)", true),
            ("\\p{L}", false),
            ("\\P{Lu}", false),
            ("\\pL", false),
            ("foo(?=bar)", false),
            ("foo(?!bar)", false),
            ("(?<=a)b", false),
            ("(?<!a)b", false),
            ("(a)\\1", false),
            ("(?<q>a)\\k<q>", false),
            ("trailing backslash \\", true),
        ];
        for (pattern, portable) in table {
            assert_eq!(is_portable_regex(pattern), portable, "{pattern}");
        }
    }
}
