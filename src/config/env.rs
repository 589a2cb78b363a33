//! `${env:VAR}`, `${env:VAR:-default}`, `${VAR}` and `$$`, as the Collector expands them.

use super::yaml::{parse_scalar, Value};

/// Expands every string in `v`. Errors carry the path of the bad value.
pub fn expand(v: &mut Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) if s.contains('$') => match expand_str(s, lookup) {
            Ok((out, whole)) => *v = if whole { parse_scalar(&out) } else { Value::String(out) },
            Err(e) => errors.push((path.to_string(), e)),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &join(path, &i.to_string()), lookup, errors);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key =
                    k.as_str().map(str::to_string).unwrap_or_else(|| super::yaml::to_string(k).trim().to_string());
                expand(item, &join(path, &key), lookup, errors);
            }
        }
        Value::Tagged(t) => expand(&mut t.value, path, lookup, errors),
        _ => {}
    }
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        format!("{path}::{seg}")
    }
}

/// Returns the expanded text, and whether the whole string was one reference
/// (then the result is typed as a YAML scalar, as the Collector does).
pub fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut refs = 0;
    let mut literal = false;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        literal |= i > 0;
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            literal = true;
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("unterminated reference in {s:?}"))?;
            out.push_str(&resolve(&body[..end], lookup)?);
            refs += 1;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            literal = true;
            rest = after;
        }
    }
    literal |= !rest.is_empty();
    out.push_str(rest);
    Ok((out, refs == 1 && !literal))
}

fn resolve(reference: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (scheme, rest) = match reference.split_once(':') {
        Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => (scheme, rest),
        _ => ("env", reference),
    };
    if scheme != "env" {
        return Err(format!("unsupported config provider {scheme:?} in ${{{reference}}}; only env is supported"));
    }
    let (name, default) = match rest.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (rest, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("invalid environment variable name {name:?}"));
    }
    match lookup(name) {
        Some(v) if !v.is_empty() || default.is_none() => Ok(v),
        _ => Ok(default.unwrap_or("").to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("4317".into()),
            "HOST" => Some("example".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_references() {
        assert_eq!(expand_str("${env:HOST}:${env:PORT}", &env).unwrap(), ("example:4317".into(), false));
        assert_eq!(expand_str("${env:PORT}", &env).unwrap(), ("4317".into(), true));
        assert_eq!(expand_str("${env:NOPE:-x-y}", &env).unwrap().0, "x-y");
        assert_eq!(expand_str("${HOST}", &env).unwrap().0, "example");
        assert_eq!(expand_str("a$$b", &env).unwrap().0, "a$b");
        assert_eq!(expand_str("$${env:HOST}", &env).unwrap().0, "${env:HOST}");
        assert!(expand_str("${file:/x}", &env).is_err());
        assert!(expand_str("${env:HOST", &env).is_err());
    }

    #[test]
    fn whole_reference_is_typed() {
        let mut v = Value::String("${env:PORT}".into());
        let mut errs = Vec::new();
        expand(&mut v, "", &env, &mut errs);
        assert_eq!(v, Value::Number(4317.into()));
    }
}
