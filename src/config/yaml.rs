//! All YAML parsing lives here, so the YAML crate can be swapped in one place.
//!
//! `serde_yaml_ng` gives values for serde; `yaml-rust2`'s event parser gives
//! the line of every key, so config errors can point at the file.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

pub use serde_yaml_ng::{Mapping, Value};

/// Line numbers (1-based) of every mapping key and sequence item, by path (`a::b::0`).
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// The line of `path`, or of its closest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            p = &p[..p.rfind("::")?];
        }
    }

    fn build(text: &str) -> LineIndex {
        enum Frame {
            Map { key: Option<String> },
            Seq { next: usize },
        }
        let mut lines = HashMap::new();
        let mut stack: Vec<(String, Frame)> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        // Returns the path of the value about to start, advancing the parent frame.
        fn child_path(stack: &mut [(String, Frame)]) -> Option<String> {
            let (base, frame) = stack.last_mut()?;
            let seg = match frame {
                Frame::Map { key } => key.take()?,
                Frame::Seq { next } => {
                    *next += 1;
                    (*next - 1).to_string()
                }
            };
            Some(if base.is_empty() { seg } else { format!("{base}::{seg}") })
        }
        while let Ok((ev, mark)) = parser.next_token() {
            match ev {
                Event::StreamEnd => break,
                Event::Scalar(s, ..) => {
                    let is_key = matches!(stack.last(), Some((_, Frame::Map { key: None })));
                    if is_key {
                        let base = stack.last().map(|(b, _)| b.clone()).unwrap_or_default();
                        let path = if base.is_empty() { s.clone() } else { format!("{base}::{s}") };
                        lines.insert(path, mark.line());
                        if let Some((_, Frame::Map { key })) = stack.last_mut() {
                            *key = Some(s);
                        }
                    } else if let Some(p) = child_path(&mut stack) {
                        lines.entry(p).or_insert(mark.line());
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = child_path(&mut stack).unwrap_or_default();
                    if !path.is_empty() {
                        lines.entry(path.clone()).or_insert(mark.line());
                    }
                    let frame = if matches!(ev, Event::MappingStart(..)) {
                        Frame::Map { key: None }
                    } else {
                        Frame::Seq { next: 0 }
                    };
                    stack.push((path, frame));
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Alias(_) => {
                    child_path(&mut stack);
                }
                _ => {}
            }
        }
        LineIndex { lines }
    }
}

/// Parses one YAML document into a value and its line index.
pub fn parse(text: &str) -> Result<(Value, LineIndex), String> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let value = if value.is_null() { Value::Mapping(Mapping::new()) } else { value };
    Ok((value, LineIndex::build(text)))
}

/// Parses a lone scalar, so `${env:PORT}` expanding to `4317` becomes a number.
pub fn parse_scalar(text: &str) -> Value {
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(text.to_string()),
    }
}

pub fn to_string(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_keys_and_items() {
        let text = "a:\n  b:\n    c: 1\n  list:\n    - x\n    - y: 2\n";
        let (_, idx) = parse(text).unwrap();
        assert_eq!(idx.line_of("a"), Some(1));
        assert_eq!(idx.line_of("a::b::c"), Some(3));
        assert_eq!(idx.line_of("a::list::1::y"), Some(6));
        assert_eq!(idx.line_of("a::b::c::missing"), Some(3));
    }
}
