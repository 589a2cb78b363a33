//! OTLP → Prometheus names, as the Collector's translator (Prometheus's
//! `otlptranslator`, underscore escaping with suffixes) builds them:
//! `http.server.duration` in `s` becomes `http_server_duration_seconds`,
//! monotonic sums end in `_total`, gauges in unit `1` end in `_ratio`.

/// What decides a name's suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    MonotonicCounter,
    NonMonotonicCounter,
    Gauge,
    Histogram,
    Summary,
}

/// UCUM units and their Prometheus words.
fn main_unit(u: &str) -> &str {
    match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The unit after `/`, in the singular: `By/s` is `bytes_per_second`.
fn per_unit(u: &str) -> &str {
    match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// Invalid characters become `_`, runs of `_` collapse, a leading `_` goes.
fn clean_unit(u: &str) -> String {
    let mut out = String::with_capacity(u.len());
    for c in u.chars() {
        let c = if is_metric_char(c) { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.strip_prefix('_').map(str::to_string).unwrap_or(out)
}

/// The main and `per_` suffixes of a unit; annotations such as `{request}` add none.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    let main = if main.is_empty() || main.contains(['{', '}']) { String::new() } else { main_unit(main).to_string() };
    let per = match parts.next().map(str::trim) {
        Some(p) if !p.is_empty() && !p.contains(['{', '}']) => match per_unit(p) {
            "" => String::new(),
            p => format!("per_{p}"),
        },
        _ => String::new(),
    };
    (clean_unit(&main), clean_unit(&per))
}

/// The Prometheus metric name of an OTLP metric, or `None` when nothing valid is left.
pub fn metric_name(name: &str, unit: &str, kind: NameKind, namespace: &str, add_suffixes: bool) -> Option<String> {
    let out = if add_suffixes {
        normalize(name, unit, kind, namespace)
    } else {
        let base = name.split(|c: char| !is_metric_char(c) && c != '_').filter(|t| !t.is_empty()).collect::<Vec<_>>();
        let base = base.join("_");
        if namespace.is_empty() {
            if base.starts_with(|c: char| c.is_ascii_digit()) {
                format!("_{base}")
            } else {
                base
            }
        } else {
            let ns = namespace.split(|c: char| !is_metric_char(c) && c != '_').filter(|t| !t.is_empty());
            format!("{}_{base}", ns.collect::<Vec<_>>().join("_"))
        }
    };
    (!out.is_empty() && out.chars().any(|c| c != '_')).then_some(out)
}

fn normalize(name: &str, unit: &str, kind: NameKind, namespace: &str) -> String {
    // Splitting on every invalid character also collapses runs of `_`.
    let mut tokens: Vec<String> =
        name.split(|c: char| !is_metric_char(c)).filter(|t| !t.is_empty()).map(str::to_string).collect();
    let (mut main, per) = unit_suffixes(unit);
    if tokens.contains(&main) {
        main.clear();
    }
    let per = if per == "per_" {
        String::new()
    } else {
        let p = per.strip_suffix('_').unwrap_or(&per).to_string();
        if tokens.contains(&p) {
            String::new()
        } else {
            p
        }
    };
    if !per.is_empty() {
        main = main.strip_suffix('_').unwrap_or(&main).to_string();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if kind == NameKind::MonotonicCounter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    // Only gauges: some receivers wrongly give counters of things the unit `1`.
    if unit == "1" && kind == NameKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    if !namespace.is_empty() {
        tokens.insert(0, namespace.to_string());
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{joined}")
    } else {
        joined
    }
}

/// A Prometheus label name for an attribute key: invalid characters become
/// one `_`, a leading digit gets `key_`; `__reserved__` names keep their
/// underscores. `None` when only underscores would be left.
pub fn label_name(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let reserved = key.len() >= 4 && key.starts_with("__") && key.ends_with("__");
    let inner = if reserved { &key[2..key.len() - 2] } else { key };
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_underscore = false;
    for c in inner.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_underscore = false;
        } else if !prev_underscore {
            out.push('_');
            prev_underscore = true;
        }
    }
    if reserved {
        out = format!("__{out}__");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    }
    out.chars().any(|c| c != '_').then_some(out)
}

/// The OpenMetrics unit of a metric (`# UNIT`), as its name suffix spells it.
pub fn unit_word(unit: &str) -> String {
    let (main, per) = unit_suffixes(unit);
    let u = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    u.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameKind::*;

    fn n(name: &str, unit: &str, kind: NameKind) -> String {
        metric_name(name, unit, kind, "", true).unwrap()
    }

    #[test]
    fn units_become_suffixes() {
        assert_eq!(n("http.server.request.duration", "s", Histogram), "http_server_request_duration_seconds");
        assert_eq!(n("memory.usage", "By", Gauge), "memory_usage_bytes");
        assert_eq!(n("system.network.io", "By/s", Gauge), "system_network_io_bytes_per_second");
        assert_eq!(n("requests", "{request}/s", Gauge), "requests_per_second");
        assert_eq!(n("temp", "Cel", Gauge), "temp_celsius");
        assert_eq!(n("disk.used", "%", Gauge), "disk_used_percent");
        assert_eq!(n("weird", "foo-bar", Gauge), "weird_foo_bar");
        // Already named for its unit: not repeated.
        assert_eq!(n("latency_seconds", "s", Histogram), "latency_seconds");
    }

    #[test]
    fn counters_total_and_gauges_ratio() {
        assert_eq!(n("requests.count", "1", MonotonicCounter), "requests_count_total");
        assert_eq!(n("http.requests", "{request}", MonotonicCounter), "http_requests_total");
        assert_eq!(n("cpu.time", "s", MonotonicCounter), "cpu_time_seconds_total");
        // `total` moves to the end, once.
        assert_eq!(n("total.requests", "", MonotonicCounter), "requests_total");
        assert_eq!(n("cpu.utilization", "1", Gauge), "cpu_utilization_ratio");
        // Not for counters or up-down counters.
        assert_eq!(n("active", "1", NonMonotonicCounter), "active");
        assert_eq!(n("queue.size", "{item}", NonMonotonicCounter), "queue_size");
    }

    #[test]
    fn invalid_characters_namespace_and_digits() {
        assert_eq!(n("foo..bar__baz-qux", "", Gauge), "foo_bar_baz_qux");
        assert_eq!(n("2xx.count", "", Gauge), "_2xx_count");
        assert_eq!(metric_name("up", "", Gauge, "ns", true).unwrap(), "ns_up");
        assert_eq!(metric_name("a.b", "s", Gauge, "", false).unwrap(), "a_b");
        assert_eq!(metric_name("a.b", "s", Gauge, "my-ns", false).unwrap(), "my_ns_a_b");
        assert_eq!(metric_name("...", "", Gauge, "", true), None);
        assert_eq!(n("ns:sub.metric", "", Gauge), "ns:sub_metric");
    }

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(label_name("http.method").unwrap(), "http_method");
        assert_eq!(label_name("gen_ai.request.model").unwrap(), "gen_ai_request_model");
        assert_eq!(label_name("123invalid").unwrap(), "key_123invalid");
        assert_eq!(label_name("__reserved__").unwrap(), "__reserved__");
        assert_eq!(label_name("a..b").unwrap(), "a_b");
        assert_eq!(label_name("_private").unwrap(), "_private");
        assert_eq!(label_name("héllo").unwrap(), "h_llo");
        assert_eq!(label_name("..."), None);
        assert_eq!(label_name(""), None);
    }

    #[test]
    fn openmetrics_unit_words() {
        assert_eq!(unit_word("s"), "seconds");
        assert_eq!(unit_word("By/s"), "bytes_per_second");
        assert_eq!(unit_word("1"), "");
        assert_eq!(unit_word("{token}"), "");
    }
}
