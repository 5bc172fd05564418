//! JSON Schemas of the MCP tools, taken from the API's OpenAPI document: a tool takes and
//! returns exactly what the route behind it does, described once. A component's schema is
//! copied with the components it refers to under `$defs` (`#/components/schemas/X` becomes
//! `#/$defs/X`), so each tool schema stands alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The component schemas of an OpenAPI document, by name, as JSON.
pub struct Components(BTreeMap<String, Value>);

const REF_PREFIX: &str = "#/components/schemas/";

impl Components {
    /// Reads the components of `doc` and adds `extra` (name, schema) pairs.
    pub fn new(doc: &utoipa::openapi::OpenApi, extra: Vec<(String, Value)>) -> Components {
        let mut map = BTreeMap::new();
        if let Some(c) = &doc.components {
            for (name, s) in &c.schemas {
                if let Ok(v) = serde_json::to_value(s) {
                    map.insert(name.clone(), v);
                }
            }
        }
        map.extend(extra);
        Components(map)
    }

    /// The standalone JSON Schema of component `name` (`None` when there is no such
    /// component).
    pub fn standalone(&self, name: &str) -> Option<Map<String, Value>> {
        let root = self.0.get(name)?;
        let mut defs = Map::new();
        let mut todo: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        refs(root, &mut todo);
        while let Some(r) = todo.pop() {
            if !seen.insert(r.clone()) {
                continue;
            }
            if let Some(s) = self.0.get(&r) {
                refs(s, &mut todo);
                defs.insert(r, rewrite(s.clone()));
            }
        }
        let Value::Object(mut out) = rewrite(root.clone()) else {
            return None;
        };
        if !defs.is_empty() {
            out.insert("$defs".into(), Value::Object(defs));
        }
        Some(out)
    }
}

/// Component names `v` refers to.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(s)) => {
                        if let Some(n) = s.strip_prefix(REF_PREFIX) {
                            out.push(n.to_string());
                        }
                    }
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// `v` with its component references pointing into `$defs`.
fn rewrite(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| match (k.as_str(), x) {
                    ("$ref", Value::String(s)) => {
                        let s = match s.strip_prefix(REF_PREFIX) {
                            Some(n) => format!("#/$defs/{n}"),
                            None => s,
                        };
                        (k, Value::String(s))
                    }
                    (_, x) => (k, rewrite(x)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(rewrite).collect()),
        other => other,
    }
}

/// The schema of a `utoipa` type and of the types it refers to, as (name, JSON) pairs.
pub fn of<T: utoipa::ToSchema>() -> Vec<(String, Value)> {
    let mut v = Vec::new();
    T::schemas(&mut v);
    v.push((T::name().into_owned(), T::schema()));
    v.into_iter()
        .map(|(n, s)| (n, serde_json::to_value(s).unwrap_or(Value::Null)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// References are followed transitively, rewritten into `$defs`, and cycles end.
    #[test]
    fn components_become_standalone_schemas() {
        let doc = utoipa::openapi::OpenApi::default();
        let c = Components::new(
            &doc,
            vec![
                (
                    "A".into(),
                    json!({"type": "object", "properties": {
                        "b": {"$ref": "#/components/schemas/B"},
                        "list": {"type": "array", "items": {"$ref": "#/components/schemas/B"}}}}),
                ),
                (
                    "B".into(),
                    json!({"type": "object", "properties": {
                        "c": {"$ref": "#/components/schemas/C"}}}),
                ),
                (
                    "C".into(),
                    json!({"type": "object", "properties": {
                        "back": {"$ref": "#/components/schemas/B"}}}),
                ),
                ("D".into(), json!({"type": "string"})),
            ],
        );
        let a = Value::Object(c.standalone("A").unwrap());
        assert_eq!(a["properties"]["b"]["$ref"], "#/$defs/B");
        assert_eq!(a["properties"]["list"]["items"]["$ref"], "#/$defs/B");
        assert_eq!(
            a["$defs"]["B"]["properties"]["c"]["$ref"], "#/$defs/C",
            "{a}"
        );
        assert_eq!(a["$defs"]["C"]["properties"]["back"]["$ref"], "#/$defs/B");
        assert!(a["$defs"].get("D").is_none(), "{a}");
        assert!(!a.to_string().contains("components"), "{a}");
        assert!(c.standalone("missing").is_none());
    }
}
