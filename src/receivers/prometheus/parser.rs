//! Prometheus text (0.0.4) and OpenMetrics text (1.0) parsing.
//!
//! The maintained crates either cover only the 0.0.4 format or skip
//! exemplars, `_created` and `# EOF`, so this is a small byte-level parser
//! that keeps what the OTLP mapping needs: families with their type, help
//! and unit, and samples with labels, timestamps and exemplars.

use std::collections::HashMap;

/// The exposition format, chosen from the response's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub fn from_content_type(ct: &str) -> Format {
        let media = ct.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    fn parse(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// Suffixes a sample name may add to its family's name.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            MetricType::Summary => &["_count", "_sum", "_created"],
            MetricType::Info => &["_info"],
            _ => &[],
        }
    }
}

pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    /// Seconds since the epoch, as OpenMetrics writes it.
    pub timestamp: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the epoch, whichever format it came in.
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<Exemplar>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub mtype: MetricType,
    pub help: String,
    pub unit: String,
    pub samples: Vec<Sample>,
}

impl Family {
    fn new(name: &str) -> Family {
        Family {
            name: name.to_string(),
            mtype: MetricType::Unknown,
            help: String::new(),
            unit: String::new(),
            samples: Vec::new(),
        }
    }

    /// Whether a sample of this name belongs to this family.
    fn owns(&self, sample: &str) -> bool {
        match sample.strip_prefix(self.name.as_str()) {
            Some("") => !matches!(self.mtype, MetricType::Info | MetricType::Histogram | MetricType::GaugeHistogram),
            Some(rest) => self.mtype.suffixes().contains(&rest),
            None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

/// Parses one scrape's body.
pub fn parse(text: &str, format: Format) -> Result<Vec<Family>, ParseError> {
    let mut families: Vec<Family> = Vec::new();
    // Names declared by HELP/TYPE/UNIT, so metadata and samples of one family meet.
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;
    let mut eof = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let err = |msg: String| ParseError { line: line_no, msg };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if eof {
            if line.is_empty() && i + 1 == text.split('\n').count() {
                continue;
            }
            return Err(err("content after # EOF".into()));
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            if format == Format::OpenMetrics && rest == "EOF" {
                eof = true;
                continue;
            }
            let mut parts = rest.splitn(3, [' ', '\t']);
            let keyword = parts.next().unwrap_or("");
            if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
                continue; // a plain comment
            }
            let name = parts.next().unwrap_or("");
            if !valid_metric_name(name) {
                return Err(err(format!("invalid metric name {name:?} in # {keyword}")));
            }
            let value = parts.next().unwrap_or("").trim();
            let idx = match by_name.get(name) {
                Some(&idx) => idx,
                None => {
                    families.push(Family::new(name));
                    by_name.insert(name.to_string(), families.len() - 1);
                    families.len() - 1
                }
            };
            let fam = &mut families[idx];
            match keyword {
                "HELP" => fam.help = unescape_help(value),
                "TYPE" => {
                    fam.mtype =
                        MetricType::parse(value).ok_or_else(|| err(format!("unknown metric type {value:?}")))?;
                }
                _ => fam.unit = value.to_string(),
            }
            current = Some(idx);
            continue;
        }
        let sample = parse_sample(line, format).map_err(err)?;
        let idx = match current {
            Some(c) if families[c].owns(&sample.name) => c,
            _ => match by_name.get(&sample.name) {
                Some(&idx) if families[idx].owns(&sample.name) => idx,
                _ => {
                    // A sample without metadata is its own untyped family.
                    families.push(Family::new(&sample.name));
                    by_name.insert(sample.name.clone(), families.len() - 1);
                    families.len() - 1
                }
            },
        };
        current = Some(idx);
        families[idx].samples.push(sample);
    }
    if format == Format::OpenMetrics && !eof {
        return Err(ParseError { line: text.lines().count(), msg: "OpenMetrics data does not end with # EOF".into() });
    }
    Ok(families)
}

fn valid_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

fn unescape_help(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A cursor over one line's bytes.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn token(&mut self) -> &'a str {
        self.take_while(|c| c != b' ' && c != b'\t')
    }

    fn name(&mut self) -> &'a str {
        self.take_while(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at column {}", c as char, self.pos + 1))
        }
    }

