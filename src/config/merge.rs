use super::yaml::Value;

/// Merges `over` into `base` as the Collector merges several `--config`
/// files: maps merge key by key, anything else is replaced.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_win_key_by_key() {
        let mut a: Value = serde_yaml_ng::from_str("x: {a: 1, b: [1, 2]}\ny: 1").unwrap();
        let b: Value = serde_yaml_ng::from_str("x: {b: [3], c: 2}").unwrap();
        merge(&mut a, b);
        let want: Value = serde_yaml_ng::from_str("x: {a: 1, b: [3], c: 2}\ny: 1").unwrap();
        assert_eq!(a, want);
    }
}