    /// `{name="value",...}` with the text format's escapes; a trailing comma is allowed.
    fn labels(&mut self) -> Result<Labels, String> {
        self.expect(b'{')?;
        let mut out = Labels::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(out);
            }
            let name = self.name();
            if name.is_empty() || name.as_bytes()[0].is_ascii_digit() || name.contains(':') {
                return Err(format!("invalid label name at column {}", self.pos + 1));
            }
            self.skip_ws();
            self.expect(b'=')?;
            self.skip_ws();
            self.expect(b'"')?;
            let value = self.quoted()?;
            if out.iter().any(|(k, _)| k == name) {
                return Err(format!("duplicate label {name:?}"));
            }
            out.push((name.to_string(), value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at column {}", self.pos + 1)),
            }
        }
    }

    /// The rest of a quoted string, after its opening quote.
    fn quoted(&mut self) -> Result<String, String> {
        let bytes = self.s.as_bytes();
        let start = self.pos;
        // Fast path: no escapes.
        while let Some(&c) = bytes.get(self.pos) {
            match c {
                b'"' => {
                    let v = self.s[start..self.pos].to_string();
                    self.pos += 1;
                    return Ok(v);
                }
                b'\\' => break,
                _ => self.pos += 1,
            }
        }
        let mut out = self.s[start..self.pos].to_string();
        while let Some(&c) = bytes.get(self.pos) {
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = bytes.get(self.pos).copied();
                    self.pos += 1;
                    match e {
                        Some(b'n') => out.push('\n'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'"') => out.push('"'),
                        _ => return Err("invalid escape in label value".into()),
                    }
                }
                _ => {
                    // Copy a whole UTF-8 character.
                    let ch_start = self.pos - 1;
                    let ch = self.s[ch_start..].chars().next().unwrap_or('\u{fffd}');
                    out.push(ch);
                    self.pos = ch_start + ch.len_utf8();
                }
            }
        }
        Err("unterminated label value".into())
    }
}

fn parse_value(s: &str) -> Result<f64, String> {
    // Rust accepts "inf"/"infinity"/"nan" in any case, like Go's ParseFloat.
    s.parse::<f64>().map_err(|_| format!("invalid value {s:?}"))
}

fn parse_sample(line: &str, format: Format) -> Result<Sample, String> {
    let mut c = Cursor { s: line, pos: 0 };
    c.skip_ws();
    let name = c.name();
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name at column {}", c.pos + 1));
    }
    let labels = if c.peek() == Some(b'{') { c.labels()? } else { Labels::new() };
    if !c.skip_ws() {
        return Err(format!("expected a space before the value of {name}"));
    }
    let value = parse_value(c.token())?;
    c.skip_ws();
    let mut timestamp_ms = None;
    if c.peek().is_some() && c.peek() != Some(b'#') {
        let ts = c.token();
        timestamp_ms = Some(match format {
            Format::Text => ts.parse::<i64>().map_err(|_| format!("invalid timestamp {ts:?}"))?,
            Format::OpenMetrics => {
                let secs = parse_value(ts).map_err(|_| format!("invalid timestamp {ts:?}"))?;
                (secs * 1000.0).round() as i64
            }
        });
        c.skip_ws();
    }
    let mut exemplar = None;
    if c.peek() == Some(b'#') {
        if format != Format::OpenMetrics {
            return Err("unexpected '#' after the value".into());
        }
        c.pos += 1;
        c.skip_ws();
        let labels = c.labels()?;
        c.skip_ws();
        let value = parse_value(c.token())?;
        c.skip_ws();
        let timestamp = match c.token() {
            "" => None,
            t => Some(parse_value(t)?),
        };
        exemplar = Some(Exemplar { labels, value, timestamp });
        c.skip_ws();
    }
    if c.peek().is_some() {
        return Err(format!("unexpected text at column {}", c.pos + 1));
    }
    Ok(Sample { name: name.to_string(), labels, value, timestamp_ms, exemplar })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_with_types_help_and_escapes() {
        let text = "# HELP http_requests_total The total \\\\ number\\n of requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\n\
http_requests_total{method=\"post\",path=\"a\\\"b\\\\c\\nd\"} 3\n\
# a comment\n\
\n\
metric_without_timestamp_and_labels 12.47\n\
# TYPE rpc_duration_seconds summary\n\
rpc_duration_seconds{quantile=\"0.5\"} 4773\n\
rpc_duration_seconds_sum 1.7560473e+07\n\
rpc_duration_seconds_count 2693\n\
# TYPE h histogram\n\
h_bucket{le=\"0.05\"} 24054\n\
h_bucket{le=\"+Inf\"} 144320\n\
h_sum 53423\n\
h_count 144320\n\
something_weird{problem=\"division by zero\"} +Inf -3982045\n";
        let f = parse(text, Format::Text).unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(f[0].name, "http_requests_total");
        assert_eq!(f[0].mtype, MetricType::Counter);
        assert_eq!(f[0].help, "The total \\ number\n of requests.");
        assert_eq!(f[0].samples.len(), 2);
        assert_eq!(f[0].samples[0].timestamp_ms, Some(1395066363000));
        assert_eq!(f[0].samples[0].labels, vec![("method".into(), "post".into()), ("code".into(), "200".into())]);
        assert_eq!(f[0].samples[1].label("path"), Some("a\"b\\c\nd"));
        assert_eq!(f[1].mtype, MetricType::Unknown);
        assert_eq!(f[1].samples[0].value, 12.47);
        assert_eq!(f[2].mtype, MetricType::Summary);
        assert_eq!(f[2].samples.len(), 3);
        assert_eq!(f[3].mtype, MetricType::Histogram);
        assert_eq!(f[3].samples.len(), 4);
        assert!(f[4].samples[0].value.is_infinite());
        assert_eq!(f[4].samples[0].timestamp_ms, Some(-3982045));
    }

    #[test]
    fn openmetrics_with_units_created_exemplars_and_eof() {
        let text = "# TYPE foo counter\n\
# UNIT foo seconds\n\
# HELP foo Some help.\n\
foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
foo_created{a=\"b\"} 1520430000.123\n\
# TYPE bar histogram\n\
bar_bucket{le=\"1\"} 2 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\"} 0.5 1520879607.1\n\
bar_bucket{le=\"+Inf\"} 3\n\
bar_count 3\n\
bar_sum 4.5\n\
# EOF\n";
        let f = parse(text, Format::OpenMetrics).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].unit, "seconds");
        assert_eq!(f[0].samples.len(), 2);
        assert_eq!(f[0].samples[0].timestamp_ms, Some(1520879607789));
        let ex = f[0].samples[0].exemplar.as_ref().unwrap();
        assert_eq!(ex.value, 0.67);
        assert_eq!(ex.timestamp, None);
        assert_eq!(f[0].samples[1].name, "foo_created");
        let ex = f[1].samples[0].exemplar.as_ref().unwrap();
        assert_eq!(ex.labels[1], ("span_id".into(), "b7ad6b7169203331".into()));
        assert_eq!(ex.timestamp, Some(1520879607.1));
    }

    #[test]
    fn openmetrics_requires_eof_and_nothing_after_it() {
        assert!(parse("a 1\n", Format::OpenMetrics).unwrap_err().msg.contains("# EOF"));
        assert!(parse("a 1\n# EOF\nb 2\n", Format::OpenMetrics).unwrap_err().msg.contains("after # EOF"));
    }

    #[test]
    fn malformed_lines_name_the_line() {
        for (text, want) in [
            ("ok 1\nbad{a=\"b} 1\n", "unterminated"),
            ("ok 1\nbad 1x\n", "invalid value"),
            ("ok 1\n0bad 1\n", "invalid metric name"),
            ("ok 1\nbad{a=\"1\",a=\"2\"} 1\n", "duplicate label"),
            ("ok 1\nbad{a=\"\\q\"} 1\n", "invalid escape"),
            ("ok 1\nbad 1 notatime\n", "invalid timestamp"),
            ("ok 1\n# TYPE x widget\n", "unknown metric type"),
            ("ok 1\nbad 1 2 3\n", "unexpected text"),
        ] {
            let e = parse(text, Format::Text).unwrap_err();
            assert_eq!(e.line, 2, "{text}");
            assert!(e.msg.contains(want), "{text}: {}", e.msg);
        }
    }

    #[test]
    fn mangled_input_never_panics() {
        // Every prefix, and every single-byte corruption, of two real pages: errors are fine, panics are not.
        let pages = [
            include_str!("../../../tests/fixtures/vllm-metrics.prom"),
            "# TYPE a counter\n# UNIT a s\na_total{x=\"é\\\"\\n\"} 1 1.5 # {trace_id=\"ab\"} 2 3\na_created 4\n# EOF\n",
        ];
        let junk = [b'"', b'\\', b'{', b'}', b',', b'=', b'#', b' ', b'\n', 0xC3, 0xFF, b'e', b'+', b'-'];
        for page in pages {
            let bytes = page.as_bytes();
            for cut in 0..bytes.len().min(600) {
                if let Ok(t) = std::str::from_utf8(&bytes[..cut]) {
                    let _ = parse(t, Format::Text);
                    let _ = parse(t, Format::OpenMetrics);
                }
            }
            for i in (0..bytes.len()).step_by(7) {
                for j in junk {
                    let mut b = bytes.to_vec();
                    b[i] = j;
                    if let Ok(t) = std::str::from_utf8(&b) {
                        let _ = parse(t, Format::Text);
                        let _ = parse(t, Format::OpenMetrics);
                    }
                }
            }
        }
    }

    #[test]
    fn unicode_label_values_survive() {
        let f = parse("m{v=\"héllo \\\"wörld\\\"\"} 1\n", Format::Text).unwrap();
        assert_eq!(f[0].samples[0].label("v"), Some("héllo \"wörld\""));
    }

    #[test]
    fn content_type_picks_the_format() {
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_content_type("text/plain; version=0.0.4"), Format::Text);
        assert_eq!(Format::from_content_type(""), Format::Text);
    }

    #[test]
    fn fixtures_parse() {
        let dcgm = include_str!("../../../tests/fixtures/dcgm-exporter.prom");
        let f = parse(dcgm, Format::Text).unwrap();
        let util = f.iter().find(|f| f.name == "DCGM_FI_DEV_GPU_UTIL").unwrap();
        assert_eq!(util.mtype, MetricType::Gauge);
        assert_eq!(util.samples.iter().map(|s| s.value).collect::<Vec<_>>(), vec![87.0, 99.0]);
        let vllm = include_str!("../../../tests/fixtures/vllm-metrics.prom");
        let f = parse(vllm, Format::Text).unwrap();
        let h = f.iter().find(|f| f.name == "vllm:time_to_first_token_seconds").unwrap();
        assert_eq!(h.mtype, MetricType::Histogram);
        assert_eq!(h.samples.len(), 13);
    }
}
